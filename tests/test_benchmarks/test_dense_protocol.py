"""The dense protocols v2 / v3 (issue #26; ``ablation.py --dense-scenes v2``): the
detection and segmentation evaluations move to scenes_v2/ with the backbone
frozen, the pre-training and the probes stay the same steps (reused from the
work directory), older protocols keep their records' hashes, and a data root
without the scene set is refused with the command that builds it. v3 also offers
the same heads fine-tuned end to end (issue #27), run only when named."""
import dataclasses
import json
import os
import subprocess
import sys

import pytest
from mmengine.config import Config

from mmhybrid.benchmarks.protocol import (DENSE_CONFIGS, EVALUATIONS,
                                          FINETUNED_DENSE_CONFIGS,
                                          FINETUNED_DENSE_METRICS, FULL,
                                          QUICK, Protocol, evaluations_for,
                                          finetuned_dense_evaluations)

from .test_ablation import REPO, run_ablation


def test_v2_moves_only_the_dense_evaluations_to_scenes_v2():
    v1, v2 = evaluations_for(''), evaluations_for('v2')
    assert v1 == EVALUATIONS
    assert [ev.name for ev in v2] == [ev.name for ev in v1]
    for old, new in zip(v1, v2):
        assert (new.metrics, new.options, new.scale) == (old.metrics, old.options,
                                                         old.scale)
        assert (new.config == old.config) == (old.name == 'finetune'), old.name
    for ev in v2[1:]:
        cfg = Config.fromfile(str(REPO / ev.config))
        assert cfg.model.backbone.frozen_stages == 4, ev.name
        assert cfg.train_cfg.max_iters == 1000, ev.name
        assert cfg.param_scheduler[-1].end == 1000, ev.name
        for loader, split in (('train', 'train'), ('val', 'val'), ('test', 'test')):
            text = str(cfg[f'{loader}_dataloader'].dataset)
            assert f'scenes_v2/{split}' in text and 'splits/' not in text, (
                ev.name, loader)
    with pytest.raises(ValueError, match="unknown dense scene set 'v9'"):
        evaluations_for('v9')


def test_v3_is_v2_on_larger_evaluation_splits():
    from mmhybrid.datasets.fashion_demo import DENSE_SCENE_STYLES
    v2, v3 = DENSE_SCENE_STYLES['v2'], DENSE_SCENE_STYLES['v3']
    assert dataclasses.replace(v3, num_val=v2.num_val, num_test=v2.num_test) == v2
    assert (v3.num_val, v3.num_test) == (4000, 4000)
    for ev2, ev3 in zip(evaluations_for('v2')[1:], evaluations_for('v3')[1:3]):
        cfg2 = Config.fromfile(str(REPO / ev2.config))
        cfg3 = Config.fromfile(str(REPO / ev3.config))
        # the same model and schedule; every split read from scenes_v3/
        for key in ('model', 'optim_wrapper', 'param_scheduler', 'train_cfg'):
            assert cfg3[key] == cfg2[key], (ev3.name, key)
        text2 = {k: str(cfg2[k]) for k in cfg2 if 'dataloader' in k or 'evaluator' in k}
        text3 = {k: str(cfg3[k]) for k in cfg3 if 'dataloader' in k or 'evaluator' in k}
        assert text3 == {k: v.replace('scenes_v2/', 'scenes_v3/')
                         for k, v in text2.items()}, ev3.name
        assert 'scenes_v2' not in str(text3)


def test_protocol_field_keeps_older_hashes_and_checks_its_value():
    assert 'dense_scenes' not in FULL.as_dict()  # records before it keep their hash
    v2 = dataclasses.replace(FULL, dense_scenes='v2')
    assert v2.as_dict()['dense_scenes'] == 'v2'
    assert set(DENSE_CONFIGS) == {'', 'v2', 'v3'}
    with pytest.raises(ValueError, match='unknown dense scene set'):
        Protocol(dense_scenes='busy')


def test_a_data_root_without_the_scene_set_is_refused(tiny_demo, tmp_path):
    from mmhybrid.benchmarks.ablation import AblationRun
    v2 = dataclasses.replace(QUICK, dense_scenes='v2')
    with pytest.raises(FileNotFoundError) as error:
        AblationRun(v2, str(tmp_path / 'r'), str(tmp_path / 'w'), str(tiny_demo))
    message = str(error.value)
    assert f'{tiny_demo}/scenes_v2 is missing' in message
    assert '--dense-scenes v2' in message and 'build_fashion_demo.py' in message
    # the probes alone read no scenes: nothing to refuse
    AblationRun(v2, str(tmp_path / 'r'), str(tmp_path / 'w'), str(tiny_demo),
                evaluations=[])


