"""tools/benchmarks/ablation.py end to end at toy size, resumable, and its parts."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mmhybrid.benchmarks.methods import (METHODS, plan_of, set_hybrid_views,
                                         stage_configs)
from mmhybrid.benchmarks.protocol import METRICS, OPTIONAL_METRICS
from mmhybrid.benchmarks.splits import make_splits
from mmhybrid.models.algorithms.step_plan import OnlinePass

REPO = Path(__file__).resolve().parents[2]


def run_ablation(cwd, *args):
    proc = subprocess.run(
        [sys.executable, str(REPO / 'tools/benchmarks/ablation.py'), '--quick', *args],
        cwd=cwd, capture_output=True, text=True, timeout=1200,
        env=dict(os.environ, OMP_NUM_THREADS='2', CUDA_VISIBLE_DEVICES=''))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_quick_run_writes_results_and_resumes(tiny_demo, tmp_path):
    (tmp_path / 'data').mkdir()
    (tmp_path / 'data' / 'fashion_demo').symlink_to(tiny_demo)
    out = run_ablation(tmp_path, '--methods', 'random', 'two-stage', '--seeds', '0')
    records = {}
    for method in ('random', 'two-stage'):
        path = tmp_path / 'results/quick/ablation' / f'{method}-s0.json'
        records[method] = json.loads(path.read_text())
    for method, r in records.items():
        assert r['method'] == method and r['seed'] == 0 and len(r['config_hash']) == 16
        # (the held-out-class metrics come only with held-out classes)
        assert set(r['metrics']) == set(METRICS) - set(OPTIONAL_METRICS) == set(
            r['val_metrics'])
        assert all(np.isfinite(v) for v in r['metrics'].values())
        assert r['versions']['mmpretrain'] == '1.2.0'
    assert records['random']['images_seen'] == 0
    assert records['two-stage']['images_seen'] == 4 * 8
    assert records['two-stage']['wall_s']['pretrain'] > 0
    assert records['random']['wall_s']['pretrain'] == 0
    # two stages ran, the second from the first's weights
    unit = next((tmp_path / 'work_dirs/ablation-quick/two-stage-s0').glob('pretrain-*'))
    stage2 = (unit / 'pretrain_stage2' / 'train.log').read_text()
    assert 'Load checkpoint from' in stage2 and 'pretrain_stage1' in stage2
    assert 'step plan: online 1: masked -> labels' in stage2
    # the units evaluated different backbones: two-stage's evaluations load the
    # backbone it exported, random's load none (at this size the metrics of two
    # backbones can tie)
    exported = unit.relative_to(tmp_path) / 'backbone.pth'
    for method in records:
        logs = sorted((tmp_path / f'work_dirs/ablation-quick/{method}-s0').glob(
            '*/train.log'))
        assert len(logs) == 3, logs  # fine-tune, detection, segmentation
        for log in logs:
            loads = re.findall(r'initialised from (\S+): loaded (\d+) keys',
                               log.read_text())
            assert loads == ([(str(exported), '119')] if method == 'two-stage'
                             else []), (log, loads)
    md = (tmp_path / 'results/quick/ablation.md').read_text()
    assert '| random ' in md and '| two-stage ' in md and 'Sensitivity' in md
    assert (tmp_path / 'results/quick/ablation.png').stat().st_size > 10000

    # a rerun skips finished units and rebuilds the same table
    before = {m: (tmp_path / f'results/quick/ablation/{m}-s0.json').stat().st_mtime_ns
              for m in records}
    out = run_ablation(tmp_path, '--methods', 'random', 'two-stage', '--seeds', '0')
    assert out.count('skipped') == 2
    assert before == {m: (tmp_path / f'results/quick/ablation/{m}-s0.json').stat(
    ).st_mtime_ns for m in records}


def test_splits_are_disjoint_balanced_and_deterministic(tiny_demo, tmp_path):
    import shutil
    root = tmp_path / 'demo'
    shutil.copytree(tiny_demo, root)
    paths = make_splits(str(root))
    read = lambda name: (root / paths[name]).read_text().splitlines()  # noqa: E731
    val, pool, low = read('cls_val'), read('cls_train_pool'), read('cls_train_10pct')
    assert not set(val) & set(pool) and not set(val) & set(low)
    assert set(low) <= set(pool)
    assert len(val) + len(pool) == 60 and len(low) == 6
    scenes_val = json.loads((root / paths['scenes_val']).read_text())
    scenes_train = json.loads((root / paths['scenes_train']).read_text())
    val_ids = {im['id'] for im in scenes_val['images']}
    assert val_ids and not val_ids & {im['id'] for im in scenes_train['images']}
    assert all(a['image_id'] in val_ids for a in scenes_val['annotations'])
    pretrain = json.loads((root / paths['pretrain_partial']).read_text())['data_list']
    val_files = {im['file_name'] for im in scenes_val['images']}
    assert len(pretrain) == 48 - len(val_files)
    assert not {Path(d['img_path']).name for d in pretrain} & val_files
    first = {k: (root / p).read_bytes() for k, p in paths.items()}
    make_splits(str(root))
    assert first == {k: (root / p).read_bytes() for k, p in paths.items()}


def test_demo_recipe_is_the_kept_variant_at_the_benchmarks_budget():
    """The benchmark's methods are changes to recipe v3 as pinned. The packaged
    demo recipe took the benchmark's choices (the label head and the query read
    an unmasked pass, task weights 1 : 1 : 4) and its budget (1000 iterations,
    10% warm-up) and nothing else: the benchmark builds the same pre-training
    from the demo recipe as from the pinned one with the kept tried change."""
    from mmengine.config import Config

    from mmhybrid.benchmarks.methods import PRETRAIN_CONFIG, TUNING, Method
    from mmhybrid.benchmarks.protocol import FULL
    demo_path = str(REPO / 'configs/pretrain/hybrid_swin-demo_fashion-64px.py')
    pinned = Config.fromfile(str(REPO / PRETRAIN_CONFIG)).to_dict()
    demo = Config.fromfile(demo_path).to_dict()
    assert pinned.keys() == demo.keys()
    schedule = {'max_iters', 'param_scheduler', 'train_cfg', 'default_hooks',
                'custom_hooks'}  # what the benchmark sets for every method
    assert {k for k in demo if demo[k] != pinned[k]} == {'model'} | schedule
    model_changes = {k for k in demo['model'].keys() | pinned['model'].keys()
                     if demo['model'].get(k) != pinned['model'].get(k)}
    assert model_changes == {'label_input', 'query_input', 'loss_balancer'}
    assert pinned['model']['loss_balancer'] == dict(type='UncertaintyTaskWeights')
    assert 'label_input' not in pinned['model']  # masked, recipe v3's default

    kept = TUNING['hybrid-shared-unmasked+label-weight-4']
    as_is = Method('demo', 'the demo recipe as it is', (dict(), ))
    args = (FULL.pretrain_iters, FULL.pretrain_batch, 0, 'splits/pretrain_partial.json')
    [from_pinned] = stage_configs(kept, *args)
    [from_demo] = stage_configs(as_is, *args, base_config=demo_path)
    # (``max_iters`` is the recipes' variable: the benchmark sets train_cfg's)
    from_demo, from_pinned = ({k: v for k, v in cfg.to_dict().items()
                               if k != 'max_iters'} for cfg in (from_demo, from_pinned))
    # how checkpoints reach the disk is not part of the recipe: the packaged
    # configs write them atomically, the pinned v3 (and its unit keys) as it was
    assert from_demo['default_hooks']['checkpoint'].pop('backend_args') == dict(
        backend='atomic_local')
    assert from_demo == from_pinned
    # and the demo trains on that schedule itself
    assert demo['train_cfg']['max_iters'] == FULL.pretrain_iters
    assert demo['param_scheduler'] == from_pinned['param_scheduler']


@pytest.mark.parametrize('name', list(METHODS))
def test_method_configs_build_the_views_they_read(name, tiny_demo):
    method = METHODS[name]
    configs = stage_configs(method, iters=10, batch_size=4, seed=3,
                            pretrain_ann_file='splits/pretrain_partial.json',
                            base_config=str(REPO / 'configs/pretrain/'
                                            'hybrid_swin-demo_fashion-64px.py'))
    assert len(configs) == len(method.stages)
    for cfg in configs:
        plan = plan_of(cfg.model.to_dict())
        for ds in cfg.train_dataloader.dataset.datasets:
            views = [t['views'] for t in ds.pipeline if t['type'] == 'HybridViews']
            assert views == [plan.required_views]
        assert cfg.train_cfg.max_iters * len(configs) == 10  # equal images seen
        assert cfg.train_dataloader.batch_size == 4
    if name == 'contrastive':
        assert configs[0].model.view_mode == 'separate'
        assert configs[0].model.loss_balancer.type == 'FixedTaskWeights'


def test_tuning_variants_change_one_thing_and_are_reported_apart():
    from mmhybrid.benchmarks.methods import ALL_METHODS, TUNING, base_of
    from mmhybrid.benchmarks.report import summarize, table, tuning_table
    for name, variant in TUNING.items():
        assert ALL_METHODS[name] is variant
        # a labelled share acts only at a label budget
        budget = dict(label_fraction=0.1) if variant.labelled_share else {}
        base_cfg, = stage_configs(ALL_METHODS[base_of(name)], 10, 4, 0, 'x.json',
                                  **budget)
        cfg, = stage_configs(variant, 10, 4, 0, 'x.json', **budget)
        # the views the pipeline crops follow the tasks the model keeps
        # (``required_views``), so a change that drops a task may drop a view
        assert set_hybrid_views(cfg, plan_of(cfg.model).required_views)
        assert set_hybrid_views(base_cfg, plan_of(cfg.model).required_views)
        changed = [k for k in ('model', 'optim_wrapper', 'train_dataloader')
                   if cfg[k].to_dict() != base_cfg[k].to_dict()]
        assert len(changed) == 1, (name, changed)
    with pytest.raises(ValueError, match='main table'):
        base_of('hybrid-shared')
    with pytest.raises(ValueError, match='main table'):
        base_of('no-such-method+bce')
    base, = stage_configs(METHODS['hybrid-shared'], 10, 4, 0, 'x.json')
    cfg, = stage_configs(TUNING['hybrid-shared-unmasked+label-weight-4'], 10, 4, 0, 'x.json')
    assert cfg.model.label_input == 'unmasked'
    assert cfg.model.loss_balancer.weights.multilabel == 4.0
    cfg, = stage_configs(TUNING['hybrid-shared+lr-1e-3'], 10, 4, 0, 'x.json')
    assert cfg.optim_wrapper.optimizer.lr == 1e-3 and base.optim_wrapper.optimizer.lr == 3e-4
    cfg, = stage_configs(TUNING['hybrid-shared+objects-only'], 10, 4, 0, 'x.json')
    assert list(cfg.train_dataloader.sampler.ratios) == [1, 0, 0]
    assert list(base.train_dataloader.sampler.ratios) == [2, 0, 1]
    cfg, = stage_configs(TUNING['hybrid-shared+fixed-weights'], 10, 4, 0, 'x.json')
    assert cfg.model.loss_balancer.type == 'FixedTaskWeights'
    # a change on a tried change is judged against it
    teacher = 'hybrid-shared-unmasked+label-weight-4+teacher'
    assert base_of(teacher) == 'hybrid-shared-unmasked+label-weight-4'
    cfg, = stage_configs(TUNING[teacher], 10, 4, 0, 'x.json')
    assert cfg.model.multilabel.teacher == dict(weight=1.0, ramp_iters=200)
    assert cfg.model.multilabel.head.type == 'PartialMultiLabelLinearClsHead'
    assert cfg.model.loss_balancer.weights.multilabel == 4.0
    # the teacher's confident hard pseudo-labels: only its mode moves
    cfg, = stage_configs(TUNING['hybrid-shared-unmasked+label-weight-4+labelled-share-'
                                '0.67+teacher-threshold'], 10, 4, 0, 'x.json')
    assert cfg.model.multilabel.teacher == dict(weight=1.0, ramp_iters=200,
                                                mode='threshold')
    # MIM on the third stage: a decoder sized for the recipe's stage 3
    cfg, = stage_configs(TUNING['hybrid-shared-unmasked+label-weight-4+mim-stage-3'],
                         10, 4, 0, 'x.json')
    backbone = cfg.model.backbone
    assert backbone.type == 'HybridSimMIMSwinTransformer'
    assert tuple(backbone.out_indices) == (2, 3)
    assert cfg.model.mim.neck.in_channels == backbone.arch['embed_dims'] * 4
    assert cfg.model.mim.neck.encoder_stride == 16
    # MIM down-weighted: only its weight moves
    cfg, = stage_configs(TUNING['hybrid-shared-unmasked+label-weight-4+labelled-share-'
                                '0.67+mim-weight-0.25'], 10, 4, 0, 'x.json')
    assert cfg.model.loss_balancer.weights.to_dict() == dict(
        mim=0.25, contrastive=1.0, multilabel=4.0)
    # no MIM: the task is gone (no decoder, no mask), labels and MoCo v3 keep
    # their weights and read one unmasked pass
    cfg, = stage_configs(TUNING['hybrid-shared-unmasked+label-weight-4+labelled-share-'
                                '0.67+no-mim'], 10, 4, 0, 'x.json', label_fraction=0.1)
    assert cfg.model.mim is None
    assert cfg.model.loss_balancer.weights.to_dict() == dict(
        contrastive=1.0, multilabel=4.0)
    plan = plan_of(cfg.model)
    assert plan.mim is None and not plan.uses_mask and len(plan.online) == 1
    # no contrastive task: MIM and the labels keep their weights, no momentum
    # key, the labels read their own unmasked pass of the masked view
    cfg, = stage_configs(TUNING['hybrid-shared-unmasked+label-weight-4+labelled-share-'
                                '0.67+full-labelled-batch+no-contrastive'], 10, 4, 0,
                         'x.json', label_fraction=0.1)
    assert cfg.model.contrastive is None and 'query_input' not in cfg.model
    assert cfg.model.loss_balancer.weights.to_dict() == dict(mim=1.0, multilabel=4.0)
    assert cfg.train_dataloader.batch_size == 6
    plan = plan_of(cfg.model)
    assert plan.momentum == () and plan.queries == ()
    assert plan.mim.masked and plan.labels == OnlinePass('masked', False)
    # the self-supervised tasks up- or down-weighted: only their weights move
    for scale in (2, 0.5):
        cfg, = stage_configs(TUNING['hybrid-shared-unmasked+label-weight-4+labelled-'
                                    f'share-0.67+full-labelled-batch+ssl-weight-{scale}'],
                             10, 4, 0, 'x.json', label_fraction=0.1)
        assert cfg.model.loss_balancer.weights.to_dict() == dict(
            mim=scale, contrastive=scale, multilabel=4.0)
    # the labels down-weighted to the self-supervised tasks' weight
    cfg, = stage_configs(TUNING['hybrid-shared-unmasked+label-weight-4+labelled-share-'
                                '0.67+full-labelled-batch+label-weight-1'], 10, 4, 0,
                         'x.json', label_fraction=0.01)
    assert cfg.model.loss_balancer.weights.to_dict() == dict(
        mim=1.0, contrastive=1.0, multilabel=1.0)
    assert cfg.train_dataloader.batch_size == 6
    # the self-supervised tasks on the unlabelled half of a batch of 2x
    cfg, = stage_configs(TUNING['hybrid-shared-unmasked+label-weight-4+labelled-share-'
                                '0.5+full-labelled-batch+ssl-on-unlabelled'], 10, 4, 0,
                         'x.json', label_fraction=0.01)
    assert cfg.model.ssl_samples == 'unlabelled'
    assert cfg.model.loss_balancer.weights.multilabel == 4.0
    assert cfg.train_dataloader.batch_size == 8
    # the few-label settings in separate mode: MoCo v3 on its own two crops
    cfg, = stage_configs(TUNING['hybrid-separate+label-weight-4+labelled-share-0.67+'
                                'full-labelled-batch'], 10, 4, 0, 'x.json',
                         label_fraction=0.01)
    assert cfg.model.view_mode == 'separate'
    assert cfg.model.loss_balancer.weights.to_dict() == dict(
        mim=1.0, contrastive=1.0, multilabel=4.0)
    assert cfg.train_dataloader.batch_size == 6
    assert len(plan_of(cfg.model).queries) == 2

    def record(method, seed, value):
        metrics = {k: value for k in METRICS}
        return dict(method=method, seed=seed, metrics=metrics, val_metrics=metrics,
                    wall_s=dict(pretrain=60.))
    records = [record('random', 0, 50.), record('hybrid-shared', 0, 60.),
               record('hybrid-shared', 1, 62.), record('hybrid-shared+bce', 0, 65.),
               record('hybrid-shared+bce', 1, 63.), record('hybrid-shared-unmasked', 0, 70.),
               record('hybrid-shared-unmasked+label-weight-4', 0, 69.)]
    val = summarize(records, 'val_metrics')
    main = table(summarize(records))
    rows = [line.split('|')[1].strip() for line in main.splitlines()[2:]]
    assert rows == ['random', 'hybrid-shared', 'hybrid-shared-unmasked']
    tried = tuning_table(val, summarize(records))
    assert '| hybrid-shared+bce ' in tried and '64.00 (+3.00); test 64.00' in tried
    # each change is judged against its own base
    assert '69.00 (-1.00); test 69.00' in tried
    # a variant whose base has no record here still shows its own numbers
    alone = [r for r in records if r['method'] != 'hybrid-shared-unmasked']
    tried = tuning_table(summarize(alone, 'val_metrics'), summarize(alone))
    assert '69.00 (no base record); test 69.00' in tried


def test_budget_report_rows_per_method_and_budget(tmp_path):
    from mmhybrid.benchmarks.report import write_budget_report

    def write(results, method, seen, seed, value):
        unit_dir = tmp_path / results / 'ablation'
        unit_dir.mkdir(parents=True, exist_ok=True)
        metrics = {k: value for k in METRICS}
        (unit_dir / f'{method}-s{seed}.json').write_text(json.dumps(dict(
            method=method, seed=seed, images_seen=seen, metrics=metrics,
            val_metrics=metrics, wall_s=dict(pretrain=seen / 100.),
            machine='test')))
    write('a', 'random', 0, 0, 70.)
    write('a', 'multilabel', 32000, 0, 60.)
    write('a', 'multilabel', 32000, 1, 62.)
    write('b', 'multilabel', 96000, 0, 75.)
    text = write_budget_report([str(tmp_path / 'a'), str(tmp_path / 'b')],
                               str(tmp_path / 'budget.md'), 'cmd')
    rows = [line for line in text.splitlines() if line.startswith('| multilabel')]
    assert len(rows) == 4  # two budgets x (test, val)
    assert '| 32000 ' in rows[0] and '61.00 ± 1.41' in rows[0]
    assert '| 96000 ' in rows[1] and '75.00' in rows[1]
    assert text.count('| random ') == 2 and (tmp_path / 'budget.md').is_file()


def test_a_changed_evaluation_reruns_only_itself(tiny_demo, tmp_path, monkeypatch):
    """Each step has its own key: a new segmentation schedule reuses the probes,
    the fine-tune and the detection run, and still changes the unit's hash."""
    from dataclasses import replace

    from mmhybrid.benchmarks.ablation import AblationRun
    from mmhybrid.benchmarks.methods import ALL_METHODS
    from mmhybrid.benchmarks.protocol import QUICK
    (tmp_path / 'data').mkdir()
    (tmp_path / 'data' / 'fashion_demo').symlink_to(tiny_demo)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('OMP_NUM_THREADS', '2')
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '')
    lines = []
    first = AblationRun(QUICK, 'results', 'work_dirs/ablation', log=lines.append)
    first.run_unit('random', 0)
    assert sum(line.startswith('  ') for line in lines) == 3  # ft, det, seg

    seg = [*QUICK.eval_options['segmentation'], 'model.decode_head.channels=32']
    changed = replace(QUICK, eval_options=dict(QUICK.eval_options, segmentation=seg))
    lines.clear()
    second = AblationRun(changed, 'results-changed', 'work_dirs/ablation',
                         log=lines.append)
    record = second.run_unit('random', 0)
    ran = [line.split(':')[0].strip() for line in lines if line.startswith('  ')]
    assert ran == ['segmentation']
    method = ALL_METHODS['random']
    assert first.probes_hash(method) == second.probes_hash(method)
    assert record['config_hash'] != first.config_hash(method)
    unit = tmp_path / 'work_dirs/ablation/random-s0'
    assert len(list(unit.glob('segmentation-*'))) == 2
    assert len(list(unit.glob('finetune-*'))) == 1
    assert len(list(unit.glob('probes-*'))) == 1


def test_dense_evaluations_train_heads_on_frozen_features_with_16px_anchors():
    """The protocol's Mask R-CNN and UperNet keep the backbone frozen (fine-tuned,
    the training run's spread over seeds hid every gap), train 1000 iterations on
    the train / validation split, size the anchors for 12-49 px garments and give
    the UperNet heads their chosen lr."""
    from mmengine.config import Config

    from mmhybrid.benchmarks.protocol import EVALUATIONS
    evals = {ev.name: Config.fromfile(str(REPO / ev.config)) for ev in EVALUATIONS}
    for name in ('detection', 'segmentation'):
        cfg = evals[name]
        assert cfg.model.backbone.frozen_stages == 4, name  # every stage
        assert cfg.train_cfg.max_iters == 1000, name
        assert cfg.param_scheduler[-1].end == 1000, name
        assert 'splits/' in str(cfg.train_dataloader.dataset.ann_file), name
        assert 'splits/' in str(cfg.val_dataloader.dataset.ann_file), name
        assert 'splits/' not in str(cfg.test_dataloader.dataset), name  # scenes/val
    anchors = evals['detection'].model.rpn_head.anchor_generator
    assert min(anchors.scales) * min(anchors.strides) == 16
    # the UperNet heads learn at 4e-3 (at 1e-3 they ended near background only)
    assert evals['segmentation'].optim_wrapper.optimizer.lr == 4e-3
    # the low-label fine-tune trains without Mixup / CutMix batch augments
    assert evals['finetune'].model.train_cfg is None
    # ... and with the layer decay rescaled to the demo Swin's 10 depths
    assert evals['finetune'].optim_wrapper.paramwise_cfg.layer_decay_rate == 0.75


