"""The label budget: a protocol axis (``label_fraction``), its object lists, the
stage configs that read them and the method x budget report."""
import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config

from mmhybrid.benchmarks.methods import METHODS, TUNING, stage_configs, uses_labels
from mmhybrid.benchmarks.protocol import FULL, METRICS, QUICK
from mmhybrid.benchmarks.splits import label_budget_files, label_budget_splits

REPO = Path(__file__).resolve().parents[2]


def test_full_labels_keep_the_protocol_dict_and_hash_of_earlier_records():
    """``config_hash`` hashes ``json.dumps(protocol.as_dict(), sort_keys=True)``:
    at full labels it is the dict the finished records were keyed with."""
    assert json.dumps(FULL.as_dict(), sort_keys=True) == (
        '{"eval_options": {}, "linear_epochs": 30, "pretrain_batch": 32, '
        '"pretrain_iters": 1000, "probe_limit": null}')
    assert 'label_fraction' not in QUICK.as_dict()
    record = json.loads((REPO / 'results/ablation/multilabel-s0.json').read_text())
    assert record['protocol'] == FULL.as_dict()
    budget = dataclasses.replace(FULL, label_fraction=0.1).as_dict()
    assert budget == dict(FULL.as_dict(), label_fraction=0.1)


def test_budget_lists_keep_the_images_and_a_balanced_nested_share_of_labels(demo):
    """Same entries in the same order, labels on a class-balanced share, the
    rest ``gt_label: []`` (unlabelled for the dataset); the labelled list is
    that share; deterministic; a smaller budget keeps a subset."""
    from mmhybrid.datasets import PartialMultiLabelDataset
    objects = json.loads((demo / 'objects/meta/train.json').read_text())
    entries = objects['data_list']
    assert len(entries) == 20  # 2 per garment class
    files = label_budget_splits(str(demo), 0.5)
    assert files == label_budget_files(0.5) == dict(
        mixed='splits/objects_50pct.json', labelled='splits/objects_labelled_50pct.json',
        unlabelled='splits/objects_unlabelled_50pct.json')
    mixed = json.loads((demo / files['mixed']).read_text())
    labelled = json.loads((demo / files['labelled']).read_text())
    unlabelled = json.loads((demo / files['unlabelled']).read_text())
    assert (mixed['metainfo'] == labelled['metainfo'] == unlabelled['metainfo']
            == objects['metainfo'])
    assert [e['img_path'] for e in mixed['data_list']] == [e['img_path'] for e in entries]
    kept = [e for e in mixed['data_list'] if e['gt_label']]
    assert kept == labelled['data_list'] and len(kept) == 10
    assert unlabelled['data_list'] == [e for e in mixed['data_list']
                                       if not e['gt_label']]
    assert all(e in entries for e in kept)
    assert sorted(min(e['gt_label']) for e in kept) == list(range(10))  # 1 a garment
    assert sum(not e['gt_label'] for e in mixed['data_list']) == 10

    dataset = PartialMultiLabelDataset(ann_file=files['mixed'], data_root=str(demo),
                                       data_prefix='objects/', pipeline=[])
    has_label = ['gt_label' in dataset.get_data_info(i) for i in range(len(dataset))]
    assert has_label == [bool(e['gt_label']) for e in mixed['data_list']]

    first = {k: (demo / p).read_bytes() for k, p in files.items()}
    label_budget_splits(str(demo), 0.5)
    assert first == {k: (demo / p).read_bytes() for k, p in files.items()}
    # ten classes cannot each keep a label of two images
    with pytest.raises(ValueError, match='would keep 0'):
        label_budget_splits(str(demo), 0.1)
    for bad in (0., 1.):
        with pytest.raises(ValueError, match=r'in \(0, 1\)'):
            label_budget_splits(str(demo), bad)


def test_budget_lists_are_nested(demo):
    objects = json.loads((demo / 'objects/meta/train.json').read_text())
    doubled = objects['data_list'] + [dict(e, img_path='b/' + e['img_path'])
                                      for e in objects['data_list']]
    (demo / 'objects/meta/train.json').write_text(json.dumps(dict(
        objects, data_list=doubled)))  # 4 per class
    paths = {}
    for fraction in (0.25, 0.5, 0.75):
        files = label_budget_splits(str(demo), fraction)
        listed = json.loads((demo / files['labelled']).read_text())['data_list']
        paths[fraction] = {e['img_path'] for e in listed}
        assert len(listed) == int(40 * fraction)
    assert paths[0.25] < paths[0.5] < paths[0.75]