def test_the_refusal_keeps_the_scene_sets_built_already(tiny_demo_v2, tmp_path):
    from mmhybrid.benchmarks.ablation import AblationRun
    v3 = dataclasses.replace(QUICK, dense_scenes='v3')
    with pytest.raises(FileNotFoundError) as error:
        AblationRun(v3, str(tmp_path / 'r'), str(tmp_path / 'w'), str(tiny_demo_v2))
    assert '--dense-scenes v2,v3' in str(error.value)  # a rebuild keeps v2


def test_quick_v2_run_reuses_pretraining_and_trains_heads_on_scenes_v2(
        tiny_demo_v2, tmp_path):
    (tmp_path / 'data').mkdir()
    (tmp_path / 'data' / 'fashion_demo').symlink_to(tiny_demo_v2)
    run_ablation(tmp_path, '--methods', 'mim', '--seeds', '0', '--evaluations',
                 'finetune', '--results', 'results/screen')
    out = run_ablation(tmp_path, '--methods', 'mim', '--seeds', '0', '--dense-scenes',
                       'v2', '--evaluations', 'detection', 'segmentation',
                       '--results', 'results/dense_v2')
    assert 'pre-training stage' not in out  # the screen's pre-training serves
    screen = json.loads((tmp_path / 'results/screen/ablation/mim-s0.json').read_text())
    record = json.loads(
        (tmp_path / 'results/dense_v2/ablation/mim-s0.json').read_text())
    assert record['pretrain_hash'] == screen['pretrain_hash']
    assert record['protocol']['dense_scenes'] == 'v2'
    assert 'dense_scenes' not in screen['protocol']
    assert {'det_box_ap', 'det_mask_ap', 'seg_miou'} <= set(record['metrics'])
    unit = tmp_path / 'work_dirs/ablation-quick/mim-s0'
    for name in ('detection', 'segmentation'):
        [eval_dir] = unit.glob(f'{name}-*')
        dumped = next(eval_dir.glob('*/vis_data/config.py'), None) or next(
            eval_dir.rglob('*.py'))
        text = dumped.read_text()
        assert 'scenes_v2/train' in text and 'scenes_v2/test' in text, name
        assert 'frozen_stages=4' in text, name
    report = (tmp_path / 'results/dense_v2/ablation.md').read_text()
    assert '--dense-scenes v2' in report


def test_v3_finetuned_evaluations_unfreeze_the_frozen_v3_heads():
    frozen = {ev.name: ev for ev in evaluations_for('v3')}
    finetuned = finetuned_dense_evaluations('v3')
    assert [ev.name for ev in finetuned] == ['detection-finetuned',
                                             'segmentation-finetuned']
    assert all(ev.opt_in for ev in finetuned) and not any(
        ev.opt_in for ev in EVALUATIONS)
    assert finetuned_dense_evaluations('v2') == [] == finetuned_dense_evaluations('')
    # their own metric names: a record never mixes frozen and fine-tuned numbers
    keys = [k for ev in finetuned for k in ev.metrics]
    assert keys == FINETUNED_DENSE_METRICS
    assert not set(keys) & {k for ev in EVALUATIONS for k in ev.metrics}
    for ev in finetuned:
        base = frozen[ev.name.replace('-finetuned', '')]
        assert list(ev.metrics.values()) == list(base.metrics.values())
        assert ev.scale == base.scale
        cfg = Config.fromfile(str(REPO / ev.config))
        cfg_frozen = Config.fromfile(str(REPO / base.config))
        assert cfg_frozen.model.backbone.frozen_stages == 4
        assert cfg.model.backbone.frozen_stages == -1, ev.name
        assert cfg.train_cfg.max_iters == 2000 == cfg.param_scheduler[-1].end
        cfg.model.backbone.frozen_stages = 4
        assert cfg.model == cfg_frozen.model, ev.name  # nothing else in the model
        for key in cfg_frozen:
            if 'dataloader' in key or 'evaluator' in key:
                assert cfg[key] == cfg_frozen[key], (ev.name, key)


def test_the_longer_detection_schedule_changes_only_the_schedule():
    """``finetuned_detection_iters``: the fine-tuned Mask R-CNN of 4000 iterations
    is the 2000-iteration one with the schedule stretched (warm-up kept, the
    step at 80%); the UperNet, the frozen heads and older records stay."""
    short, long_ = assert_only_one_fine_tuned_head_changes('detection', 'Mask R-CNN')
    assert long_.param_scheduler[-1].milestones == [3200]


