"""The end-to-end demo: pre-train, export the backbone, then evaluate it downstream
beside a randomly initialised backbone of the same architecture.

The pre-training is the demo config as packaged: the benchmark's chosen recipe at
the benchmark's budget (1000 iterations of 32). The classification evaluations are
the benchmark's (``mmhybrid.benchmarks.protocol``: frozen kNN / linear probes,
10%-label fine-tuning) on shorter schedules. Mask R-CNN and UperNet are, by
default (``DENSE_MODES['v2']``), the dense protocol v2's heads on the frozen
backbone on scenes_v2/ for 300 iterations (``V2_DENSE``);
``DENSE_MODES['v3-finetuned']`` the dense protocol v3's Mask R-CNN (GroupNorm
FPN and heads) and UperNet fine-tuned end to end on scenes_v3/ for 2000
iterations each (``V3_FINETUNED_DENSE``: a longer demo whose detector and
segmenter learn enough to draw garments); ``DENSE_MODES['short']``
keeps the earlier walk-through that fine-tunes the backbone
(``DEMO_DETECTION_CONFIG``, ``DEMO_SEGMENTATION_CONFIG``) for a few dozen
iterations, not a measurement (see ``DOWNSTREAM``). Each training step runs one
of the repository's own tools (``tools/train.py --final-metrics``,
``tools/model_converters/extract_backbone.py``) as a subprocess, exactly as a
user would; the probes run in-process. The two backbones of a downstream training
task run at once, the CPU cores split between them: at demo size a run gains
little from a second thread (a Mask R-CNN step on 2 CPU cores: 0.37 s on one
thread or two), so the pair ends well before two runs in turn would.
"""
import json
import os
import os.path as osp
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

from ..benchmarks.frozen_probe import run_frozen_probes
from ..benchmarks.protocol import (DEMO, DETECTION_CONFIG, DETECTION_CONFIG_V2,
                                   DETECTION_FINETUNED_4K_GN_ALL_CONFIG_V3,
                                   FINETUNE_CONFIG, SEGMENTATION_CONFIG,
                                   SEGMENTATION_CONFIG_V2,
                                   SEGMENTATION_FINETUNED_CONFIG_V3)
from ..benchmarks.splits import make_splits
from .progress import DemoProgress
from .tool_runs import (ToolRun, format_table, last_value, latest_checkpoint,
                        logged_scalars, run_tools)
from .tool_runs import run_tool as run

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PRETRAIN_CONFIG = 'configs/pretrain/hybrid_swin-demo_fashion-64px.py'
BACKBONES = ('pre-trained', 'from scratch')
PROBES = 'frozen probes (Fashion-MNIST)'
#: Images per classification split for the demo's frozen probes.
PROBE_LIMIT = 2000
#: The dense evaluations, fine-tuned end to end.
DEMO_DETECTION_CONFIG = DEMO + 'mask-rcnn_swin-demo-hybrid_fpn_1xb8-1k_fashion-scenes-64px.py'
DEMO_SEGMENTATION_CONFIG = DEMO + 'upernet_swin-demo-hybrid_1xb16-1k_fashion-scenes-64px.py'


def _iterations(n: int, decay: str, warmup: int = 20) -> List[str]:
    """``--cfg-options`` that shorten an iteration-based benchmark config to ``n``
    iterations, its schedule (``warmup`` iterations, then ``decay``) rescaled."""
    options = [f'train_cfg.max_iters={n}', f'default_hooks.checkpoint.interval={n}',
               f'param_scheduler.0.end={warmup}', f'param_scheduler.1.end={n}']
    if decay == 'step':  # x0.1 at 80%, as the benchmark
        options.append(f'param_scheduler.1.milestones=[{int(0.8 * n)}]')
    else:  # poly from the end of the warm-up
        options.append(f'param_scheduler.1.begin={warmup}')
    return options


#: Table column -> evaluator key of the dense tasks (mmdet's COCO AP, mmseg's mIoU).
DETECTION_METRICS = {'box AP': 'coco/bbox_mAP', 'mask AP': 'coco/segm_mAP'}
SEGMENTATION_METRICS = {'mIoU': 'mIoU'}