def test_evaluations_with_no_name_runs_the_probes_alone(tiny_demo, tmp_path):
    """``--evaluations`` with no evaluation named: the frozen probes only, and
    the report's command says so."""
    (tmp_path / 'data').mkdir()
    (tmp_path / 'data' / 'fashion_demo').symlink_to(tiny_demo)
    run_ablation(tmp_path, '--evaluations', '--results', 'results/probes',
                 '--methods', 'random', '--seeds', '0')
    record = json.loads(
        (tmp_path / 'results/probes/ablation/random-s0.json').read_text())
    assert record['evaluations'] == ['probes']
    assert set(record['metrics']) == {'knn_top1', 'linear_top1'}
    assert not list((tmp_path / 'work_dirs/ablation-quick/random-s0').glob(
        'finetune-*'))
    report = (tmp_path / 'results/probes/ablation.md').read_text()
    assert 'ablation.py --quick --evaluations`' in report


def test_a_screen_runs_only_its_evaluations_and_a_full_run_reuses_them(
        tiny_demo, tmp_path, monkeypatch):
    """``evaluations=['finetune']``: pre-training, probes and fine-tune only, in
    a record of their own; the full run in the same work directory adds just the
    dense evaluations."""
    from mmhybrid.benchmarks.ablation import AblationRun
    from mmhybrid.benchmarks.protocol import QUICK
    (tmp_path / 'data').mkdir()
    (tmp_path / 'data' / 'fashion_demo').symlink_to(tiny_demo)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('OMP_NUM_THREADS', '2')
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '')
    with pytest.raises(ValueError, match='unknown evaluations'):
        AblationRun(QUICK, 'results-screen', 'work_dirs/ablation',
                    evaluations=['detection', 'retrieval'])
    lines = []
    screen = AblationRun(QUICK, 'results-screen', 'work_dirs/ablation',
                         log=lines.append, evaluations=['finetune'])
    record = screen.run_unit('mim', 0)
    assert [line.split(':')[0].strip() for line in lines if line.startswith('  ')] == [
        'pre-training stage 1/1', 'finetune']
    assert set(record['metrics']) == {'knn_top1', 'linear_top1', 'ft10pct_top1'}
    assert record['evaluations'] == ['probes', 'finetune']

    lines.clear()
    full = AblationRun(QUICK, 'results', 'work_dirs/ablation', log=lines.append)
    record = full.run_unit('mim', 0)
    assert [line.split(':')[0].strip() for line in lines if line.startswith('  ')] == [
        'detection', 'segmentation']
    assert set(record['metrics']) == set(METRICS) - set(OPTIONAL_METRICS)
    assert record['config_hash'] != json.loads(
        (tmp_path / 'results-screen/ablation/mim-s0.json').read_text())['config_hash']


