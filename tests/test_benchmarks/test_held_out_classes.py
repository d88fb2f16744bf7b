"""Classes the labels never named (issue #27): a protocol axis
(``held_out_classes``), its object lists, the stage configs that read them, the
probes on the known and the held-out classes apart, the keys and the report."""
import dataclasses
import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mmhybrid.benchmarks.methods import (ALL_METHODS, METHODS, TUNING, stage_configs,
                                         uses_labels)
from mmhybrid.benchmarks.protocol import (FINETUNED_DENSE_METRICS, FULL,
                                          HELD_OUT_METRICS, METRICS,
                                          OPTIONAL_METRICS, QUICK)
from mmhybrid.benchmarks.splits import held_out_files, held_out_splits

REPO = Path(__file__).resolve().parents[2]
HELD = (5, 6, 7, 8, 9)
TAG = 'heldout-5-6-7-8-9'


def test_the_protocol_field_keeps_earlier_records_dict_and_is_json_able():
    """Empty (the default): the dict, and so the hash, of the records written
    before the field; set: sorted, a list in the dict; with a budget too."""
    assert 'held_out_classes' not in FULL.as_dict()
    assert json.dumps(FULL.as_dict(), sort_keys=True) == (
        '{"eval_options": {}, "linear_epochs": 30, "pretrain_batch": 32, '
        '"pretrain_iters": 1000, "probe_limit": null}')
    record = json.loads((REPO / 'results/ablation/multilabel-s0.json').read_text())
    assert record['protocol'] == FULL.as_dict()
    held = dataclasses.replace(FULL, held_out_classes=(9, 5, 7, 6, 8))
    assert held.held_out_classes == HELD
    assert held.as_dict() == dict(FULL.as_dict(), held_out_classes=list(HELD))
    assert json.loads(json.dumps(held.as_dict())) == held.as_dict()
    both = dataclasses.replace(held, label_fraction=0.01)
    assert both.as_dict() == dict(held.as_dict(), label_fraction=0.01)
    with pytest.raises(ValueError, match='distinct'):
        dataclasses.replace(FULL, held_out_classes=(5, 5))


def test_lists_leave_the_held_out_garments_unlabelled(demo):
    """Same entries in the same order; the held-out garments' images with no
    label at all (image type included), the others as they were; the labelled
    list is the known garments; deterministic; the class order does not
    matter; a bad class names the file."""
    from mmhybrid.datasets import PartialMultiLabelDataset
    objects = json.loads((demo / 'objects/meta/train.json').read_text())
    entries = objects['data_list']
    files = held_out_splits(str(demo), HELD)
    assert files == held_out_files((9, 8, 7, 6, 5)) == dict(
        mixed=f'splits/objects_known_{TAG}.json',
        labelled=f'splits/objects_known_labelled_{TAG}.json',
        unlabelled=f'splits/objects_known_unlabelled_{TAG}.json')
    lists = {k: json.loads((demo / p).read_text()) for k, p in files.items()}
    assert all(v['metainfo'] == objects['metainfo'] for v in lists.values())
    mixed = lists['mixed']['data_list']
    assert [e['img_path'] for e in mixed] == [e['img_path'] for e in entries]
    garment = [min(e['gt_label']) for e in entries]  # classes 0-9 come first
    for entry, listed, g in zip(entries, mixed, garment):
        assert listed == (dict(entry, gt_label=[]) if g in HELD else entry)
    known = [e for e, g in zip(entries, garment) if g not in HELD]
    assert lists['labelled']['data_list'] == known and len(known) == 10
    assert lists['unlabelled']['data_list'] == [e for e in mixed if not e['gt_label']]
    assert not {c for e in known for c in e['gt_label']} & set(HELD)

    dataset = PartialMultiLabelDataset(ann_file=files['mixed'], data_root=str(demo),
                                       data_prefix='objects/', pipeline=[])
    assert ['gt_label' in dataset.get_data_info(i) for i in range(len(dataset))] == [
        g not in HELD for g in garment]

    first = {k: (demo / p).read_bytes() for k, p in files.items()}
    held_out_splits(str(demo), (9, 8, 7, 6, 5))
    assert first == {k: (demo / p).read_bytes() for k, p in files.items()}
    for bad in ((5, 12), (10, ), (-1, )):  # 10-14 are image types, not garments
        with pytest.raises(ValueError, match=r'no garment of .*objects/meta/train\.json'):
            held_out_splits(str(demo), bad)
    with pytest.raises(ValueError, match='twice'):
        held_out_splits(str(demo), (5, 5))
    for none_or_all in ((), tuple(range(10))):
        with pytest.raises(ValueError, match='not none or all'):
            held_out_splits(str(demo), none_or_all)