@dataclass(frozen=True)
class DownstreamTask:
    """One downstream evaluation, run for both backbones.

    Args:
        name (str): Row label in the result table.
        config (str): Config path (its ``default_scope`` picks the library).
        metrics (dict): Table column -> metric key reported by the evaluator.
        scale (float): Multiplies every value (COCO AP is a fraction; the table
            shows %, as papers do).
        options (list[str]): ``--cfg-options`` (the demo's shorter schedule).
        checkpoint_key (str): Config key that takes the backbone checkpoint.
        scenes (str): The dense scene set the config reads (``'v2'``: the demo
            world's ``scenes_v2/``), checked before anything trains; ``''``: the
            world's default build.
    """
    name: str
    config: str
    metrics: Dict[str, str]
    scale: float = 1.
    options: List[str] = field(default_factory=list)
    checkpoint_key: str = 'model.backbone.init_cfg.checkpoint'
    scenes: str = ''


DOWNSTREAM = [
    DownstreamTask('fine-tune, 10% labels (Fashion-MNIST)', FINETUNE_CONFIG,
                   {'top-1': 'accuracy/top1'},
                   options=['train_cfg.max_epochs=5', 'default_hooks.checkpoint.interval=5',
                            'param_scheduler.0.end=1', 'param_scheduler.1.begin=1',
                            'param_scheduler.1.T_max=4', 'param_scheduler.1.end=5']),
    # The dense stages are short runs that show the checkpoint walking into mmdet and
    # mmseg (and draw what the models predict), not measurements: the pre-training's
    # 1000 iterations take most of the 15-minute budget, and fine-tuned end to end
    # Mask R-CNN stays near box AP 0 for hundreds of iterations and UperNet at the
    # background-only mIoU for ~250 (results/README.md). The benchmark measures the
    # dense transfer on frozen features over 1000 iterations.
    DownstreamTask('Mask R-CNN, fine-tuned (scenes)', DEMO_DETECTION_CONFIG,
                   DETECTION_METRICS, scale=100., options=_iterations(60, 'step')),
    DownstreamTask('UperNet, fine-tuned (scenes)', DEMO_SEGMENTATION_CONFIG,
                   SEGMENTATION_METRICS, options=_iterations(100, 'poly')),
]
#: ``--dense benchmark``: the dense stages replaced by the benchmark's own dense
#: evaluations (``mmhybrid.benchmarks.protocol``: FPN / heads trained on the frozen
#: backbone for 1000 iterations), at their full schedules: measurements, at about
#: 10 more minutes on 2 CPU cores than the default demo (22 minutes in all).
BENCHMARK_DENSE = [
    DownstreamTask('Mask R-CNN, frozen backbone (scenes)', DETECTION_CONFIG,
                   DETECTION_METRICS, scale=100.),
    DownstreamTask('UperNet, frozen backbone (scenes)', SEGMENTATION_CONFIG,
                   SEGMENTATION_METRICS),
]
#: Iterations of the ``--dense v2`` heads (the benchmark's dense protocol v2 trains
#: them 1000).
V2_DEMO_ITERS = 300
#: ``--dense v2``: the dense protocol v2's frozen-backbone heads
#: (``ablation.py --dense-scenes v2``: scenes_v2/, 1-2 large garments a scene) on
#: a shorter schedule; the data root must hold scenes_v2/
#: (``build_fashion_demo.py --dense-scenes v2``, as ``make demo`` builds it).
V2_DENSE = [
    DownstreamTask('Mask R-CNN, frozen backbone (scenes_v2)', DETECTION_CONFIG_V2,
                   DETECTION_METRICS, scale=100.,
                   options=_iterations(V2_DEMO_ITERS, 'step'), scenes='v2'),
    DownstreamTask('UperNet, frozen backbone (scenes_v2)', SEGMENTATION_CONFIG_V2,
                   SEGMENTATION_METRICS, options=_iterations(V2_DEMO_ITERS, 'poly'),
                   scenes='v2'),
]
#: Iterations of the ``--dense v3-finetuned`` Mask R-CNN and UperNet (the
#: benchmark's fine-tuned dense protocol v3 trains them 2000-4000): from a random
#: backbone the GroupNorm detector reached validation box AP 24.3-26.6 after 2000
#: of its 4000 iterations and the UperNet 27.5 mIoU after 2000 (seeds 0-2,
#: docs/evidence/dense-tasks.md).
V3_FINETUNED_DEMO_ITERS = 2000
#: ``--dense v3-finetuned``: the dense protocol v3's fine-tuned evaluations
#: (``ablation.py --dense-scenes v3 --evaluations detection-finetuned
#: segmentation-finetuned --finetuned-detection-heads gn-all``), backbone trained
#: end to end, on scenes_v3/; the detector's 4000-iteration schedule shortened to
#: 2000 (its 50-iteration warm-up kept). A longer demo (47 minutes in all on 2
#: CPU cores, three times the default's) whose detector and segmenter learn
#: enough to draw.
V3_FINETUNED_DENSE = [
    DownstreamTask('Mask R-CNN GN, fine-tuned (scenes_v3)',
                   DETECTION_FINETUNED_4K_GN_ALL_CONFIG_V3, DETECTION_METRICS,
                   scale=100., options=_iterations(V3_FINETUNED_DEMO_ITERS, 'step', 50),
                   scenes='v3'),
    DownstreamTask('UperNet, fine-tuned (scenes_v3)', SEGMENTATION_FINETUNED_CONFIG_V3,
                   SEGMENTATION_METRICS, scenes='v3'),
]
#: The downstream stages of each ``--dense`` mode.
DENSE_MODES = {'short': DOWNSTREAM, 'benchmark': DOWNSTREAM[:1] + BENCHMARK_DENSE,
               'v2': DOWNSTREAM[:1] + V2_DENSE,
               'v3-finetuned': DOWNSTREAM[:1] + V3_FINETUNED_DENSE}

