"""Which dense scene set and head sizing let a random-init Mask R-CNN / UperNet
learn fast on 2 CPU cores (issue #26): a resumable grid of training runs.

Every unit trains one config from scratch (``model.backbone.init_cfg=None``)
with ``tools/train.py`` on one scene set of a demo build that has them
(``build_fashion_demo.py --out data/fashion_demo_v2 --dense-scenes
v2,v2busy,v2many,v2at96``), then tests it on the set's validation and test
splits. A finished unit is a JSON under ``results/dense_scenes/`` (metrics, s
per iteration from the run's log, the generated config); a unit whose JSON
exists with the same config is skipped. The table ``results/dense_scenes.md``
is written from the JSON files only.

    python tools/benchmarks/dense_scenes.py --units det-v2 seg-v2 --seeds 0
    python tools/benchmarks/dense_scenes.py --profile det-v1-heads det-v2
    python tools/benchmarks/dense_scenes.py --report-only
"""
import argparse
import glob
import hashlib
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'configs/benchmarks/demo/')
DET_V2 = DEMO + 'mask-rcnn_swin-demo-hybrid_fpn_1xb8-300it_fashion-scenes-v2-64px.py'
SEG_V2 = DEMO + 'upernet_swin-demo-hybrid_1xb16-300it_fashion-scenes-v2-64px.py'

# the head sizes of the 64 px fine-tuned protocol before this grid
V1_HEADS = """
model = dict(
    train_cfg=dict(rpn_proposal=dict(nms_pre=300, max_per_img=50),
                   rcnn=dict(sampler=dict(num=32))),
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=100),
                  rcnn=dict(max_per_img=20)))
"""
MASK_ROI_7 = """
model = dict(roi_head=dict(
    mask_roi_extractor=dict(roi_layer=dict(output_size=7)),
    mask_head=dict(roi_feat_size=7)),
    train_cfg=dict(rcnn=dict(mask_size=14)))
"""
SEG_64CH = """
model = dict(decode_head=dict(channels=64))
"""
LR_3E3 = """
optim_wrapper = dict(optimizer=dict(lr=3e-3))
"""


def _scenes_at(size: int, task: str) -> str:
    """Config text defining ``train_pipeline`` / ``test_pipeline`` at ``size``
    px (the loaders take them: :func:`_data_text`)."""
    if task == 'det':
        return f"""
img_scale = ({size}, {size})
train_pipeline = [dict(t, scale=img_scale) if t['type'] == 'Resize' else t
                  for t in _base_.train_pipeline]
test_pipeline = [dict(t, scale=img_scale) if t['type'] == 'Resize' else t
                 for t in _base_.test_pipeline]
"""
    return f"""
crop_size = ({size}, {size})
model = dict(data_preprocessor=dict(size=crop_size))
train_pipeline = [
    dict(t, crop_size=crop_size) if t['type'] == 'RandomCrop' else
    dict(t, scale=crop_size) if t['type'] in ('RandomResize', 'Resize') else t
    for t in _base_.train_pipeline]
test_pipeline = [dict(t, scale=crop_size) if t['type'] == 'Resize' else t
                 for t in _base_.test_pipeline]
"""