def sources(cfg):
    datasets = cfg.train_dataloader.dataset.datasets
    return [d.get('ann_file') for d in datasets], list(cfg.train_dataloader.sampler.ratios)


RECIPE = ['objects/meta/train.json', 'splits/pretrain_partial.json',
          None]  # the unlabelled scenes are an image folder


@pytest.mark.parametrize('name', list(METHODS) + [
    'hybrid-shared-unmasked+label-weight-4'])
def test_only_stages_that_read_labels_change_with_the_budget(name):
    """Label task + self-supervised: every object, labels on the budget's share;
    the label task alone: the labelled objects only, no batch share for the
    unlabelled scenes; label-free stages: the same config at every budget."""
    method = {**METHODS, **TUNING}[name]
    args = (method, 10, 4, 0, 'splits/pretrain_partial.json')
    full = stage_configs(*args)
    budget = stage_configs(*args, label_fraction=0.1)
    expected = dict(
        mim=[None], contrastive=[None], random=[], multilabel=['labelled'],
        **{'two-stage': [None, 'labelled']}).get(name, ['mixed'])
    assert len(full) == len(budget) == len(expected)
    assert uses_labels(method) == any(expected)
    for cfg_full, cfg_budget, reads in zip(full, budget, expected):
        assert sources(cfg_full) == ([RECIPE[0], RECIPE[1], None], [2, 0, 1])
        if reads is None:
            assert cfg_budget.pretty_text == cfg_full.pretty_text
            continue
        ann_files, ratios = sources(cfg_budget)
        assert ann_files == [label_budget_files(0.1)[reads], RECIPE[1], None]
        assert ratios == ([1, 0, 0] if reads == 'labelled' else [2, 0, 1])
        # nothing else changes
        cfg_budget.train_dataloader.dataset.datasets[0].ann_file = RECIPE[0]
        cfg_budget.train_dataloader.sampler.ratios = [2, 0, 1]
        assert cfg_budget.pretty_text == cfg_full.pretty_text


def test_a_budget_run_keys_label_methods_apart_and_refuses_label_free_ones(
        tiny_demo, tmp_path, monkeypatch):
    from mmhybrid.benchmarks.ablation import AblationRun
    from mmhybrid.benchmarks.methods import ALL_METHODS, TUNING
    root = tmp_path / 'demo'
    shutil.copytree(tiny_demo, root)
    full = AblationRun(QUICK, str(tmp_path / 'r1'), str(tmp_path / 'w'), str(root))
    half = AblationRun(dataclasses.replace(QUICK, label_fraction=0.5),
                       str(tmp_path / 'r50'), str(tmp_path / 'w'), str(root))
    assert (root / 'splits/objects_50pct.json').is_file()
    for name in ('random', 'mim', 'contrastive'):  # same work dirs at every L
        assert full.pretrain_hash(ALL_METHODS[name]) == half.pretrain_hash(
            ALL_METHODS[name])
    for name in ('multilabel', 'two-stage', 'hybrid-shared'):
        assert full.pretrain_hash(ALL_METHODS[name]) != half.pretrain_hash(
            ALL_METHODS[name])
    # the records count the images a method reads: the protocol's, but for a
    # batch grown around the labelled share (only where the share acts)
    grown = ALL_METHODS['hybrid-shared-unmasked+label-weight-4+labelled-share-0.67'
                        '+full-labelled-batch']
    assert half.images_seen(ALL_METHODS['two-stage']) == QUICK.images_seen
    assert half.images_seen(ALL_METHODS['random']) == 0
    assert half.images_seen(grown) == (round(QUICK.pretrain_batch * 1.5)
                                       * QUICK.pretrain_iters)
    assert full.images_seen(grown) == QUICK.images_seen
    # a tried change whose base is not a method is refused before it trains
    orphan = dataclasses.replace(grown, name='multilabel+no-such-change+x')
    monkeypatch.setitem(ALL_METHODS, orphan.name, orphan)
    monkeypatch.setitem(TUNING, orphan.name, orphan)
    with pytest.raises(ValueError, match='is not <method>\\+<change>'):
        half.run([orphan.name], [0])
    assert not list((tmp_path / 'w').glob('multilabel+no-such-change*'))
    with pytest.raises(ValueError, match=r"\['random', 'mim'\] read no labels"):
        half.run(['random', 'mim', 'multilabel'], [0])


