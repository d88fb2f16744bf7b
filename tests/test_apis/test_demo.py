"""The demo end to end at toy size: both backbones through every evaluation, the
table, the pictures."""
import dataclasses
import io
import json
import math
import os
import re
import shutil
import sys

import pytest

from mmhybrid.apis import demo

TINY_PRETRAIN = [
    'train_cfg.max_iters=2', 'train_dataloader.batch_size=4',
    'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
    'default_hooks.checkpoint.interval=2', 'custom_hooks.2.interval=1',
    'custom_hooks.2.num_bank=20', 'custom_hooks.2.num_query=10',
    'custom_hooks.2.num_label=4', 'param_scheduler=[]', 'default_hooks.logger.interval=1']
LOADERS = ['train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
           'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
           'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
           'param_scheduler=[]', 'default_hooks.logger.interval=1']
TINY = {
    'finetune': ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
                 'train_dataloader.batch_size=4', 'default_hooks.checkpoint.interval=1'],
    'iterations': ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                   'train_dataloader.batch_size=2', 'default_hooks.checkpoint.interval=2'],
}


@pytest.fixture
def demo_cwd(tiny_demo, tmp_path, monkeypatch):
    (tmp_path / 'data').mkdir()
    (tmp_path / 'data' / 'fashion_demo').symlink_to(tiny_demo)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '')
    monkeypatch.setenv('OMP_NUM_THREADS', '2')
    return tmp_path


def test_demo_compares_pretrained_with_scratch_and_draws(demo_cwd):
    # the epoch-based fine-tune vs the iteration-based dense tasks, by config
    # (the dense rows say 'fine-tuned' too)
    tasks = [dataclasses.replace(t, options=TINY[
        'finetune' if t.config == demo.FINETUNE_CONFIG else 'iterations'] + LOADERS)
        for t in demo.DOWNSTREAM]
    stream, messages = io.StringIO(), []
    text = demo.run_demo('data/fashion_demo', 'work_dirs/demo', TINY_PRETRAIN,
                         python=sys.executable, log=messages.append, stream=stream,
                         tasks=tasks, probe_limit=20)
    assert (demo_cwd / 'work_dirs/demo/results.md').read_text() == text

    # every downstream row has both backbones and their difference
    rows = [line.split('|')[1:-1] for line in text.splitlines()
            if line.startswith('| ') and ('top-1' in line or ' AP ' in line or 'mIoU' in line)]
    assert {r[1].strip() for r in rows} == {'kNN top-1', 'linear top-1', 'top-1', 'box AP',
                                           'mask AP', 'mIoU'}
    for _, _, pre, scratch, diff in rows:
        pre, scratch, diff = float(pre), float(scratch), float(diff)
        assert math.isfinite(pre) and math.isfinite(scratch)
        assert diff == pytest.approx(pre - scratch, abs=0.01)
    # from scratch means a randomly initialised backbone, not the checkpoint
    for task in tasks:
        base = os.path.splitext(os.path.basename(task.config))[0]
        pre_log = (demo_cwd / f'work_dirs/demo/{base}.log').read_text()
        scratch_log = (demo_cwd / f'work_dirs/demo/{base}_scratch.log').read_text()
        assert re.search(r'initialised from work_dirs/demo/backbone.pth: loaded \d+ keys',
                         pre_log), base
        assert 'initialised from' not in scratch_log and 'init_cfg=None' in scratch_log
        # the table reports the test split: no run spends time validating
        for run_dir in (base, f'{base}_scratch'):
            metrics = json.loads(
                (demo_cwd / f'work_dirs/demo/{run_dir}/final_metrics.json').read_text())
            assert list(metrics) == ['test'], run_dir

    # the progress line walked through every stage, the pictures exist
    # (pre-training, export, a probe stage per backbone, one stage per training
    # task in which both backbones run at once)
    stages = re.findall(r'stage (\d+)/(\d+)', stream.getvalue())
    assert {int(k) for k, _ in stages} == set(range(1, 8)) and stages[0][1] == '7'
    assert re.search(r'stage 7/7 UperNet.* \| pre-trained .* \| from scratch ',
                     stream.getvalue())
    for picture in demo.PICTURES:
        assert (demo_cwd / 'work_dirs/demo' / picture).stat().st_size > 1000, picture
        assert f'work_dirs/demo/{picture}' in text
    assert any('probe/knn_top1' in line for line in text.splitlines())