# name -> (task, change, scene folder, iterations, extra config text)
UNITS = {
    'det-v1-heads': ('det', 'scenes/ (v1), heads of the 1k protocol', 'scenes',
                     300, V1_HEADS),
    'det-v1': ('det', 'scenes/ (v1), heads sized', 'scenes', 300, ''),
    'det-v2': ('det', 'scenes_v2, heads sized', 'scenes_v2', 300, ''),
    'det-v2-heads': ('det', 'scenes_v2, heads of the 1k protocol', 'scenes_v2',
                     300, V1_HEADS),
    'det-v2busy': ('det', 'scenes_v2busy (busy backgrounds)', 'scenes_v2busy',
                   300, ''),
    'det-v2many': ('det', 'scenes_v2many (1-3 smaller garments)',
                   'scenes_v2many', 300, ''),
    'det-v2-mask7': ('det', 'scenes_v2, mask RoI 7 (14 px masks)', 'scenes_v2',
                     300, MASK_ROI_7),
    'det-v2at96': ('det', 'scenes_v2at96 (96 px)', 'scenes_v2at96', 300,
                   _scenes_at(96, 'det')),
    'det-v2-600': ('det', 'scenes_v2, 600 iterations', 'scenes_v2', 600, ''),
    'det-v2-1k': ('det', 'scenes_v2, 1000 iterations', 'scenes_v2', 1000, ''),
    'det-v2-lr3e-3': ('det', 'scenes_v2, lr 3e-3', 'scenes_v2', 300, LR_3E3),
    'seg-v1': ('seg', 'scenes/ (v1)', 'scenes', 300, ''),
    'seg-v2': ('seg', 'scenes_v2', 'scenes_v2', 300, ''),
    'seg-v2busy': ('seg', 'scenes_v2busy (busy backgrounds)', 'scenes_v2busy',
                   300, ''),
    'seg-v2many': ('seg', 'scenes_v2many (1-3 smaller garments)',
                   'scenes_v2many', 300, ''),
    'seg-v2-64ch': ('seg', 'scenes_v2, decode head 64 channels', 'scenes_v2',
                    300, SEG_64CH),
    'seg-v2at96': ('seg', 'scenes_v2at96 (96 px)', 'scenes_v2at96', 300,
                   _scenes_at(96, 'seg')),
    'seg-v2-600': ('seg', 'scenes_v2, 600 iterations', 'scenes_v2', 600, ''),
    'seg-v2-lr3e-3': ('seg', 'scenes_v2, lr 3e-3', 'scenes_v2', 300, LR_3E3),
    # learning curves (validated every 500 iterations by dense_curve_gpu.sh)
    'seg-v2-3k': ('seg', 'scenes_v2, 3000 iterations', 'scenes_v2', 3000, ''),
    'seg-v2-3k-lr3e-4': ('seg', 'scenes_v2, 3000 iterations, lr 3e-4',
                         'scenes_v2', 3000,
                         'optim_wrapper = dict(optimizer=dict(lr=3e-4))\n'),
}


def _data_text(task: str, scenes: str, data_root: str,
               pipelines: bool = False) -> str:
    """Config text pointing the train / val / test loaders at a scene set
    (with ``pipelines``, also at the ``train_pipeline`` / ``test_pipeline``
    defined before it). ``scenes/`` (v1) has no test split of its own: its val
    split (test garments) serves as both."""
    root = data_root.rstrip('/') + '/'
    s = scenes + '/'
    val, test = ('val', 'val') if scenes == 'scenes' else ('val', 'test')

    def pipeline(loader):
        if not pipelines:
            return ''
        return f", pipeline={'train' if loader == 'train' else 'test'}_pipeline"

    if task == 'det':
        ann = s + 'annotations/instances_{}.json'
        loaders = '\n'.join(
            f"{loader}_dataloader = dict(dataset=dict(data_root='{root}', "
            f"ann_file='{ann.format(split)}', "
            f"data_prefix=dict(img='{s}{split}/'){pipeline(loader)}))"
            for loader, split in (('train', 'train'), ('val', val),
                                  ('test', test)))
        return loaders + '\n' + '\n'.join(
            f"{loader}_evaluator = dict(ann_file='{root}{ann.format(split)}')"
            for loader, split in (('val', val), ('test', test)))
    return '\n'.join(
        f"{loader}_dataloader = dict(dataset=dict(data_root='{root}', "
        f"ann_file='', data_prefix=dict(img_path='{s}{split}', "
        f"seg_map_path='{s}seg/{split}'){pipeline(loader)}))"
        for loader, split in (('train', 'train'), ('val', val), ('test', test)))


def _schedule_text(task: str, iters: int) -> str:
    if task == 'det':
        decay = (f"dict(type='MultiStepLR', by_epoch=False, begin=0, end={iters}, "
                 f"milestones=[{int(iters * 0.8)}], gamma=0.1)")
        warmup = 50
    else:
        warmup = 30
        decay = (f"dict(type='PolyLR', eta_min=0.0, power=1.0, begin={warmup}, "
                 f"end={iters}, by_epoch=False)")
    return f"""
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end={warmup}),
    {decay},
]
train_cfg = dict(max_iters={iters}, val_interval={iters})
default_hooks = dict(logger=dict(interval=25), checkpoint=dict(interval={iters}))
"""


def unit_config(name: str, data_root: str, profile_iters: int = 0) -> str:
    task, _, scenes, iters, extra = UNITS[name]
    base = DET_V2 if task == 'det' else SEG_V2
    if profile_iters:
        iters = profile_iters
    if 'train_pipeline' in extra:  # the loaders name the pipelines: after them
        text = (f"_base_ = '{base}'\n" + extra + '\n' +
                _data_text(task, scenes, data_root, pipelines=True) + '\n' +
                _schedule_text(task, iters))
    else:
        text = (f"_base_ = '{base}'\n" + _data_text(task, scenes, data_root) +
                '\n' + extra + _schedule_text(task, iters))
    if profile_iters:  # no validation: the profile is of training steps
        text += f"""
train_cfg = dict(max_iters={profile_iters}, val_interval={10 * profile_iters})
custom_hooks = [dict(type='ProfilerHook', by_epoch=False,
                     profile_times={profile_iters},
                     schedule=dict(wait=5, warmup=2, active={profile_iters - 7}),
                     on_trace_ready=dict(type='log_trace',
                                         sort_by='self_cpu_time_total',
                                         row_limit=25))]
"""
    return text