def test_a_budget_unit_trains_on_its_labelled_objects_and_names_its_budget(
        tiny_demo, tmp_path, monkeypatch):
    """``multilabel`` at L = 50% (probes only): pre-trains on the labelled
    list, and the record names its budget (top level and protocol)."""
    from mmhybrid.benchmarks.ablation import AblationRun
    (tmp_path / 'data').mkdir()
    shutil.copytree(tiny_demo, tmp_path / 'data' / 'fashion_demo')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '')
    run = AblationRun(dataclasses.replace(QUICK, label_fraction=0.5), 'results',
                      'work_dirs/ablation', evaluations=[],
                      log=lambda msg: None)
    record = run.run_unit('multilabel', 0)
    assert record['label_fraction'] == record['protocol']['label_fraction'] == 0.5
    stage = next(Path('work_dirs/ablation/multilabel-s0').glob('pretrain-*'))
    config = (stage / 'pretrain_stage1/config.py').read_text()
    assert 'splits/objects_labelled_50pct.json' in config
    assert all(np.isfinite(v) for v in record['metrics'].values())


def write_record(tmp_path, results, method, seed, value, fraction=None,
                 metrics=METRICS):
    unit_dir = tmp_path / results / 'ablation'
    unit_dir.mkdir(parents=True, exist_ok=True)
    metrics = {k: value for k in metrics}
    record = dict(method=method, seed=seed, metrics=metrics, val_metrics=metrics,
                  wall_s=dict(pretrain=60.), machine='test',
                  protocol={} if fraction is None else dict(label_fraction=fraction))
    if fraction is not None:
        record['label_fraction'] = fraction
    (unit_dir / f'{method}-s{seed}.json').write_text(json.dumps(record))


def test_label_budget_report_method_by_budget(tmp_path):
    """Records at L = 100% (written before the field: no label_fraction) and at
    10%; the label-free methods' full-label records serve at 10% (a stray one
    at 10% is left out); sensitivity per L; the figure."""
    from mmhybrid.benchmarks.report import write_label_budget_report
    for seed, value in enumerate((70., 72.)):
        write_record(tmp_path, 'full', 'random', seed, value)
        write_record(tmp_path, 'full', 'mim', seed, value - 5)
        write_record(tmp_path, 'full', 'multilabel', seed, value + 10)
        write_record(tmp_path, 'L10', 'multilabel', seed, value + 2, fraction=0.1)
        write_record(tmp_path, 'L10', 'hybrid-shared-unmasked+label-weight-4', seed,
                     value + 4, fraction=0.1)
    write_record(tmp_path, 'L10', 'mim', 0, 0., fraction=0.1)
    dirs = [str(tmp_path / 'full'), str(tmp_path / 'L10')]
    text = write_label_budget_report(dirs, str(tmp_path / 'lb.md'),
                                     str(tmp_path / 'lb.png'), 'cmd')
    assert (tmp_path / 'lb.md').read_text() == text
    assert (tmp_path / 'lb.png').stat().st_size > 10000
    test_part = text.split('## Validation split')[0]
    table = test_part.split('### linear top-1 (frozen)')[1].split('###')[0]
    rows = {line.split('|')[1].strip(): [c.strip() for c in line.split('|')[2:-1]]
            for line in table.strip().splitlines()[2:]}
    assert list(rows) == ['random *', 'mim *', 'multilabel',
                          'hybrid-shared-unmasked+label-weight-4']
    header = [c.strip() for c in table.strip().splitlines()[0].split('|')[1:-1]]
    assert header == ['method', 'seeds', 'L = 100%', 'L = 10%']
    assert rows['random *'] == ['2 / 2', '71.00 ± 1.41', '71.00 ± 1.41']
    assert rows['mim *'] == ['2 / 2', '66.00 ± 1.41', '66.00 ± 1.41']  # not the 0.
    assert rows['multilabel'] == ['2 / 2', '**81.00 ± 1.41**', '73.00 ± 1.41']
    assert rows['hybrid-shared-unmasked+label-weight-4'] == [
        '0 / 2', 'n/a', '**75.00 ± 1.41**']
    sens = text.split('## Sensitivity per L')[1]
    l10 = sens.split('### L = 10%')[1]
    assert '| linear top-1 (frozen) ' in l10
    assert [c.strip() for c in [line for line in l10.splitlines() if line.startswith(
        '| linear')][0].split('|')[2:4]] == ['multilabel', '+2.00']
    write_record(tmp_path, 'again', 'multilabel', 0, 1., fraction=0.1)
    with pytest.raises(ValueError, match='more than one'):
        write_label_budget_report(dirs + [str(tmp_path / 'again')],
                                  str(tmp_path / 'x.md'), str(tmp_path / 'x.png'), 'c')


