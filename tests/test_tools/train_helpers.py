"""Run tools/train.py on a tiny version of the demo pre-training config."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / 'configs' / 'pretrain' / 'hybrid_swin-demo_fashion-64px.py'

TINY_CONFIG = '''
_base_ = [{base!r}]
data_root = {data_root!r}
embed_dims = 16
max_iters = {max_iters}
train_dataloader = dict(
    _delete_=True, batch_size={batch_size}, num_workers={num_workers},
    persistent_workers={persistent},
    sampler=dict(type='RatioSampler', ratios=[3, 1], shuffle=True, seed=0),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='ConcatDataset', ignore_keys=['classes'], datasets=[
        dict(type='PartialMultiLabelDataset', data_root=data_root,
             ann_file='scenes/meta/train_partial.json', data_prefix='scenes/',
             pipeline={{{{_base_.train_pipeline}}}}),
        dict(type='UnlabelledImageFolder', data_root=data_root,
             data_prefix='scenes/unlabelled', pipeline={{{{_base_.train_pipeline}}}}),
    ]))
model = dict(
    backbone=dict(arch=dict(_delete_=True, embed_dims=embed_dims, depths=[1, 1, 1, 1],
                            num_heads=[1, 2, 2, 4]), drop_path_rate={drop_path}),
    mim=dict(neck=dict(in_channels=embed_dims * 8)),
    contrastive=dict(neck=dict(in_channels=embed_dims * 8, hid_channels=32,
                               out_channels=16),
                     head=dict(predictor=dict(in_channels=16, hid_channels=32,
                                              out_channels=16))),
    multilabel=dict(head=dict(in_channels=embed_dims * 8)))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_iters, eta_min=1e-5,
                        by_epoch=False, begin=0, end=max_iters)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval={ckpt_interval}, by_epoch=False,
                                     max_keep_ckpts=10))
randomness = dict(seed=0, deterministic=True)
'''

# Learned task weights (``UncertaintyTaskWeights``) instead of the recipe's fixed
# ones: a model with trained balancer state, which checkpoints, resumes and
# distributed runs must carry like any other parameter.
LEARNED_TASK_WEIGHTS = '''
model['loss_balancer'] = dict(_delete_=True, type='UncertaintyTaskWeights')
'''


def write_tiny_config(path, data_root, max_iters=4, batch_size=4, ckpt_interval=2,
                      extra='', num_workers=0, drop_path=0.):
    """Write a tiny config (embed 16, depths 1-1-1-1) inheriting the demo one."""
    text = TINY_CONFIG.format(base=str(DEMO_CONFIG), data_root=str(data_root) + '/',
                              max_iters=max_iters, batch_size=batch_size,
                              ckpt_interval=ckpt_interval, num_workers=num_workers,
                              persistent=num_workers > 0, drop_path=drop_path)
    Path(path).write_text(text + extra)
    return Path(path)


def run_tool(args, timeout=600, env=None, check=True):
    """Run ``tools/<args[0]>`` with the venv's python from the repo root, on the
    CPU also on a GPU machine (the exact-resume and equivalence claims are CPU
    claims)."""
    full_env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='1',
                    HF_HUB_OFFLINE='1', PYTHON=sys.executable, CUDA_VISIBLE_DEVICES='')
    full_env.update(env or {})
    if args[0].endswith('.sh'):
        cmd = ['bash', str(REPO / 'tools' / args[0])] + list(args[1:])
    else:
        cmd = [sys.executable, str(REPO / 'tools' / args[0])] + list(args[1:])
    proc = subprocess.run(cmd, cwd=REPO, env=full_env, capture_output=True, text=True,
                          timeout=timeout)
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc
