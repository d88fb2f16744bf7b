"""Step time and backbone passes of HybridPretrain's view modes vs single tasks.

Builds the model of a pre-training config (default: the CPU demo config), feeds
synthetic batches of the config's image size through ``train_step`` and prints,
per variant: online / momentum backbone passes per step (counted with forward
hooks), median step time, and the ratio to the MIM-only step.

    python benchmarks/pretrain_step_time.py [--config C] [--batch 32] [--steps 10]
"""
import argparse
import copy
import os
import statistics
import time

import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmhybrid  # noqa: F401

VARIANTS = [
    # name, model overrides
    ('mim-only', dict(contrastive=None, multilabel=None)),
    ('contrastive-only (MoCo v3)', dict(mim=None, multilabel=None, view_mode='separate')),
    ('multilabel-only', dict(mim=None, contrastive=None)),
    ('hybrid shared', dict(view_mode='shared', symmetric=False)),
    ('hybrid shared unmasked inputs', dict(view_mode='shared', label_input='unmasked',
                                           query_input='unmasked')),
    ('hybrid shared symmetric', dict(view_mode='shared', symmetric=True)),
    ('hybrid separate', dict(view_mode='separate')),
]


def make_batch(cfg, batch, img_size, num_classes):
    g = torch.Generator().manual_seed(0)
    views = [torch.randint(0, 255, (3, img_size, img_size), generator=g, dtype=torch.uint8)
             for _ in range(3 * batch)]
    mask_side = img_size // 4
    samples = []
    for i in range(batch):
        ds = DataSample(metainfo=dict(view_names=('masked', 'view1', 'view2')))
        ds.set_mask((torch.rand(mask_side, mask_side, generator=g) < 0.6).long())
        if i % 2 == 0:
            ds.set_gt_label([i % num_classes])
        samples.append(ds)
    # per-sample lists of views, as default_collate gives them
    inputs = [list(views[v::3]) for v in range(3)]
    return dict(inputs=[torch.stack(v) for v in inputs], data_samples=samples)


def select_views(data, views):
    """The batch with only ``views`` packed (the model refuses views it never
    reads), as ``HybridViews(views=...)`` would build it."""
    out = copy.deepcopy(data)
    out['inputs'] = [data['inputs'][VIEW_ORDER.index(v)] for v in views]
    for ds in out['data_samples']:
        ds.set_metainfo(dict(view_names=tuple(views)))
    return out


VIEW_ORDER = ('masked', 'view1', 'view2')


def count_passes(model, data):
    calls = dict(online=0, momentum=0)
    hooks = [model.backbone.register_forward_hook(
        lambda *a: calls.__setitem__('online', calls['online'] + 1))]
    if hasattr(model, 'momentum_encoder'):
        hooks.append(model.momentum_encoder.module[0].register_forward_hook(
            lambda *a: calls.__setitem__('momentum', calls['momentum'] + 1)))
    with torch.no_grad():
        model.loss(**model.data_preprocessor(copy.deepcopy(data), True))
    for h in hooks:
        h.remove()
    return calls['online'], calls['momentum']


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default='configs/pretrain/hybrid_swin-demo_fashion-64px.py')
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    cfg = Config.fromfile(args.config)
    img_size = cfg.model.backbone.img_size
    num_classes = cfg.model.multilabel.head.num_classes
    MessageHub.get_current_instance().update_info('max_iters', 1000)
    data = make_batch(cfg, args.batch, img_size, num_classes)
    print(f'config {args.config}: batch {args.batch}, {img_size} px, '
          f'torch threads {torch.get_num_threads()}')
    rows = []
    for name, override in VARIANTS:
        model_cfg = copy.deepcopy(cfg.model)
        model_cfg.update(override)
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            model = MODELS.build(model_cfg)
        model.train()
        model_data = select_views(data, model.required_views)
        online, momentum = count_passes(model, model_data)
        wrapper = build_optim_wrapper(model, dict(optimizer=dict(type='AdamW', lr=1e-4)))
        times = []
        for i in range(args.warmup + args.steps):
            start = time.perf_counter()
            model.train_step(copy.deepcopy(model_data), wrapper)
            if i >= args.warmup:
                times.append(time.perf_counter() - start)
        rows.append((name, online, momentum, statistics.median(times)))
    base = rows[0][3]
    print(f'{"variant":30s} {"online":>6s} {"moment.":>7s} {"step s":>8s} {"img/s":>7s} {"x mim":>6s}')
    for name, online, momentum, t in rows:
        print(f'{name:30s} {online:6d} {momentum:7d} {t:8.3f} {args.batch / t:7.1f} {t / base:6.2f}')


if __name__ == '__main__':
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    main()