def test_a_budget_where_no_label_reader_was_measured_gets_no_column(tmp_path):
    """The screens at L = 10% skip the dense evaluations: the box AP table
    shows L = 100% only (random's full-label record must not win L = 10% by
    default) and says what was not measured; kNN keeps both budgets."""
    from mmhybrid.benchmarks.report import write_label_budget_report
    for seed in (0, 1):
        write_record(tmp_path, 'full', 'random', seed, 70. + seed)
        write_record(tmp_path, 'full', 'mim', seed, 71. + seed)  # serves every L
        write_record(tmp_path, 'full', 'multilabel', seed, 75. + seed)
        write_record(tmp_path, 'L10', 'multilabel', seed, 72. + seed, fraction=0.1,
                     metrics=('knn_top1', 'linear_top1', 'ft10pct_top1'))
    report = write_label_budget_report(
        [str(tmp_path / 'full'), str(tmp_path / 'L10')], str(tmp_path / 'lb.md'),
        str(tmp_path / 'lb.png'), 'cmd')
    text = report.split('## Validation split')[0]
    box = text.split('### Mask R-CNN box AP (frozen)')[1].split('###')[0]
    assert [c.strip() for c in box.strip().splitlines()[0].split('|')[1:-1]] == [
        'method', 'seeds', 'L = 100%']
    assert 'Not measured at L = 10% for the methods that read labels.' in box
    knn = text.split('### kNN top-1 (frozen)')[1].split('###')[0]
    assert 'L = 10%' in knn.splitlines()[2] and 'Not measured' not in knn
    sens = report.split('## Sensitivity per L')[1].split('### L = 10%')
    assert '| Mask R-CNN box AP' in sens[0] and 'Mask R-CNN' not in sens[1]
    assert '| linear top-1' in sens[1]


def test_the_sensitivity_per_budget_weighs_the_opt_in_evaluations(tmp_path):
    """The fine-tuned dense tasks and the held-out-class probe (opt-in, so not
    in every record) get a sensitivity row at the budgets where a method that
    reads labels was measured on them, and only there."""
    from mmhybrid.benchmarks.report import write_label_budget_report
    extra = ('det_ft_box_ap', 'seg_ft_miou', 'linear_top1_held_out')
    for seed in (0, 1):
        write_record(tmp_path, 'full', 'random', seed, 20. + seed,
                     metrics=METRICS)
        write_record(tmp_path, 'full', 'multilabel', seed, 30. + seed,
                     metrics=('linear_top1',))
        write_record(tmp_path, 'L10', 'multilabel', seed, 28. + seed, fraction=0.1,
                     metrics=('linear_top1',) + extra)
    report = write_label_budget_report(
        [str(tmp_path / 'full'), str(tmp_path / 'L10')], str(tmp_path / 'lb.md'),
        str(tmp_path / 'lb.png'), 'cmd')
    full, l10 = report.split('## Sensitivity per L')[1].split('### L = 10%')
    rows = {line.split('|')[1].strip(): [c.strip() for c in line.split('|')[2:-1]]
            for line in l10.splitlines() if line.startswith('| ')}
    assert rows['Mask R-CNN box AP (fine-tuned)'][:2] == ['multilabel', '+8.00']
    assert rows['UperNet mIoU (fine-tuned)'][:2] == ['multilabel', '+8.00']
    assert rows['held-out classes: linear top-1 (frozen)'][:2] == [
        'multilabel', '+8.00']
    assert '(fine-tuned)' not in full and 'held-out' not in full


def test_a_dense_budget_report_keeps_its_metrics_and_one_protocol(tmp_path):
    """The fine-tuned UperNet's records also hold the frozen probes: the CLI's
    ``--metrics seg_ft_miou`` writes its table (and its sensitivity row)
    alone; a metric no record has, and records of another schedule beside
    them, are refused with the folders named."""
    import subprocess
    import sys
    for seed in (0, 1):
        for d, fraction, method, value in (('full', None, 'random', 20.),
                                           ('full', None, 'mim', 22.),
                                           ('full', None, 'multilabel', 30.),
                                           ('L10', 0.1, 'multilabel', 28.)):
            write_record(tmp_path, d, method, seed, value + seed, fraction=fraction,
                         metrics=('knn_top1', 'linear_top1', 'seg_ft_miou'))
            path = tmp_path / d / 'ablation' / f'{method}-s{seed}.json'
            record = json.loads(path.read_text())
            record['protocol']['dense_scenes'] = 'v3'
            record['evaluations'] = ['probes', 'segmentation-finetuned']
            path.write_text(json.dumps(record))

    def report(*args):
        return subprocess.run(
            [sys.executable, str(REPO / 'tools/benchmarks/ablation.py'),
             '--label-budget-report', str(tmp_path / 'full'), str(tmp_path / 'L10'),
             '--results', str(tmp_path / 'out'), *args],
            capture_output=True, text=True)

    proc = report('--metrics', 'seg_ft_miou')
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / 'out/label_budget.md').read_text()
    assert '--metrics seg_ft_miou --results ' in text
    assert 'Dense scenes: scenes_v3/. Fine-tuned UperNet: 2000 iterations.' in text
    titles = [line for line in text.splitlines() if line.startswith('### ')]
    assert titles == ['### UperNet mIoU (fine-tuned)'] * 2 + [
        '### L = 100%', '### L = 10%']
    table = text.split('### UperNet mIoU (fine-tuned)')[1].split('##')[0]
    rows = {line.split('|')[1].strip(): [c.strip() for c in line.split('|')[2:-1]]
            for line in table.strip().splitlines()[2:]}
    assert rows['mim *'] == ['2 / 2', '22.50 ± 0.71', '22.50 ± 0.71']
    assert rows['multilabel'] == ['2 / 2', '**30.50 ± 0.71**', '**28.50 ± 0.71**']
    l10 = text.split('### L = 10%')[1]
    assert 'UperNet mIoU (fine-tuned) | multilabel' in l10 and 'linear' not in l10
    proc = report('--metrics', 'det_ft_box_ap')
    assert proc.returncode == 2 and "none of ['det_ft_box_ap']" in proc.stderr
    # no label reader at full labels: no column, and no sensitivity table, there
    for seed in (0, 1):
        (tmp_path / f'full/ablation/multilabel-s{seed}.json').unlink()
    proc = report('--metrics', 'seg_ft_miou')
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / 'out/label_budget.md').read_text()
    full = text.split('### L = 100%')[1].split('###')[0]
    assert full.strip() == 'no method that reads labels measured here'
    # the 4000-iteration UperNet is another experiment than the 2000 one
    record = json.loads((tmp_path / 'L10/ablation/multilabel-s1.json').read_text())
    record['protocol']['finetuned_segmentation_iters'] = 4000
    (tmp_path / 'L10/ablation/multilabel-s1.json').write_text(json.dumps(record))
    proc = report('--metrics', 'seg_ft_miou')
    assert proc.returncode == 2
    assert 'differ in more than the label budget' in proc.stderr
    assert "finetuned_segmentation_iters" in proc.stderr and 'L10' in proc.stderr
    proc = subprocess.run([sys.executable, str(REPO / 'tools/benchmarks/ablation.py'),
                           '--metrics', 'seg_ft_miou'], capture_output=True, text=True)
    assert proc.returncode == 2 and 'columns of --label-budget-report' in proc.stderr


