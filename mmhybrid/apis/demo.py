"""The end-to-end demo: pre-train, export the backbone, evaluate it downstream.

Each step runs one of the repository's own tools (``tools/train.py``,
``tools/model_converters/extract_backbone.py``) as a subprocess, exactly as a user
would, and reads the metrics mmengine logged (``vis_data/scalars.json``).
"""
import os
import os.path as osp
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Sequence

from .progress import DemoProgress
from .tool_runs import format_table, last_value, latest_checkpoint, logged_scalars
from .tool_runs import run_tool as run

PRETRAIN_CONFIG = 'configs/pretrain/hybrid_swin-demo_fashion-64px.py'


@dataclass
class DownstreamTask:
    """One downstream evaluation of the pre-trained backbone.

    Args:
        name (str): Row label in the result table.
        config (str): Config path (its ``default_scope`` picks the library).
        metrics (dict): Table column -> metric key logged by the evaluator.
        checkpoint_key (str): Config key that takes the backbone checkpoint.
    """
    name: str
    config: str
    metrics: Dict[str, str]
    checkpoint_key: str = 'model.backbone.init_cfg.checkpoint'
    options: List[str] = field(default_factory=list)


DOWNSTREAM = [
    DownstreamTask('linear probe (Fashion-MNIST)',
                   'configs/benchmarks/demo/swin-demo-hybrid_1xb64-linear-3e_fashion-cls-64px.py',
                   {'top-1': 'accuracy/top1'}),
    DownstreamTask('fine-tune (Fashion-MNIST)',
                   'configs/benchmarks/demo/swin-demo-hybrid_1xb64-ft-3e_fashion-cls-64px.py',
                   {'top-1': 'accuracy/top1'}),
    DownstreamTask('Mask R-CNN (scenes, COCO format)',
                   'configs/benchmarks/demo/mask-rcnn_swin-demo-hybrid_fpn_1xb8-1e_fashion-scenes-128px.py',
                   {'box AP': 'coco/bbox_mAP', 'mask AP': 'coco/segm_mAP'}),
    DownstreamTask('UperNet (scenes, class maps)',
                   'configs/benchmarks/demo/upernet_swin-demo-hybrid_1xb8-500it_fashion-scenes-128px.py',
                   {'mIoU': 'mIoU'}),
]


# Seconds each stage took in the README's measured demo (2 CPU cores; pre-training
# and export: the 20.6 min total less the downstream runs). The progress line's
# whole-demo ETA counts on them, rescaled by how long the finished stages took.
EXPECTED_SECONDS = {
    'pre-training': 110, 'backbone export': 6,
    'linear probe (Fashion-MNIST)': 82, 'fine-tune (Fashion-MNIST)': 147,
    'Mask R-CNN (scenes, COCO format)': 723, 'UperNet (scenes, class maps)': 168,
}


def run_demo(data_root: str, work_dir: str, pretrain_options: Sequence[str] = (),
             downstream_options: Sequence[str] = (), python: str = sys.executable,
             log=None, stream=None) -> str:
    """Run the whole demo; return the result table (also written to
    ``work_dir/results.md``). While a stage runs, one updating line on
    ``stream`` (default stdout) shows its progress (:class:`DemoProgress`);
    ``log`` (default: a line above it) takes the stage announcements."""
    if osp.normpath(data_root) != osp.normpath('data/fashion_demo'):
        raise ValueError('the demo configs read data/fashion_demo/; build it there '
                         'with tools/dataset_converters/build_fashion_demo.py')
    if not osp.isfile(osp.join(data_root, 'build_info.json')):
        raise FileNotFoundError(f'{data_root} holds no demo build (build_info.json)')
    os.makedirs(work_dir, exist_ok=True)
    stages = ['pre-training', 'backbone export'] + [t.name for t in DOWNSTREAM]
    progress = DemoProgress([(n, EXPECTED_SECONDS.get(n, 0)) for n in stages], stream)
    log = log or progress.message
    times = {}
    pre_dir = osp.join(work_dir, 'pretrain')
    log(f'[demo] pre-training: {PRETRAIN_CONFIG} -> {pre_dir}')
    options = ['--cfg-options', *pretrain_options] if pretrain_options else []
    times['pre-training'] = run(
        [python, 'tools/train.py', PRETRAIN_CONFIG, '--work-dir', pre_dir, *options],
        osp.join(work_dir, 'pretrain.log'), progress=progress.stage('pre-training'))
    records = logged_scalars(pre_dir)
    backbone = osp.join(work_dir, 'backbone.pth')
    run([python, 'tools/model_converters/extract_backbone.py',
         latest_checkpoint(pre_dir), backbone], osp.join(work_dir, 'extract.log'),
        progress=progress.stage('backbone export'))

    loss_keys = ('loss', 'raw_mim', 'raw_contrastive', 'raw_multilabel',
                 'weight_mim', 'weight_contrastive', 'weight_multilabel')
    first = {k: next((r[k] for r in records if k in r), None) for k in loss_keys}
    rows = [[k, _fmt(first[k]), _fmt(last_value(records, k))] for k in loss_keys]
    table = ['## Pre-training (' + PRETRAIN_CONFIG + ')', '',
             format_table(rows, ['scalar', 'first logged', 'last logged']), '']

    results = []
    for task in DOWNSTREAM:
        task_dir = osp.join(work_dir, osp.splitext(osp.basename(task.config))[0])
        log(f'[demo] {task.name}: {task.config} -> {task_dir}')
        options = [f'{task.checkpoint_key}={backbone}', *task.options, *downstream_options]
        times[task.name] = run(
            [python, 'tools/train.py', task.config, '--work-dir', task_dir,
             '--cfg-options', *options], osp.join(task_dir + '.log'),
            progress=progress.stage(task.name))
        scalars = logged_scalars(task_dir)
        for column, key in task.metrics.items():
            results.append([task.name, column, _fmt(last_value(scalars, key))])
    progress.close()
    table += ['## Downstream, same checkpoint', '',
              format_table(results, ['task', 'metric', 'value']), '',
              '## Wall time', '',
              format_table([[k, f'{v:.0f} s'] for k, v in times.items()],
                           ['step', 'time']), '']
    text = '\n'.join(table)
    with open(osp.join(work_dir, 'results.md'), 'w') as f:
        f.write(text)
    return text


def _fmt(value) -> str:
    return 'n/a' if value is None else f'{value:.4g}'