# Seconds each stage took in the README's measured demos (2 CPU cores; the
# frozen-backbone stages from ``make demo DENSE=benchmark``; a training task's
# stage runs both backbones at once, a probe stage one). The progress line's
# whole-demo ETA counts on them, rescaled by how long the finished stages took.
EXPECTED_SECONDS = {
    'pre-training': 510, 'backbone export': 7,
    PROBES: 13,
    'fine-tune, 10% labels (Fashion-MNIST)': 60,
    'Mask R-CNN, fine-tuned (scenes)': 50,
    'UperNet, fine-tuned (scenes)': 61,
    'Mask R-CNN, frozen backbone (scenes)': 359,
    'UperNet, frozen backbone (scenes)': 371,
    # `python tools/run_demo.py --dense v2`, 2026-12-04
    'Mask R-CNN, frozen backbone (scenes_v2)': 82,
    'UperNet, frozen backbone (scenes_v2)': 128,
    # `make demo DENSE=v3-finetuned`, 2026-12-07
    'Mask R-CNN GN, fine-tuned (scenes_v3)': 909,
    'UperNet, fine-tuned (scenes_v3)': 1141,
}
PICTURES = ('losses.png', 'probe.png', 'reconstructions.png', 'detections.png',
            'segmentations.png')


def _stage(task: str, backbone: str) -> str:
    return f'{task}, {backbone}'