def test_lists_at_a_label_budget_keep_its_labels_of_the_known_garments(demo):
    """With a budget as well: the budget's labelled images less the held-out
    garments' (one per known garment here), every other image unlabelled;
    own file names; nested in the budget's and in the held-out lists."""
    from mmhybrid.benchmarks.splits import label_budget_splits
    files = held_out_splits(str(demo), HELD, 0.5)
    assert files == held_out_files(HELD, 0.5) == dict(
        mixed=f'splits/objects_known_{TAG}_50pct.json',
        labelled=f'splits/objects_known_labelled_{TAG}_50pct.json',
        unlabelled=f'splits/objects_known_unlabelled_{TAG}_50pct.json')
    lists = {k: json.loads((demo / p).read_text())['data_list']
             for k, p in files.items()}
    budget = json.loads((demo / label_budget_splits(str(demo), 0.5)['labelled'])
                        .read_text())['data_list']
    known = json.loads((demo / held_out_splits(str(demo), HELD)['labelled'])
                       .read_text())['data_list']
    expected = [e for e in budget if min(e['gt_label']) not in HELD]
    assert lists['labelled'] == expected == [e for e in known if e in budget]
    assert sorted(min(e['gt_label']) for e in expected) == [0, 1, 2, 3, 4]
    assert [e for e in lists['mixed'] if e['gt_label']] == expected
    assert lists['unlabelled'] == [e for e in lists['mixed'] if not e['gt_label']]
    assert len(lists['mixed']) == 20 and len(lists['unlabelled']) == 15
    with pytest.raises(ValueError, match='would keep 0'):
        held_out_splits(str(demo), HELD, 0.1)  # two images a garment


def sources(cfg):
    datasets = cfg.train_dataloader.dataset.datasets
    return [d.get('ann_file') for d in datasets], list(cfg.train_dataloader.sampler.ratios)


@pytest.mark.parametrize('name', list(METHODS) + [
    'hybrid-shared-unmasked+label-weight-4'])
def test_stages_that_read_labels_read_the_known_classes(name):
    """Label task + self-supervised: every object (the held-out garments
    unlabelled); the label task alone: the labelled list only, the whole
    batch on it; label-free stages: unchanged."""
    method = ALL_METHODS[name]
    args = (method, 10, 4, 0, 'splits/pretrain_partial.json')
    full = stage_configs(*args)
    held = stage_configs(*args, held_out_classes=HELD)
    expected = dict(
        mim=[None], contrastive=[None], random=[], multilabel=['labelled'],
        **{'two-stage': [None, 'labelled']}).get(name, ['mixed'])
    assert len(full) == len(held) == len(expected)
    assert uses_labels(method) == any(expected)
    for cfg_full, cfg_held, reads in zip(full, held, expected):
        if reads is None:
            assert cfg_held.pretty_text == cfg_full.pretty_text
            continue
        ann_files, ratios = sources(cfg_held)
        assert ann_files == [held_out_files(HELD)[reads],
                             'splits/pretrain_partial.json', None]
        assert ratios == ([1, 0, 0] if reads == 'labelled' else [2, 0, 1])
        cfg_held.train_dataloader.dataset.datasets[0].ann_file = 'objects/meta/train.json'
        cfg_held.train_dataloader.sampler.ratios = [2, 0, 1]
        assert cfg_held.pretty_text == cfg_full.pretty_text  # nothing else changes


def test_a_labelled_share_and_the_labelled_scenes_under_held_out_classes():
    """The labelled-share variant's own source is the known garments; a stage
    that would give the labelled scenes (whose labels name every garment) a
    batch share is refused; with a budget, the stages read its lists."""
    from mmhybrid.benchmarks.methods import set_held_out_classes
    variant = TUNING['hybrid-shared-unmasked+label-weight-4+labelled-share-0.67']
    cfg, = stage_configs(variant, 10, 4, 0, 'splits/pretrain_partial.json',
                         held_out_classes=HELD)
    files = held_out_files(HELD)
    assert sources(cfg)[0] == [files['labelled'], files['unlabelled'],
                               'splits/pretrain_partial.json', None]
    cfg, = stage_configs(METHODS['hybrid-shared'], 10, 4, 0,
                         'splits/pretrain_partial.json')
    cfg.train_dataloader.sampler.ratios = [2, 1, 1]
    with pytest.raises(ValueError, match='would name the held-out classes'):
        set_held_out_classes(cfg, HELD, scene_labels='splits/pretrain_partial.json')
    both = held_out_files(HELD, 0.5)
    for name, reads in (('multilabel', ['labelled']),
                        ('hybrid-shared-unmasked+label-weight-4+labelled-share-0.67',
                         ['labelled', 'unlabelled'])):
        cfg, = stage_configs(ALL_METHODS[name], 10, 4, 0, 'splits/pretrain_partial.json',
                             label_fraction=0.5, held_out_classes=HELD)
        assert sources(cfg)[0][:len(reads)] == [both[k] for k in reads]