def test_the_teacher_variant_builds_and_trains_on_every_object_at_a_budget():
    """The label teacher's screen reads the budget's mixed list (its label task
    has self-supervised company) and its model accepts the teacher."""
    from mmpretrain.registry import MODELS

    import mmhybrid  # noqa: F401 (registers HybridPretrain)
    from mmhybrid.benchmarks.methods import plan_of
    cfg, = stage_configs(TUNING['hybrid-shared-unmasked+label-weight-4+teacher'],
                         10, 4, 0, 'splits/pretrain_partial.json', label_fraction=0.1)
    assert sources(cfg) == ([label_budget_files(0.1)['mixed'], RECIPE[1], None],
                            [2, 0, 1])
    model_cfg = cfg.model.to_dict()
    model_cfg.pop('data_preprocessor')
    model = MODELS.build(model_cfg)
    assert model.teacher_cfg['ramp_iters'] == 200
    assert model.plan == plan_of(cfg.model.to_dict())


def test_the_label_positives_variant_changes_only_the_contrastive_head():
    """``+label-positives``: MoCo v3's head becomes LabelAwareMoCoV3Head over
    the recipe's label space (soft targets), the rest is its base's, and the
    model builds."""
    from mmpretrain.registry import MODELS

    import mmhybrid  # noqa: F401 (registers HybridPretrain)
    base = 'hybrid-shared-unmasked+label-weight-4+labelled-share-0.67+full-labelled-batch'
    args = (10, 4, 0, 'splits/pretrain_partial.json')
    cfg, = stage_configs(TUNING[base + '+label-positives'], *args, label_fraction=0.1)
    base_cfg, = stage_configs(TUNING[base], *args, label_fraction=0.1)
    head = cfg.model.contrastive.head
    assert head.type == 'LabelAwareMoCoV3Head' and head.loss.use_soft
    assert head.num_classes == cfg.model.multilabel.head.num_classes
    model_cfg = cfg.model.to_dict()
    model_cfg.pop('data_preprocessor')
    assert MODELS.build(model_cfg).con_head.reads_labels
    cfg.model.contrastive.head = base_cfg.model.contrastive.head
    assert cfg.pretty_text == base_cfg.pretty_text


def test_a_labelled_share_gives_the_labelled_objects_their_own_batch_share():
    """``labelled_share``: the labelled objects are a source drawing that share
    of every batch, the unlabelled objects and scenes split the rest 2 : 1 as
    in the recipe; nothing else changes; full labels are left as they are."""
    from mmhybrid.benchmarks.methods import Method, set_label_budget
    name = 'hybrid-shared-unmasked+label-weight-4+labelled-share-0.67'
    variant, base = TUNING[name], TUNING['hybrid-shared-unmasked+label-weight-4']
    assert variant.labelled_share == pytest.approx(2 / 3)
    args = (10, 4, 0, 'splits/pretrain_partial.json')
    cfg, = stage_configs(variant, *args, label_fraction=0.1)
    files = label_budget_files(0.1)
    ann_files, ratios = sources(cfg)
    assert ann_files == [files['labelled'], files['unlabelled'], RECIPE[1], None]
    assert ratios == pytest.approx([2 / 3, 2 / 9, 0, 1 / 9])
    datasets = cfg.train_dataloader.dataset.datasets
    assert datasets[0].pipeline == datasets[1].pipeline
    # half the share: the unlabelled objects and scenes draw two thirds, 2 : 1
    half, = stage_configs(TUNING['hybrid-shared-unmasked+label-weight-4+labelled-share-'
                                 '0.33'], *args, label_fraction=0.1)
    assert sources(half)[1] == pytest.approx([1 / 3, 4 / 9, 0, 2 / 9])
    base_cfg, = stage_configs(base, *args, label_fraction=0.1)
    del datasets[1]
    datasets[0].ann_file = files['mixed']
    cfg.train_dataloader.sampler.ratios = [2, 0, 1]
    assert cfg.pretty_text == base_cfg.pretty_text
    # no budget, no change; the share is a share
    full, = stage_configs(variant, *args)
    assert full.pretty_text == stage_configs(base, *args)[0].pretty_text
    # a method without the field keeps the identity its records were keyed with
    assert base.identity() == [base.name, base.stages]
    assert variant.identity()[-1] == dict(labelled_share=variant.labelled_share)
    for bad in (0., 1.):
        with pytest.raises(ValueError, match=r'labelled_share .* in \(0, 1\)'):
            set_label_budget(stage_configs(base, *args)[0], 0.1, bad)
    assert Method('x', 'y').labelled_share is None