def run_demo(data_root: str, work_dir: str, pretrain_options: Sequence[str] = (),
             downstream_options: Sequence[str] = (), python: str = sys.executable,
             log: Optional[Callable[[str], None]] = None, stream=None,
             tasks: Sequence[DownstreamTask] = tuple(DOWNSTREAM),
             probe_limit: Optional[int] = PROBE_LIMIT) -> str:
    """Run the whole demo from the working directory that holds ``data_root``
    (``data/fashion_demo``, as the configs read it); return the result table
    (also written to ``work_dir/results.md``), with the pictures in ``work_dir``. While a stage
    runs, one updating line on ``stream`` (default stdout) shows its progress
    (:class:`DemoProgress`); ``log`` (default: a line above it) takes the stage
    announcements."""
    if osp.normpath(data_root) != osp.normpath('data/fashion_demo'):
        raise ValueError('the demo configs read data/fashion_demo/; build it there '
                         'with tools/dataset_converters/build_fashion_demo.py')
    if not osp.isfile(osp.join(data_root, 'build_info.json')):
        raise FileNotFoundError(f'{data_root} holds no demo build (build_info.json)')
    for task in tasks:
        scenes = osp.join(data_root, f'scenes_{task.scenes}')
        if task.scenes and not osp.isdir(scenes):
            raise FileNotFoundError(
                f'{task.name} reads {scenes}, which is missing: build it with '
                'tools/dataset_converters/build_fashion_demo.py '
                f'--out {data_root} --dense-scenes {task.scenes}')
    os.makedirs(work_dir, exist_ok=True)
    splits = make_splits(data_root)
    stages = [(n, EXPECTED_SECONDS[n]) for n in ('pre-training', 'backbone export')]
    stages += [(_stage(PROBES, b), EXPECTED_SECONDS[PROBES]) for b in BACKBONES]
    stages += [(t.name, EXPECTED_SECONDS.get(t.name, 0)) for t in tasks]
    progress = DemoProgress(stages, stream)
    log = log or progress.message
    times = {}

    # ------------------------------------------------------------ pre-training
    pre_dir = osp.join(work_dir, 'pretrain')
    log(f'[demo] pre-training: {PRETRAIN_CONFIG} -> {pre_dir}')
    options = ['--cfg-options', *pretrain_options] if pretrain_options else []
    times['pre-training'] = run(
        [python, osp.join(REPO, 'tools/train.py'), osp.join(REPO, PRETRAIN_CONFIG),
         '--work-dir', pre_dir, *options],
        osp.join(work_dir, 'pretrain.log'), progress=progress.stage('pre-training'))
    records = logged_scalars(pre_dir)
    backbone = osp.join(work_dir, 'backbone.pth')
    times['backbone export'] = run(
        [python, osp.join(REPO, 'tools/model_converters/extract_backbone.py'),
         latest_checkpoint(pre_dir), backbone], osp.join(work_dir, 'extract.log'),
        progress=progress.stage('backbone export'))
    checkpoints = {'pre-trained': backbone, 'from scratch': None}
    _pictures(pre_dir, work_dir, log)

    # -------------------------------------------------------------- downstream
    results = {}  # (task, column) -> {backbone: value}
    for which in BACKBONES:
        name = _stage(PROBES, which)
        log(f'[demo] {name}: kNN (k=20) and linear probe, {probe_limit} images a split')
        progress.stage(name)
        start = time.time()
        probes = run_frozen_probes(data_root, splits, osp.join(REPO, FINETUNE_CONFIG),
                                   checkpoints[which], seed=0, limit=probe_limit)
        times[name] = time.time() - start
        for column, key in (('kNN top-1', 'knn_top1'), ('linear top-1', 'linear_top1')):
            results.setdefault((PROBES, column), {})[which] = probes['test'][key]
    # each training task: both backbones at once, the CPU cores split between them
    env = dict(os.environ, **_thread_env(len(BACKBONES)))
    for task in tasks:
        log(f'[demo] {task.name}: {task.config}, both backbones at once')
        runs, metrics_files = [], {}
        callbacks = progress.parallel_stage(task.name, BACKBONES)
        for which in BACKBONES:
            task_dir = osp.join(work_dir, osp.splitext(osp.basename(task.config))[0] +
                                ('' if which == 'pre-trained' else '_scratch'))
            os.makedirs(task_dir, exist_ok=True)
            log(f'[demo]   {which} -> {task_dir}')
            init = (f'{task.checkpoint_key}={checkpoints[which]}' if checkpoints[which]
                    else 'model.backbone.init_cfg=None')
            metrics_files[which] = osp.join(task_dir, 'final_metrics.json')
            runs.append(ToolRun(
                [python, osp.join(REPO, 'tools/train.py'), osp.join(REPO, task.config),
                 '--work-dir', task_dir, '--no-validate',  # the table is test's
                 '--final-metrics', metrics_files[which], '--cfg-options', init,
                 'randomness.seed=0', *task.options, *downstream_options],
                task_dir + '.log', env, callbacks[which]))
        start = time.time()
        run_tools(runs)
        times[_stage(task.name, 'both backbones at once')] = time.time() - start
        for which, tool_run in zip(BACKBONES, runs):
            values = _test_metrics(metrics_files[which], task, tool_run.log_path)
            for column, value in values.items():
                results.setdefault((task.name, column), {})[which] = value
        _pictures(osp.dirname(metrics_files['pre-trained']), work_dir, log)
    progress.close()

    # ------------------------------------------------------------------- table
    loss_keys = ('loss', 'raw_mim', 'raw_contrastive', 'raw_multilabel',
                 'weight_mim', 'weight_contrastive', 'weight_multilabel',
                 'probe/knn_top1', 'probe/label_mAP')
    first = {k: next((r[k] for r in records if k in r), None) for k in loss_keys}
    rows = [[k, _fmt(first[k]), _fmt(last_value(records, k))] for k in loss_keys
            if first[k] is not None]
    table = [f'## Pre-training ({PRETRAIN_CONFIG})', '',
             format_table(rows, ['scalar', 'first logged', 'last logged']), '',
             '## Downstream: the pre-trained backbone vs the same architecture from '
             'scratch (test splits)', '',
             format_table([[task, column, _fmt(v['pre-trained']), _fmt(v['from scratch']),
                            _signed(v['pre-trained'] - v['from scratch'])]
                           for (task, column), v in results.items()],
                          ['task', 'metric', 'pre-trained', 'from scratch',
                           'difference']), '',
             '## Wall time', '',
             format_table([[k, f'{v:.0f} s'] for k, v in times.items()] +
                          [['total', f'{sum(times.values()):.0f} s']], ['step', 'time']),
             '', '## Pictures', '',
             '\n'.join(f'- `{osp.join(work_dir, p)}`' for p in PICTURES
                       if osp.isfile(osp.join(work_dir, p))), '']
    text = '\n'.join(table)
    with open(osp.join(work_dir, 'results.md'), 'w') as f:
        f.write(text)
    return text