def sensitivity_row(records, metric='linear_top1'):
    from mmhybrid.benchmarks.report import sensitivity, summarize
    text = sensitivity(summarize(records, 'val_metrics'), summarize(records),
                       [metric])
    row = [line for line in text.splitlines() if line.startswith('| linear')]
    return [c.strip() for c in row[0].split('|')[1:-1]]


def sensitivity_record(method, seed, value, val=None):
    return dict(method=method, seed=seed, metrics={'linear_top1': value},
                val_metrics={'linear_top1': value if val is None else val},
                wall_s=dict(pretrain=1.))


def test_sensitivity_weighs_the_best_method_with_seeds_against_the_spread():
    record = sensitivity_record
    records = [record('random', 0, 70.), record('random', 1, 71.),
               record('random', 2, 72.),  # std 1.0
               record('multilabel', 0, 75.), record('multilabel', 1, 76.),
               record('hybrid-shared', 0, 90.)]  # one seed: no std to weigh
    assert sensitivity_row(records)[1:] == ['multilabel', '+4.50', '3.00', 'yes']
    noisy = records + [record('multilabel', 2, 65.)]
    assert sensitivity_row(noisy)[-1] == 'no'


def test_sensitivity_gap_is_signed():
    """A method far behind the baseline is no pass: -10 against 3 std of 3."""
    record = sensitivity_record
    records = [record('random', 0, 70.), record('random', 1, 71.),
               record('random', 2, 72.),
               record('multilabel', 0, 60.), record('multilabel', 1, 61.)]
    assert sensitivity_row(records)[1:] == ['multilabel', '-10.50', '3.00', 'no']