def test_keys_label_free_methods_reuse_their_pretraining_and_are_not_refused(
        demo, tmp_path, monkeypatch):
    from mmhybrid.benchmarks import ablation
    from mmhybrid.benchmarks.ablation import AblationRun
    # every key builds its configs again: build each once (the test's time)
    monkeypatch.setattr(ablation, '_resolved_text',
                        functools.lru_cache()(ablation._resolved_text))
    runs = []
    for protocol, results in ((QUICK, 'r'), (dataclasses.replace(
            QUICK, held_out_classes=HELD), 'rh')):
        run = AblationRun(protocol, str(tmp_path / results), str(tmp_path / 'w'),
                          str(demo), evaluations=[])
        built = {}

        def stage_configs_once(method, seed, build=run._stage_configs, built=built):
            if (method.name, seed) not in built:
                built[method.name, seed] = build(method, seed)
            return built[method.name, seed]
        monkeypatch.setattr(run, '_stage_configs', stage_configs_once)
        runs.append(run)
    full, held = runs
    assert (demo / f'splits/objects_known_{TAG}.json').is_file()
    for name in ('random', 'mim', 'contrastive'):  # the same pre-training
        method = ALL_METHODS[name]
        assert full.pretrain_hash(method) == held.pretrain_hash(method)
        assert full.probes_hash(method) != held.probes_hash(method)
        assert full.config_hash(method) != held.config_hash(method)
    for name in ('multilabel', 'hybrid-shared-unmasked+label-weight-4'):
        method = ALL_METHODS[name]
        assert full.pretrain_hash(method) != held.pretrain_hash(method)
    other = AblationRun(dataclasses.replace(QUICK, held_out_classes=(0, 1)),
                        str(tmp_path / 'ro'), str(tmp_path / 'w'), str(demo),
                        evaluations=[])
    assert other.probes_hash(ALL_METHODS['random']) != held.probes_hash(
        ALL_METHODS['random'])
    ran = []
    monkeypatch.setattr(held, 'run_unit', lambda m, s: ran.append((m, s)))
    held.run(['random', 'mim', 'contrastive', 'multilabel'], [0])
    assert ran == [('random', 0), ('mim', 0), ('contrastive', 0), ('multilabel', 0)]


def test_subset_probes_train_and_test_on_the_chosen_classes_only():
    """Features that separate the held-out classes perfectly (a direction
    per class) and not the known ones (one point plus noise): the held-out
    probes score 100, the known ones near chance (20)."""
    from mmhybrid.benchmarks.frozen_probe import class_subset, subset_probes
    g = torch.Generator().manual_seed(0)

    def split(per_class):
        labels = torch.arange(10).repeat_interleave(per_class)
        features = torch.randn(len(labels), 5, generator=g) * 0.1
        held = labels >= 5
        features[held, labels[held] - 5] += 10.
        features[~held] += 1.
        return features, labels
    data = dict(train=split(8), val=split(4), test=split(4))
    sub, labels = class_subset(*data['test'], (7, 5))
    assert len(sub) == 8 and labels.tolist() == [1] * 4 + [0] * 4
    held = subset_probes(data, HELD, 'held_out', seed=0, linear_epochs=200)
    assert held['test'] == dict(knn_top1_held_out=100., linear_top1_held_out=100.)
    assert held['val'] == dict(knn_top1_held_out=100., linear_top1_held_out=100.)
    assert set(held['choice']) == {'linear_lr_held_out', 'linear_weight_decay_held_out'}
    known = subset_probes(data, range(5), 'known', seed=0, linear_epochs=200)
    assert max(known['test'].values()) < 60.
    with pytest.raises(ValueError, match='val split of the probes holds no image'):
        subset_probes(dict(data, val=(data['val'][0][:4], data['val'][1][:4])),
                      HELD, 'held_out', seed=0)