def _test_metrics(metrics_file: str, task: DownstreamTask, log_path: str) -> Dict[str, float]:
    """Table column -> the test value of ``task`` in ``metrics_file`` (written by
    ``tools/train.py --final-metrics``), scaled; a metric the run did not report
    is an error that names the file, what it holds and the run's log."""
    with open(metrics_file) as f:
        test = json.load(f)['test']
    missing = [key for key in task.metrics.values() if key not in test]
    if missing:  # e.g. mmdet's CocoMetric reports nothing when no box was kept
        raise KeyError(f'{metrics_file} has no {missing} (it holds {sorted(test)}): '
                       f'{task.name} reported no test value for them; see {log_path}')
    return {column: test[key] * task.scale for column, key in task.metrics.items()}


def _thread_env(runs: int) -> Dict[str, str]:
    """Thread-count variables that split this process's CPU cores among ``runs``
    processes (at least one thread each)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') \
        else (os.cpu_count() or 1)
    threads = str(max(1, cores // runs))
    return {'OMP_NUM_THREADS': threads, 'MKL_NUM_THREADS': threads}


def _pictures(run_dir: str, out_dir: str, log: Callable[[str], None]) -> None:
    """The pictures ``run_dir`` has what it takes for, into ``out_dir``."""
    from ..visualization import visualize_run
    kinds = {'pretrain': ('losses.png', 'probe.png', 'reconstructions.png'),
             'mask-rcnn': ('detections.png', ), 'upernet': ('segmentations.png', )}
    base = osp.basename(run_dir)
    wanted = next((v for k, v in kinds.items() if base.startswith(k)), ())
    if wanted:
        visualize_run(run_dir, out_dir, pictures=wanted,
                      log=lambda msg: log(f'[demo] {msg}'))


def _fmt(value) -> str:
    return 'n/a' if value is None else f'{value:.4g}'


def _signed(value: float) -> str:
    return f'{value:+.2f}'