def _step_times(log: str) -> list:
    """mmengine's per-iteration ``time`` (a window average) of each logged
    training iteration, the first window (start-up) left out."""
    times = [float(m) for m in re.findall(
        r'Iter\(train\)\s*\[\s*\d+/\d+\].*?\btime: ([0-9.]+)', log)]
    return times[1:] or times


def _train(config_text: str, work_dir: str, seed: int, threads: int,
           final_metrics: str = None) -> tuple:
    os.makedirs(work_dir, exist_ok=True)
    config = osp.join(work_dir, 'config.py')
    with open(config, 'w') as f:
        f.write(config_text)
    cmd = [sys.executable, osp.join(REPO, 'tools/train.py'), config,
           '--work-dir', work_dir, '--cfg-options', 'model.backbone.init_cfg=None',
           f'randomness.seed={seed}']
    if final_metrics:
        cmd[3:3] = ['--final-metrics', final_metrics]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    start = time.time()
    with open(osp.join(work_dir, 'train.log'), 'w') as log:
        rc = subprocess.call(cmd, cwd=REPO, env=env, stdout=log,
                             stderr=subprocess.STDOUT)
    seconds = time.time() - start
    with open(osp.join(work_dir, 'train.log')) as f:
        text = f.read()
    if rc:
        raise RuntimeError(f'{" ".join(cmd)} failed ({rc}): see '
                           f'{work_dir}/train.log\n' + text[-3000:])
    return text, seconds


def run_unit(name: str, seed: int, args) -> dict:
    task, change, scenes, iters, _ = UNITS[name]
    text = unit_config(name, args.data_root)
    config_hash = hashlib.sha256(text.encode()).hexdigest()[:12]
    path = osp.join(args.results, f'{name}-s{seed}.json')
    if osp.isfile(path):
        with open(path) as f:
            record = json.load(f)
        if record['config_hash'] == config_hash:
            print(f'{name}-s{seed}: done, skipped')
            return record
        raise RuntimeError(f'{path} holds another config ({record["config_hash"]}'
                           f' != {config_hash}): move it away to rerun')
    work_dir = osp.join(args.work_dir, f'{name}-s{seed}')
    metrics_path = osp.join(work_dir, 'final_metrics.json')
    print(f'{name}-s{seed}: {change}, {iters} iterations', flush=True)
    log, seconds = _train(text, work_dir, seed, args.threads, metrics_path)
    with open(metrics_path) as f:
        raw = json.load(f)
    keys = ({'box_ap': 'coco/bbox_mAP', 'mask_ap': 'coco/segm_mAP'}
            if task == 'det' else {'miou': 'mIoU'})
    scale = 100. if task == 'det' else 1.
    times = _step_times(log)
    with open(osp.join(args.data_root, 'build_info.json')) as f:
        build = json.load(f)
    record = dict(
        unit=name, seed=seed, task=task, change=change, scenes=scenes,
        iters=iters, config_hash=config_hash, config=text, threads=args.threads,
        metrics={split: {k: raw[split][v] * scale for k, v in keys.items()}
                 for split in ('val', 'test')},
        s_per_iter=sum(times) / len(times) if times else None,
        wall_s=seconds, load_avg=os.getloadavg(),
        build=dict(params=build['params'],
                   styles=build.get('dense_scene_styles', {})),
        finished=time.strftime('%Y-%m-%d %H:%M:%S'))
    os.makedirs(args.results, exist_ok=True)
    with open(path, 'w') as f:
        json.dump(record, f, indent=1)
    print(f'{name}-s{seed}: ' + json.dumps(record['metrics']['test']) +
          f', {record["s_per_iter"]:.3f} s/it', flush=True)
    return record