def test_dense_benchmark_mode_runs_the_benchmarks_frozen_evaluations(demo_cwd):
    from mmhybrid.benchmarks.protocol import EVALUATIONS
    # the mode's dense stages are the benchmark's own evaluations, not copies
    benchmark = {e.name: e for e in EVALUATIONS}
    finetune, detection, segmentation = demo.DENSE_MODES['benchmark']
    assert finetune == demo.DOWNSTREAM[0]
    assert detection.config == benchmark['detection'].config
    assert segmentation.config == benchmark['segmentation'].config
    assert set(detection.metrics.values()) == set(benchmark['detection'].metrics.values())
    assert detection.options == [] and segmentation.options == []  # full schedules

    tasks = [dataclasses.replace(t, options=TINY['iterations'] + LOADERS)
             for t in (detection, segmentation)]
    text = demo.run_demo('data/fashion_demo', 'work_dirs/demo', TINY_PRETRAIN,
                         python=sys.executable, log=lambda _: None, stream=io.StringIO(),
                         tasks=tasks, probe_limit=20)
    rows = {tuple(c.strip() for c in line.split('|')[1:3]) for line in text.splitlines()
            if 'frozen backbone' in line and ('AP' in line or 'mIoU' in line)}
    assert rows == {('Mask R-CNN, frozen backbone (scenes)', 'box AP'),
                    ('Mask R-CNN, frozen backbone (scenes)', 'mask AP'),
                    ('UperNet, frozen backbone (scenes)', 'mIoU')}
    for task in tasks:
        base = os.path.splitext(os.path.basename(task.config))[0]
        assert 'frozen' in base
        log = (demo_cwd / f'work_dirs/demo/{base}.log').read_text()
        assert 'initialised from work_dirs/demo/backbone.pth' in log, base


def test_dense_v2_mode_trains_the_v2_protocols_heads_on_scenes_v2(
        tiny_demo_v2, tmp_path, monkeypatch):
    from mmhybrid.benchmarks.protocol import evaluations_for
    v2 = {e.name: e for e in evaluations_for('v2')}
    finetune, detection, segmentation = demo.DENSE_MODES['v2']
    assert finetune == demo.DOWNSTREAM[0]
    assert detection.config == v2['detection'].config
    assert segmentation.config == v2['segmentation'].config
    assert f'train_cfg.max_iters={demo.V2_DEMO_ITERS}' in detection.options
    assert f'param_scheduler.1.end={demo.V2_DEMO_ITERS}' in segmentation.options
    for task in (detection, segmentation):
        assert task.name in demo.EXPECTED_SECONDS

    tasks = [dataclasses.replace(t, options=TINY['iterations'] + LOADERS)
             for t in (detection, segmentation)]
    _refuses_a_world_without_its_scenes_then_trains_on_them(
        tiny_demo_v2, 'v2', tasks, tmp_path, monkeypatch)