def test_sensitivity_chooses_on_validation_and_reports_the_test_gap():
    """mim is best on the test split, multilabel on validation: the row is
    multilabel's, with its test-split gap (too small to pass)."""
    record = sensitivity_record
    records = [record('random', 0, 70., val=70.), record('random', 1, 71., val=71.),
               record('mim', 0, 80., val=72.), record('mim', 1, 81., val=73.),
               record('multilabel', 0, 72., val=80.),
               record('multilabel', 1, 73., val=81.)]
    cells = sensitivity_row(records)
    assert cells[1:] == ['multilabel', '+2.00', '2.12', 'no']


def test_report_of_a_screen_folder_with_tried_changes_only(tmp_path):
    """Two tried changes of the committed L=10% screen, no main-table method:
    the report writes its tables and no chart (the empty legend raised)."""
    from mmhybrid.benchmarks.report import load_records, write_report
    tried = {'hybrid-shared-unmasked+label-weight-4',
             'hybrid-shared-unmasked+label-weight-4+teacher'}
    records = [r for r in load_records(
        str(REPO / 'results/label_budget/screen-L10/ablation')) if r['method'] in tried]
    assert {r['method'] for r in records} == tried
    text = write_report(records, str(tmp_path / 'ablation.md'),
                        str(tmp_path / 'ablation.png'), 'cmd')
    assert '| hybrid-shared-unmasked+label-weight-4+teacher ' in text
    assert not (tmp_path / 'ablation.png').exists()


def test_a_split_without_detections_scores_ap_zero_and_says_so():
    from mmhybrid.benchmarks.ablation import _no_detection_splits
    from mmhybrid.benchmarks.protocol import EVALUATIONS
    detection = next(ev for ev in EVALUATIONS if ev.name == 'detection')
    segmentation = next(ev for ev in EVALUATIONS if ev.name == 'segmentation')
    # mmdet's CocoMetric returns {} when nothing was detected on the split
    metrics = {'val': {}, 'test': {'coco/bbox_mAP': 0.1, 'coco/segm_mAP': 0.1}}
    assert _no_detection_splits(metrics, detection) == ['val']
    # any other evaluation with no metric is an error, not a zero
    assert _no_detection_splits({'val': {}, 'test': {}}, segmentation) == []
