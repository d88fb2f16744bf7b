"""The demo downstream configs, end to end on CPU: a real 2-iteration demo
pre-training, its extracted backbone, then 2-3 iterations and an evaluation of each
downstream task through tools/train.py (and tools/test.py), with zero missing
backbone keys in every load report.

After 2-3 iterations the metrics are near chance and vary with the data, so their
values are not compared with a bound; what is checked: every metric is there,
finite and in its range (COCO AP a fraction, the others percent), Mask R-CNN's
evaluation covered every validation image and scored against their annotations
(-1 exactly for the COCO size ranges without ground truth), the linear probe
leaves the pre-trained backbone bit for bit as loaded while the other runs train
all of it, and tools/test.py on a saved checkpoint reproduces the metrics of the
validation run in training."""
import json
import math
import re
import runpy
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / 'configs' / 'benchmarks' / 'demo'
BACKBONE = 'work_dirs/hybrid_swin-demo_fashion-64px/backbone.pth'
FAST = ['--no-persistent-workers', '--cfg-options', 'train_dataloader.batch_size=2',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'test_dataloader.num_workers=0', 'default_hooks.logger.interval=1']
CONFIGS = {
    # config: (library, declared-new keys, schedule override, validation metrics,
    #          backbone trained)
    'swin-demo-hybrid_1xb64-ft-3e_fashion-cls-64px.py':
    ('mmpretrain', 0, 'train_cfg.max_epochs=1', ['accuracy/top1'], True),
    'swin-demo-hybrid_1xb64-linear-3e_fashion-cls-64px.py':
    ('mmpretrain', 0, 'train_cfg.max_epochs=1', ['accuracy/top1'], False),
    'mask-rcnn_swin-demo-hybrid_fpn_1xb8-1e_fashion-scenes-128px.py':
    ('mmdet', 6, 'train_cfg.max_epochs=1', ['coco/bbox_mAP', 'coco/segm_mAP'], True),
    'upernet_swin-demo-hybrid_1xb8-500it_fashion-scenes-128px.py':
    ('mmseg', 6, 'train_cfg.max_iters=2 train_cfg.val_interval=2',
     ['aAcc', 'mIoU', 'mAcc'], True),
}


def run_tool_here(tool, args, monkeypatch):
    """Run ``tools/<tool>`` in this process (the libraries are imported once)."""
    monkeypatch.setattr(sys, 'argv', [tool] + [str(a) for a in args])
    runpy.run_path(str(REPO / 'tools' / tool), run_name='__main__')


def read_log(work_dir):
    logs = sorted(Path(work_dir).glob('*/*.log'))
    assert logs, f'no log under {work_dir}'
    return logs[-1].read_text()


def validation_metrics(work_dir, key):
    """The last validation results (with ``key``) of the latest run in work_dir."""
    scalars = sorted(Path(work_dir).glob('*/vis_data/scalars.json'))
    assert scalars, f'no scalars.json under {work_dir}'
    records = [json.loads(line) for line in scalars[-1].read_text().splitlines()]
    results = [r for r in records if key in r]
    assert results, f'no {key} in {scalars[-1]}'
    return results[-1]


def last_checkpoint(work_dir):
    return Path((Path(work_dir) / 'last_checkpoint').read_text().strip())


def check_coco_evaluation(workspace, work_dir, name, log, metrics):
    """Every validation image went through the model, and COCOeval scored
    against the validation annotations: it gives -1 for a size range without
    ground truth, so an AP is >= 0 exactly for the ranges those hold."""
    from mmengine.config import Config
    cfg = Config.fromfile(str(work_dir / name))
    ann = json.loads((workspace / cfg.val_evaluator.ann_file).read_text())
    batches = -(-len(ann['images']) // cfg.val_dataloader.batch_size)
    seen = re.findall(r'Epoch\(val\) \[\d+\]\[\s*(\d+)/(\d+)\]', log)
    assert seen and seen[-1] == (str(batches), str(batches)), seen
    areas = [a['area'] for a in ann['annotations']]
    for size, (low, high) in dict(s=(0, 32**2), m=(32**2, 96**2),
                                  l=(96**2, 1e10)).items():
        has_gt = any(low <= a < high for a in areas)
        for kind in ('bbox', 'segm'):
            value = metrics[f'coco/{kind}_mAP_{size}']
            assert (value >= 0) == has_gt, (kind, size, value, has_gt)


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_train_and_evaluate(name, demo_workspace, monkeypatch):
    library, num_new, schedule, metric_keys, trains_backbone = CONFIGS[name]
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
    metrics = validation_metrics(work_dir, metric_keys[0])
    print(f'{name}: ' + ', '.join(f'{k} = {metrics.get(k)}' for k in metric_keys))
    assert all(math.isfinite(metrics[k]) for k in metric_keys), metrics
    # mmdet reports COCO AP as a fraction, mmpretrain and mmseg in percent
    top = 1 if library == 'mmdet' else 100
    assert all(0 <= metrics[k] <= top for k in metric_keys), metrics
    if library == 'mmdet':
        check_coco_evaluation(demo_workspace, work_dir, name, log, metrics)

    # the backbone after training vs the pre-trained one it was loaded from
    pretrained = torch.load(demo_workspace / BACKBONE, weights_only=False)['state_dict']
    trained = torch.load(last_checkpoint(work_dir), weights_only=False)['state_dict']
    assert set(pretrained) <= set(trained)
    unchanged = [k for k in pretrained if torch.equal(trained[k], pretrained[k])]
    if trains_backbone:  # every tensor updated
        assert unchanged == []
    else:  # linear probe: frozen, bit for bit as loaded
        assert len(unchanged) == len(pretrained) == 119


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
    # the test set is the validation set: the saved checkpoint gives the metrics
    # of the validation run at the end of training (mmseg rounds them to 0.01)
    val = validation_metrics(demo_workspace / 'work_dirs' / Path(name).stem, 'mIoU')
    for key in ('aAcc', 'mIoU', 'mAcc'):
        assert math.isfinite(metrics[key])
        assert metrics[key] == pytest.approx(val[key], abs=1e-4), (key, metrics, val)