def test_the_longer_segmentation_schedule_changes_only_the_schedule():
    """``finetuned_segmentation_iters``: the fine-tuned UperNet of 4000 iterations
    is the 2000-iteration one with its poly decay stretched to 4000 (warm-up
    kept); the Mask R-CNN, the frozen heads and older records stay."""
    short, long_ = assert_only_one_fine_tuned_head_changes('segmentation', 'UperNet')
    assert short.param_scheduler[-1].type == long_.param_scheduler[-1].type == 'PolyLR'
    assert long_.param_scheduler[-1].eta_min == short.param_scheduler[-1].eta_min == 0
    # both schedules at once, each where it belongs
    both = Protocol(dense_scenes='v3', finetuned_detection_iters=4000,
                    finetuned_segmentation_iters=4000)
    configs = {ev.name: ev.config for ev in evaluations_for(
        'v3', both.finetuned_detection_iters, both.finetuned_segmentation_iters)}
    for task in ('detection', 'segmentation'):
        assert configs[f'{task}-finetuned'] == FINETUNED_DENSE_CONFIGS['v3'][task][4000]


def assert_only_one_fine_tuned_head_changes(task, head):
    """The 4000-iteration schedule of the fine-tuned ``task`` head against the
    2000-iteration one: a later protocol field (older records keep their hash),
    only that evaluation's config changes, and in it only the schedule; other
    scene sets and other lengths are refused. Returns both configs."""
    field = f'finetuned_{task}_iters'
    assert field not in dataclasses.replace(
        FULL, dense_scenes='v3').as_dict()  # the 2000-iteration records keep their hash
    long = dataclasses.replace(FULL, dense_scenes='v3', **{field: 4000})
    assert long.as_dict()[field] == 4000
    short_evs = {ev.name: ev for ev in evaluations_for('v3')}
    long_evs = {ev.name: ev for ev in evaluations_for(
        'v3', **{f'finetuned_{task}_iters': 4000})}
    assert short_evs.keys() == long_evs.keys()
    name = f'{task}-finetuned'
    for other in short_evs:
        assert (short_evs[other] == long_evs[other]) == (other != name)
    assert long_evs[name].metrics == short_evs[name].metrics
    short, long_ = (Config.fromfile(str(REPO / FINETUNED_DENSE_CONFIGS['v3'][task][n]))
                    for n in (2000, 4000))
    assert short.train_cfg.max_iters == 2000
    assert long_.train_cfg.max_iters == 4000 == long_.param_scheduler[-1].end
    assert long_.train_cfg.val_interval == 1000  # the log shows the curve
    assert long_.param_scheduler[0] == short.param_scheduler[0]  # the warm-up
    assert long_.default_hooks.checkpoint.interval == 4000
    for key in short:
        if key not in ('train_cfg', 'param_scheduler', 'default_hooks', 'max_iters'):
            assert long_[key] == short[key], key
    for scenes in ('', 'v2'):  # no fine-tuned heads there
        with pytest.raises(ValueError, match=f'has no fine-tuned {head} of 4000'):
            Protocol(dense_scenes=scenes, **{field: 4000})
    with pytest.raises(ValueError, match=r'its schedules: \[2000, 4000\]'):
        Protocol(dense_scenes='v3', **{field: 3000})
    return short, long_


@pytest.mark.parametrize('task,head', [('detection', 'Mask R-CNN'),
                                       ('segmentation', 'UperNet')])
def test_the_cli_takes_a_longer_schedule_only_for_v3_into_its_own_results(
        tmp_path, task, head):
    def cli(*args):
        return subprocess.run(
            [sys.executable, str(REPO / 'tools/benchmarks/ablation.py'), '--quick',
             f'--finetuned-{task}-iters', '4000', *args], cwd=tmp_path,
            capture_output=True, text=True, timeout=300,
            env=dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES=''))
    proc = cli()
    assert proc.returncode == 2
    assert f'--finetuned-{task}-iters needs its own --results' in proc.stderr
    proc = cli('--dense-scenes', 'v2', '--results', 'r')
    assert proc.returncode == 2
    assert f"the dense scene set 'v2' has no fine-tuned {head} of 4000" in proc.stderr
    assert not (tmp_path / 'r').exists()