def test_a_full_labelled_batch_grows_the_batch_around_the_labelled_share():
    """``full_labelled_batch``: where the labelled share acts, the batch grows
    so the share holds a whole protocol batch of labelled objects (what the
    label task alone reads a step), the unlabelled sources on top; nowhere
    else does anything change."""
    from mmhybrid.benchmarks.methods import Method
    from mmhybrid.datasets.samplers.ratio_sampler import split_by_ratio
    share = 'hybrid-shared-unmasked+label-weight-4+labelled-share-0.67'
    variant, base = TUNING[share + '+full-labelled-batch'], TUNING[share]
    assert variant.labelled_share == base.labelled_share
    args = (10, 32, 0, 'splits/pretrain_partial.json')
    cfg, = stage_configs(variant, *args, label_fraction=0.1)
    base_cfg, = stage_configs(base, *args, label_fraction=0.1)
    assert cfg.train_dataloader.batch_size == 48
    assert split_by_ratio(48, cfg.train_dataloader.sampler.ratios)[0] == 32
    assert sources(cfg) == sources(base_cfg)
    cfg.train_dataloader.batch_size = 32
    assert cfg.pretty_text == base_cfg.pretty_text
    # the held-out classes' share acts the same way
    held, = stage_configs(variant, *args, held_out_classes=(5, 6, 7, 8, 9))
    assert held.train_dataloader.batch_size == 48
    # half the batch labelled: twice the batch, as many unlabelled images on top
    half, = stage_configs(TUNING['hybrid-shared-unmasked+label-weight-4'
                                 '+labelled-share-0.5+full-labelled-batch'],
                          *args, label_fraction=0.1)
    assert half.train_dataloader.batch_size == 64
    assert split_by_ratio(64, half.train_dataloader.sampler.ratios)[0] == 32
    # full labels (no share acts) and the label task alone keep the protocol batch
    full, = stage_configs(variant, *args)
    assert full.pretty_text == stage_configs(base, *args)[0].pretty_text
    alone = Method('alone', 'the label task alone', METHODS['multilabel'].stages,
                   labelled_share=2 / 3, full_labelled_batch=True)
    cfg, = stage_configs(alone, *args, label_fraction=0.1)
    assert cfg.train_dataloader.batch_size == 32
    # the field is part of the identity; it means nothing without a share
    assert variant.identity()[-1] == dict(full_labelled_batch=True)
    assert base.identity()[-1] == dict(labelled_share=base.labelled_share)
    with pytest.raises(ValueError, match='set labelled_share too'):
        Method('x', 'y', full_labelled_batch=True)
    # the control: the label task alone with the grown batch, all of it labelled
    control = TUNING['multilabel+batch-1.5x']
    for budget in (dict(label_fraction=0.1), {}):
        cfg, = stage_configs(control, *args, **budget)
        alone, = stage_configs(METHODS['multilabel'], *args, **budget)
        assert cfg.train_dataloader.batch_size == 48
        cfg.train_dataloader.batch_size = 32
        assert cfg.pretty_text == alone.pretty_text
    assert control.identity()[-1] == dict(batch_scale=1.5)


def test_the_few_label_demo_config_is_the_measured_labelled_share():
    """``configs/pretrain/hybrid_swin-demo_fashion-64px_10pct-labels.py`` draws
    its batches as the benchmark's ``+labelled-share-0.67`` did at L = 10%: the
    same object lists, the same shares."""
    cfg = Config.fromfile(str(
        REPO / 'configs/pretrain/hybrid_swin-demo_fashion-64px_10pct-labels.py'))
    measured, = stage_configs(
        TUNING['hybrid-shared-unmasked+label-weight-4+labelled-share-0.67'],
        10, 4, 0, 'splits/pretrain_partial.json', label_fraction=0.1)
    ann_files, ratios = sources(cfg)
    total = sum(ratios)
    assert ann_files[:2] == sources(measured)[0][:2]
    assert ann_files[2:] == ['scenes/meta/train_partial.json', None]
    assert [r / total for r in ratios] == pytest.approx(sources(measured)[1])
    datasets = cfg.train_dataloader.dataset.datasets
    assert [d.data_prefix for d in datasets] == [
        'objects/', 'objects/', 'scenes/', 'scenes/unlabelled']
    assert datasets[0].pipeline == datasets[1].pipeline == datasets[3].pipeline
    assert cfg.model.loss_balancer.weights.to_dict() == dict(
        mim=1.0, contrastive=1.0, multilabel=4.0)