def profile_unit(name: str, args, iters: int = 27) -> str:
    """Train ``name`` for ``iters`` iterations under torch's profiler (5 waited,
    2 warm-up, the rest recorded); write the op table to
    ``<results>/profile-<name>.txt`` and return its path. A run whose log
    already holds the table is not repeated (its ``config.py`` is the one
    profiled)."""
    work_dir = osp.join(args.work_dir, f'profile-{name}')
    text = unit_config(name, args.data_root, iters)
    log = ''
    if osp.isfile(osp.join(work_dir, 'train.log')):
        with open(osp.join(work_dir, 'train.log')) as f:
            log = f.read()
    if 'Self CPU time total' not in log:
        log, _ = _train(text, work_dir, 0, args.threads)
    start = log.find('Name  ')
    start = log.rfind('\n', 0, log.rfind('---', 0, start)) + 1
    end = log.find('Self CPU time total', start)
    end = log.find('\n', end)
    table = log[start:end + 1]
    head = (f'# {name}: {UNITS[name][1]}; torch.profiler over {iters - 7} '
            f'training iterations (after 5 skipped, 2 warm-up), '
            f'OMP_NUM_THREADS={args.threads}, load average '
            f'{", ".join(f"{x:.1f}" for x in os.getloadavg())} at the end\n')
    times = _step_times(log)
    if times:
        head += f'# logged s / iteration: {", ".join(f"{t:.3f}" for t in times)}\n'
    path = osp.join(args.results, f'profile-{name}.txt')
    os.makedirs(args.results, exist_ok=True)
    with open(path, 'w') as f:
        f.write(head + table)
    print(f'{path} written')
    return path


def report(results: str, out: str) -> str:
    records = []
    for path in sorted(glob.glob(osp.join(results, '*-s*.json'))):
        with open(path) as f:
            records.append(json.load(f))
    order = list(UNITS)
    records.sort(key=lambda r: (r['task'], order.index(r['unit'])
                                if r['unit'] in order else 99, r['seed']))

    def cell(value, fmt='{:.1f}'):
        return '' if value is None else fmt.format(value)

    lines = [
        '# Dense scenes: what lets a random-init Mask R-CNN / UperNet learn '
        'on 2 cores (issue #26)', '',
        'Written by `tools/benchmarks/dense_scenes.py` from '
        f'`{osp.relpath(results, REPO)}/*.json`; do not edit. Every row trains '
        'the demo Swin from a random init (fine-tuned end to end), seed as '
        'shown, and tests the final model on the scene set\'s validation and '
        'test splits (`scenes/` (v1) has no test split of its own: its val '
        'split, test garments, is both). s / it: mean of mmengine\'s logged '
        'iteration times after the first window; the machine was shared (load '
        'average at the end in the last column), so times are upper bounds.',
        '']
    for task, title, cols in (
            ('det', 'Mask R-CNN (box / mask AP, %)',
             ['box_ap', 'mask_ap']),
            ('seg', 'UperNet (mIoU, %)', ['miou'])):
        rows = [r for r in records if r['task'] == task]
        if not rows:
            continue
        lines += [f'## {title}', '',
                  '| unit | change | iterations | seed | ' +
                  ' | '.join(f'val {c}' for c in cols) + ' | ' +
                  ' | '.join(f'test {c}' for c in cols) +
                  ' | s / it | wall s | threads | load |',
                  '|' + '---|' * (8 + 2 * len(cols))]
        for r in rows:
            lines.append(
                f"| {r['unit']} | {r['change']} | {r['iters']} | {r['seed']} | " +
                ' | '.join(cell(r['metrics']['val'][c]) for c in cols) + ' | ' +
                ' | '.join(cell(r['metrics']['test'][c]) for c in cols) +
                f" | {cell(r['s_per_iter'], '{:.3f}')} | {r['wall_s']:.0f} | "
                f"{r['threads']} | {r['load_avg'][0]:.1f} |")
        lines.append('')
    text = '\n'.join(lines)
    with open(out, 'w') as f:
        f.write(text)
    return text


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--units', nargs='+', default=[], choices=list(UNITS))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0])
    parser.add_argument('--profile', nargs='+', default=[], choices=list(UNITS),
                        help='profile these units first (27 iterations, 20 recorded)')
    parser.add_argument('--data-root', default='data/fashion_demo_v2')
    parser.add_argument('--work-dir', default='work_dirs/dense26')
    parser.add_argument('--results', default=osp.join(REPO, 'results/dense_scenes'))
    parser.add_argument('--out', default=osp.join(REPO, 'results/dense_scenes.md'))
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--report-only', action='store_true')
    return parser.parse_args()


def main():
    args = parse_args()
    args.data_root = osp.abspath(args.data_root)
    if not args.report_only:
        for name in args.profile:
            profile_unit(name, args)
        for seed in args.seeds:
            for name in args.units:
                run_unit(name, seed, args)
                report(args.results, args.out)
    print(report(args.results, args.out))


if __name__ == '__main__':
    main()
