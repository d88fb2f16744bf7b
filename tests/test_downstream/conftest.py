"""Session fixtures of the downstream tests: a Swin-B backbone checkpoint, and a
workspace with a tiny demo world and a real 2-iteration demo pre-training."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmpretrain.models.selfsup.simmim import SimMIMSwinTransformer

from mmhybrid.downstream import extract_backbone
from tests.test_downstream.pretrain_checkpoints import pretrain_state_dict

REPO = Path(__file__).resolve().parents[2]
# where the demo downstream configs read the backbone (relative to the cwd)
DEMO_BACKBONE = Path('work_dirs/hybrid_swin-demo_fashion-64px/backbone.pth')


def run_tool(args, cwd):
    """Run ``tools/<args[0]>`` in a subprocess; return its stdout + stderr."""
    proc = subprocess.run([sys.executable, str(REPO / 'tools' / args[0])] +
                          [str(a) for a in args[1:]], cwd=cwd, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope='session')
def swin_b_checkpoint(tmp_path_factory):
    """The headline pre-training Swin-B (window 6, 192 px), randomly initialised,
    through extract_backbone."""
    backbone = SimMIMSwinTransformer(
        arch='base', img_size=192, stage_cfgs=dict(block_cfgs=dict(window_size=6)))
    out, _ = extract_backbone(dict(state_dict=pretrain_state_dict(backbone)))
    path = tmp_path_factory.mktemp('swin_b') / 'backbone.pth'
    torch.save(out, path)
    return path


@pytest.fixture(scope='session')
def demo_workspace(tmp_path_factory):
    """A folder laid out as the demo expects: ``data/fashion_demo`` (a tiny build),
    ``work_dirs/hybrid_swin-demo_fashion-64px/iter_2.pth`` from 2 iterations of
    configs/pretrain/hybrid_swin-demo_fashion-64px.py and, extracted from it by
    tools/model_converters/extract_backbone.py, the backbone the demo downstream
    configs read."""
    from mmhybrid.datasets.fashion_demo import DemoParams, build_fashion_demo
    root = tmp_path_factory.mktemp('demo_workspace')
    build_fashion_demo(str(root / 'data' / 'fashion_demo'),
                       DemoParams(num_train=6, num_val=2, num_unlabelled=2,
                                  num_cls_train=4, num_cls_test=4, num_objects=10),
                       log=lambda msg: None)
    run_tool(['train.py', REPO / 'configs/pretrain/hybrid_swin-demo_fashion-64px.py',
              '--no-persistent-workers', '--cfg-options', 'train_cfg.max_iters=2',
              'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
              'default_hooks.checkpoint.interval=2'], cwd=root)
    pretrain = root / 'work_dirs/hybrid_swin-demo_fashion-64px/iter_2.pth'
    log = run_tool(['model_converters/extract_backbone.py', pretrain, DEMO_BACKBONE],
                   cwd=root)
    assert 'kept 119 backbone keys' in log
    return root