def _refuses_a_world_without_its_scenes_then_trains_on_them(world, scenes, tasks,
                                                            tmp_path, monkeypatch):
    """The demo with ``tasks`` (dense stages reading ``scenes_<scenes>/``):
    refused before anything trains in a copy of ``world`` without that folder, then
    run in ``world``; its dense rows, logs and pictures checked."""
    folder = f'scenes_{scenes}'
    (tmp_path / 'data').mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '')
    monkeypatch.setenv('OMP_NUM_THREADS', '2')
    shutil.copytree(world, tmp_path / 'data' / 'fashion_demo',
                    ignore=shutil.ignore_patterns(folder))
    with pytest.raises(FileNotFoundError, match=f'--dense-scenes {scenes}'):
        demo.run_demo('data/fashion_demo', 'work_dirs/demo', TINY_PRETRAIN,
                      tasks=tasks, log=lambda _: None, stream=io.StringIO())
    assert not (tmp_path / 'work_dirs/demo/pretrain').exists()
    shutil.rmtree(tmp_path / 'data' / 'fashion_demo')
    (tmp_path / 'data' / 'fashion_demo').symlink_to(world)

    text = demo.run_demo('data/fashion_demo', 'work_dirs/demo', TINY_PRETRAIN,
                         python=sys.executable, log=lambda _: None, stream=io.StringIO(),
                         tasks=tasks, probe_limit=20)
    rows = {tuple(c.strip() for c in line.split('|')[1:3]) for line in text.splitlines()
            if folder in line and ('AP' in line or 'mIoU' in line)}
    detection, segmentation = tasks
    assert rows == {(detection.name, 'box AP'), (detection.name, 'mask AP'),
                    (segmentation.name, 'mIoU')}
    for task in tasks:
        base = os.path.splitext(os.path.basename(task.config))[0]
        log = (tmp_path / f'work_dirs/demo/{base}.log').read_text()
        assert 'initialised from work_dirs/demo/backbone.pth' in log, base
        assert f'{folder}/test' in log, base
    for picture in ('detections.png', 'segmentations.png'):
        assert (tmp_path / 'work_dirs/demo' / picture).stat().st_size > 1000


def test_dense_v3_finetuned_mode_fine_tunes_the_v3_protocols_models_on_scenes_v3(
        tiny_demo_v3, tmp_path, monkeypatch):
    from mmhybrid.benchmarks.protocol import evaluations_for
    v3 = {e.name: e for e in evaluations_for('v3', finetuned_detection_iters=4000,
                                             finetuned_detection_heads='gn-all')}
    finetune, detection, segmentation = demo.DENSE_MODES['v3-finetuned']
    assert finetune == demo.DOWNSTREAM[0]
    # the benchmark's own fine-tuned evaluations, the detector's schedule halved
    # with its warm-up kept
    assert detection.config == v3['detection-finetuned'].config
    assert segmentation.config == v3['segmentation-finetuned'].config
    n = demo.V3_FINETUNED_DEMO_ITERS
    assert detection.options == [
        f'train_cfg.max_iters={n}', f'default_hooks.checkpoint.interval={n}',
        'param_scheduler.0.end=50', f'param_scheduler.1.end={n}',
        f'param_scheduler.1.milestones=[{int(0.8 * n)}]']
    assert segmentation.options == []
    for task in (detection, segmentation):
        assert task.name in demo.EXPECTED_SECONDS and task.scenes == 'v3'

    # two iterations leave the GroupNorm detector's scores below mmdet's 0.05, and
    # CocoMetric reports nothing for no boxes: keep every box to test the wiring
    tasks = [dataclasses.replace(detection, options=TINY['iterations'] + LOADERS + [
                 'model.test_cfg.rcnn.score_thr=0.0']),
             dataclasses.replace(segmentation, options=TINY['iterations'] + LOADERS)]
    _refuses_a_world_without_its_scenes_then_trains_on_them(
        tiny_demo_v3, 'v3', tasks, tmp_path, monkeypatch)
    # the detector trains its GroupNorm FPN and heads, and the backbone (not frozen)
    base = os.path.splitext(os.path.basename(detection.config))[0]
    log = (tmp_path / f'work_dirs/demo/{base}.log').read_text()
    assert "type='GN'" in log and 'Shared4Conv1FCBBoxHead' in log
    assert 'frozen_stages=-1' in log


def test_a_metric_the_run_did_not_report_is_an_error_naming_file_and_log(tmp_path):
    task = demo.V3_FINETUNED_DENSE[0]
    path = tmp_path / 'final_metrics.json'
    path.write_text(json.dumps({'test': {'coco/bbox_mAP': 0.25, 'coco/segm_mAP': 0.3}}))
    assert demo._test_metrics(str(path), task, 'run.log') == pytest.approx(
        {'box AP': 25., 'mask AP': 30.})
    # mmdet's CocoMetric reports nothing when the detector kept no box
    path.write_text(json.dumps({'test': {}}))
    with pytest.raises(KeyError, match=r"final_metrics.json has no \['coco/bbox_mAP', "
                       r"'coco/segm_mAP'\] \(it holds \[\]\).*see run.log"):
        demo._test_metrics(str(path), task, 'run.log')
