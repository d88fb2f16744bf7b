"""The demo downstream configs, end to end on CPU: a real 2-iteration demo
pre-training, its extracted backbone, then 2-3 iterations and an evaluation of each
downstream task through tools/train.py (and tools/test.py), with zero missing
backbone keys in every load report."""
import json
import re
import runpy
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / 'configs' / 'benchmarks' / 'demo'
FAST = ['--no-persistent-workers', '--cfg-options', 'train_dataloader.batch_size=2',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'test_dataloader.num_workers=0', 'default_hooks.logger.interval=1']
CONFIGS = {
    # config: (library, declared-new keys, schedule override, metric pattern)
    'swin-demo-hybrid_1xb64-ft-3e_fashion-cls-64px.py':
    ('mmpretrain', 0, 'train_cfg.max_epochs=1', r'accuracy/top1: ([\d.]+)'),
    'swin-demo-hybrid_1xb64-linear-3e_fashion-cls-64px.py':
    ('mmpretrain', 0, 'train_cfg.max_epochs=1', r'accuracy/top1: ([\d.]+)'),
    'mask-rcnn_swin-demo-hybrid_fpn_1xb8-1e_fashion-scenes-128px.py':
    ('mmdet', 6, 'train_cfg.max_epochs=1', r'coco/segm_mAP: ([-\d.]+)'),
    'upernet_swin-demo-hybrid_1xb8-500it_fashion-scenes-128px.py':
    ('mmseg', 6, 'train_cfg.max_iters=2 train_cfg.val_interval=2',
     r'mIoU: ([\d.]+)'),
}


def run_tool_here(tool, args, monkeypatch):
    """Run ``tools/<tool>`` in this process (the libraries are imported once)."""
    monkeypatch.setattr(sys, 'argv', [tool] + [str(a) for a in args])
    runpy.run_path(str(REPO / 'tools' / tool), run_name='__main__')


def read_log(work_dir):
    logs = sorted(Path(work_dir).glob('*/*.log'))
    assert logs, f'no log under {work_dir}'
    return logs[-1].read_text()


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_train_and_evaluate(name, demo_workspace, monkeypatch):
    library, num_new, schedule, metric = CONFIGS[name]
    monkeypatch.chdir(demo_workspace)
    work_dir = demo_workspace / 'work_dirs' / Path(name).stem
    run_tool_here('train.py', [DEMO / name, '--work-dir', work_dir] + FAST +
                  schedule.split(), monkeypatch)
    log = read_log(work_dir)
    report = re.search(rf'HybridSwinTransformer \({library}\) initialised from '
                       r'work_dirs/hybrid_swin-demo_fashion-64px/backbone.pth: '
                       r'loaded (\d+) keys, missing (\d+), unexpected (\d+), '
                       r'new on purpose (\d+)', log)
    assert report, log[-3000:]
    assert report.groups() == ('119', '0', '0', str(num_new))
    iters = re.findall(r'(?:Epoch|Iter)\(train\)\s+(?:\[\d+\])?\[\s*(\d+)/', log)
    assert 2 <= int(iters[-1]) <= 3, iters
    value = float(re.findall(metric, log)[-1])
    assert -1 <= value <= 100
    print(f'{name}: {metric.split(":")[0]} = {value}')


def test_test_tool_evaluates_a_downstream_checkpoint(demo_workspace, monkeypatch,
                                                     tmp_path):
    name = 'upernet_swin-demo-hybrid_1xb8-500it_fashion-scenes-128px.py'
    checkpoint = demo_workspace / 'work_dirs' / Path(name).stem / 'iter_2.pth'
    if not checkpoint.is_file():  # this test alone: train first
        test_train_and_evaluate(name, demo_workspace, monkeypatch)
    monkeypatch.chdir(demo_workspace)
    out = tmp_path / 'metrics.json'
    run_tool_here('test.py', [DEMO / name, checkpoint, '--work-dir', tmp_path / 'test',
                              '--out', out, '--cfg-options',
                              'test_dataloader.num_workers=0',
                              'test_dataloader.persistent_workers=False'], monkeypatch)
    metrics = json.loads(out.read_text())
    assert set(metrics) >= {'aAcc', 'mIoU', 'mAcc'}
    assert 0 <= metrics['mIoU'] <= 100