def test_a_held_out_unit_reports_the_known_and_held_out_probes(
        tiny_demo, tmp_path, monkeypatch):
    """``multilabel`` with garments 5-9 held out (probes only): pre-trains on
    the known garments' list, names its classes, and reports the four new
    metrics, finite, on both splits."""
    from mmhybrid.benchmarks.ablation import AblationRun
    (tmp_path / 'data').mkdir()
    shutil.copytree(tiny_demo, tmp_path / 'data' / 'fashion_demo')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '')
    run = AblationRun(dataclasses.replace(QUICK, held_out_classes=HELD), 'results',
                      'work_dirs/ablation', evaluations=[], log=lambda msg: None)
    record = run.run_unit('multilabel', 0)
    assert record['held_out_classes'] == record['protocol']['held_out_classes'] == list(
        HELD)
    stage = next(Path('work_dirs/ablation/multilabel-s0').glob('pretrain-*'))
    assert f'splits/objects_known_labelled_{TAG}.json' in (
        stage / 'pretrain_stage1/config.py').read_text()
    for key in ('metrics', 'val_metrics'):
        assert set(record[key]) == {'knn_top1', 'linear_top1', *HELD_OUT_METRICS}
        assert all(np.isfinite(v) for v in record[key].values())
    assert 'linear_lr_held_out' in record['probe_choice']


# every metric but the fine-tuned dense ones (records of a run that names them)
FROZEN_METRICS = [k for k in METRICS if k not in FINETUNED_DENSE_METRICS]


def write_record(tmp_path, results, method, seed, value, metrics=FROZEN_METRICS,
                 held=None):
    unit_dir = tmp_path / results / 'ablation'
    unit_dir.mkdir(parents=True, exist_ok=True)
    values = {k: value for k in metrics}
    record = dict(method=method, seed=seed, metrics=values, val_metrics=values,
                  wall_s=dict(pretrain=60.), machine='test', versions={},
                  images_seen=32, finished='2024-01-01 00:00:00', config_hash='h',
                  protocol=dict(pretrain_iters=4, pretrain_batch=8))
    if held is not None:
        record['held_out_classes'] = record['protocol']['held_out_classes'] = held
    (unit_dir / f'{method}-s{seed}.json').write_text(json.dumps(record))


def test_reports_show_the_held_out_metrics_only_where_records_have_them(tmp_path):
    """Records without the new metrics: the report has no columns for them;
    with a held-out record among old ones the old ones show n/a; the budget
    and the sensitivity tables take records that lack them."""
    from mmhybrid.benchmarks.report import load_records, write_budget_report, write_report
    old = [k for k in METRICS if k not in OPTIONAL_METRICS]
    for seed in (0, 1):
        write_record(tmp_path, 'old', 'random', seed, 50. + seed, metrics=old)
        write_record(tmp_path, 'old', 'mim', seed, 55. + seed, metrics=old)
    text = write_report(load_records(str(tmp_path / 'old/ablation')),
                        str(tmp_path / 'a.md'), str(tmp_path / 'a.png'), 'cmd')
    assert 'held-out classes' not in text and 'known classes' not in text
    for seed in (0, 1):
        write_record(tmp_path, 'held', 'random', seed, 60. + seed, held=list(HELD))
        write_record(tmp_path, 'held', 'multilabel', seed, 70. + seed, held=list(HELD))
    records = (load_records(str(tmp_path / 'held/ablation'))
               + load_records(str(tmp_path / 'old/ablation'))[:2])  # mim, old
    text = write_report(records, str(tmp_path / 'b.md'), str(tmp_path / 'b.png'), 'cmd')
    assert 'Garment classes held out of the pre-training labels' in text
    assert '5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot' in text
    test_table = text.split('## Validation split')[0]
    mim_row = [line for line in test_table.splitlines() if line.startswith('| mim ')][0]
    assert mim_row.count('n/a') == len(HELD_OUT_METRICS)
    assert 'held-out classes: linear top-1 (frozen)' in test_table
    sens = text.split('## Sensitivity')[1].split('##')[0]
    rows = [[c.strip() for c in line.split('|')[1:-1]] for line in sens.splitlines()
            if line.startswith('| held-out')]
    assert rows == [['held-out classes: linear top-1 (frozen)', 'multilabel',
                     '+10.00', '2.12', 'yes']]
    assert (tmp_path / 'b.png').stat().st_size > 10000
    budget = write_budget_report([str(tmp_path / 'old'), str(tmp_path / 'held')],
                                 str(tmp_path / 'budget.md'), 'cmd')
    assert 'held-out classes: kNN top-1 (frozen)' in budget


def test_the_cli_wants_its_own_results(tmp_path):
    def cli(*args):
        return subprocess.run(
            [sys.executable, str(REPO / 'tools/benchmarks/ablation.py'), '--quick',
             '--held-out-classes', '5', '6', *args], cwd=tmp_path,
            capture_output=True, text=True, timeout=300,
            env=dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES=''))
    proc = cli()
    assert proc.returncode == 2
    assert '--held-out-classes needs its own --results' in proc.stderr