def test_the_report_names_the_dense_scenes_and_the_fine_tuned_schedules():
    from mmhybrid.benchmarks.report import dense_protocol_lines

    def record(evaluations, **protocol):
        return dict(protocol=dict(FULL.as_dict(), **protocol),
                    evaluations=['probes', *evaluations])
    assert dense_protocol_lines([record(['detection'])]) == []  # the first protocol
    assert dense_protocol_lines([record(['detection'], dense_scenes='v2')]) == [
        'Dense scenes: scenes_v2/.  ']
    assert dense_protocol_lines([
        record(['detection-finetuned'], dense_scenes='v3',
               finetuned_detection_iters=4000),
        record(['detection-finetuned'], dense_scenes='v3')]) == [
        'Dense scenes: scenes_v3/. Fine-tuned Mask R-CNN: 2000, 4000 iterations.  ']
    # each head names the schedules of the records that ran it, no other
    assert dense_protocol_lines([
        record(['segmentation-finetuned'], dense_scenes='v3',
               finetuned_segmentation_iters=4000, finetuned_detection_iters=4000),
        record(['detection-finetuned'], dense_scenes='v3')]) == [
        'Dense scenes: scenes_v3/. Fine-tuned Mask R-CNN: 2000 iterations. '
        'Fine-tuned UperNet: 4000 iterations.  ']


def tiny_demo_as_v3(tiny_demo_v2, data):
    """A data root at ``data`` linking :func:`tiny_demo_v2`, its scenes_v2/ also
    as scenes_v3/ (v3 is v2 with larger evaluation splits)."""
    data.mkdir(parents=True)
    for entry in tiny_demo_v2.iterdir():
        (data / entry.name).symlink_to(entry)
    (data / 'scenes_v3').symlink_to(tiny_demo_v2 / 'scenes_v2')
    return data


def test_finetuned_evaluations_run_only_when_named(tiny_demo_v2, tmp_path):
    from mmhybrid.benchmarks.ablation import AblationRun
    data = tiny_demo_as_v3(tiny_demo_v2, tmp_path / 'fashion_demo')
    v3 = dataclasses.replace(QUICK, dense_scenes='v3')
    args = (str(tmp_path / 'r'), str(tmp_path / 'w'), str(data))
    run = AblationRun(v3, *args)
    assert [ev.name for ev in run.evaluations] == ['finetune', 'detection',
                                                   'segmentation']
    run = AblationRun(v3, *args, evaluations=['segmentation-finetuned'])
    assert [ev.name for ev in run.evaluations] == ['segmentation-finetuned']
    v2 = dataclasses.replace(QUICK, dense_scenes='v2')
    with pytest.raises(ValueError, match="for the dense scene set 'v2'"):
        AblationRun(v2, *args, evaluations=['detection-finetuned'])


def test_quick_v3_finetuned_run_trains_the_backbone_and_reports_apart(
        tiny_demo_v2, tmp_path):
    tiny_demo_as_v3(tiny_demo_v2, tmp_path / 'data' / 'fashion_demo')
    run_ablation(tmp_path, '--methods', 'random', 'mim', '--seeds', '0',
                 '--dense-scenes', 'v3', '--evaluations', 'detection-finetuned',
                 'segmentation-finetuned', '--results', 'results/dense_v3_ft')
    record = json.loads(
        (tmp_path / 'results/dense_v3_ft/ablation/mim-s0.json').read_text())
    assert set(FINETUNED_DENSE_METRICS) <= set(record['metrics'])
    assert not {'det_box_ap', 'seg_miou'} & set(record['metrics'])
    assert record['evaluations'] == ['probes', 'detection-finetuned',
                                     'segmentation-finetuned']
    unit = tmp_path / 'work_dirs/ablation-quick/mim-s0'
    for name in ('detection-finetuned', 'segmentation-finetuned'):
        [eval_dir] = unit.glob(f'{name}-*')
        text = next(eval_dir.rglob('*.py')).read_text()
        assert 'scenes_v3/train' in text and 'frozen_stages=-1' in text, name
    report = (tmp_path / 'results/dense_v3_ft/ablation.md').read_text()
    assert ('Dense scenes: scenes_v3/. Fine-tuned Mask R-CNN: 2000 iterations. '
            'Fine-tuned UperNet: 2000 iterations.') in report
    for title in ('Mask R-CNN box AP (fine-tuned)', 'UperNet mIoU (fine-tuned)'):
        assert title in report
        # the sensitivity check weighs them too (random is the baseline)
        sensitivity = report.split('## Sensitivity')[1].split('##')[0]
        assert f'| {title} ' in sensitivity
