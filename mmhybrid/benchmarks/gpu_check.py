"""Parts of ``tools/benchmarks/gpu_check.sh``: preflight, synthetic data, the
check configs around the real ones, and the summary.

    python -m mmhybrid.benchmarks.gpu_check preflight --device cuda
    python -m mmhybrid.benchmarks.gpu_check prepare --work-dir W [--dry-run]
    python -m mmhybrid.benchmarks.gpu_check selftest
    python -m mmhybrid.benchmarks.gpu_check summary --work-dir W
    python -m mmhybrid.benchmarks.gpu_check switches [--dry-run] --out W/switches.md

``switches`` (:mod:`mmhybrid.benchmarks.gpu_switches`) measures the GPU path's
switches (fused attention, compile, fused AdamW, foreach EMA) each on and off
on the headline recipe, in one table.

``prepare`` writes tiny datasets in the formats the recipes read (our
multi-label JSON with the headline's label space, COCO instances, ADE20K
images + label maps) and, for each recipe, a config that inherits the real
one unchanged except for: the data root, a few iterations of an iteration
loop with a constant learning rate, no validation, checkpoints or
pre-trained weights (random init), and :class:`DeviceCheckHook`, which fails
the run unless it trains on the expected device in the expected precision
and records images/s and peak memory. It lists the runs in ``runs.tsv``
(name, config, extra ``tools/train.py`` arguments).
"""
import argparse
import glob
import json
import os
import os.path as osp
import pprint
import sys
from typing import Dict, List, Optional

import numpy as np

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HEADLINE = 'configs/pretrain/hybrid_swin-b.py'
DOWNSTREAM_GLOBS = ('configs/benchmarks/mmdet/*.py', 'configs/benchmarks/mmseg/*.py')
# the headline recipe trains with AMP in bf16
HEADLINE_ARGS = '--amp --cfg-options optim_wrapper.dtype=bfloat16'
SUMMARY_NAME = 'device_check.json'


# ------------------------------------------------------------------ data
def _write_image(path: str, array: np.ndarray) -> None:
    from PIL import Image
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path)


def write_multilabel(root: str, num: int, num_classes: int, size: int = 256,
                     seed: int = 0) -> str:
    """Our multi-label JSON (``PartialMultiLabelDataset``): ``num`` noise
    images, every other one labelled, ``num_classes`` class names."""
    rng = np.random.default_rng(seed)
    entries = []
    for i in range(num):
        name = f'img_{i:05d}.jpg'
        _write_image(osp.join(root, 'images', name),
                     rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
        labels = sorted({int(x) for x in rng.integers(0, num_classes, 3)}) \
            if i % 2 == 0 else []
        entries.append(dict(img_path=name, gt_label=labels))
    os.makedirs(osp.join(root, 'meta'), exist_ok=True)
    with open(osp.join(root, 'meta', 'train.json'), 'w') as f:
        json.dump(dict(metainfo=dict(classes=[f'class_{c:05d}'
                                              for c in range(num_classes)]),
                       data_list=entries), f)
    return root


def write_coco(root: str, num: int, size=(640, 480), seed: int = 0) -> str:
    """COCO instances (train2017 + annotations) with mmdet's 80 class names:
    ``num`` noise images with three rectangles each (box + polygon)."""
    from mmdet.datasets import CocoDataset
    rng = np.random.default_rng(seed)
    classes = CocoDataset.METAINFO['classes']
    images, anns = [], []
    w, h = size
    for i in range(num):
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        name = f'{i:012d}.jpg'
        for k in range(3):
            bw, bh = int(rng.integers(w // 4, w // 2)), int(rng.integers(h // 4, h // 2))
            x, y = int(rng.integers(0, w - bw)), int(rng.integers(0, h - bh))
            img[y:y + bh, x:x + bw] = rng.integers(0, 256, 3, dtype=np.uint8)
            anns.append(dict(
                id=len(anns) + 1, image_id=i + 1,
                category_id=int(rng.integers(1, len(classes) + 1)),
                bbox=[x, y, bw, bh], area=float(bw * bh), iscrowd=0,
                segmentation=[[x, y, x + bw, y, x + bw, y + bh, x, y + bh]]))
        _write_image(osp.join(root, 'train2017', name), img)
        images.append(dict(id=i + 1, file_name=name, width=w, height=h))
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    with open(osp.join(root, 'annotations', 'instances_train2017.json'), 'w') as f:
        json.dump(dict(images=images, annotations=anns,
                       categories=[dict(id=c + 1, name=n)
                                   for c, n in enumerate(classes)]), f)
    return root


def write_ade20k(root: str, num: int, size: int = 512, seed: int = 0) -> str:
    """ADE20K layout (``images/training/*.jpg``, ``annotations/training/*.png``
    with values 1..150, 0 = other): noise images, four class blocks each."""
    rng = np.random.default_rng(seed)
    for i in range(num):
        img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        seg = np.zeros((size, size), dtype=np.uint8)
        half = size // 2
        for qy in (0, half):
            for qx in (0, half):
                seg[qy:qy + half, qx:qx + half] = rng.integers(1, 151)
        _write_image(osp.join(root, 'images', 'training', f'ADE_{i:08d}.jpg'), img)
        _write_image(osp.join(root, 'annotations', 'training', f'ADE_{i:08d}.png'),
                     seg)
    return root


# --------------------------------------------------------------- configs
def _plain(obj):
    """ConfigDicts / tuples as plain Python literals for a config file."""
    if hasattr(obj, 'to_dict'):
        obj = obj.to_dict()
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_plain(v) for v in obj)
    return obj


def expected_dtype(cfg, train_args: str) -> str:
    """The precision a run must train in: bf16/fp16 with AMP, else fp32."""
    wrapper = cfg.optim_wrapper
    amp = '--amp' in train_args.split() or 'Amp' in wrapper.get('type', '')
    if not amp:
        return 'float32'
    if 'optim_wrapper.dtype=bfloat16' in train_args:
        return 'bfloat16'
    return str(wrapper.get('dtype') or 'float16')


def check_config_text(base: str, cfg, name: str, data_root: str, iters: int,
                      device: str, dtype: str, out_json: str, batch: Optional[int],
                      num_workers: Optional[int], skip: int) -> str:
    """A config that is ``base`` with only what a check must change."""
    imports = list(cfg.get('custom_imports', {}).get('imports', []))
    hooks = _plain(cfg.get('custom_hooks', []))
    hooks.append(dict(type='DeviceCheckHook', device=device, dtype=dtype,
                      out=out_json, name=name, skip=skip))
    loader = dict(dataset=dict(data_root=data_root))
    if batch is not None:
        loader['batch_size'] = batch
    if num_workers is not None:
        loader['num_workers'] = num_workers
        loader['persistent_workers'] = num_workers > 0
    return '\n'.join([
        f'# check of {base}: generated by mmhybrid.benchmarks.gpu_check',
        f'_base_ = [{osp.abspath(base)!r}]',
        f"custom_imports = dict(imports={imports + ['mmhybrid.engine']!r}, "
        'allow_failed_imports=False)',
        f"train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters={iters})",
        'val_cfg = None',
        'val_dataloader = None',
        'val_evaluator = None',
        "param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, "
        f'begin=0, end={iters})]',
        "default_hooks = dict(checkpoint=None, logger=dict(type='LoggerHook', "
        'interval=1))',
        'log_processor = dict(by_epoch=False)',
        # random init: no pre-trained backbone file on a check machine
        'model = dict(backbone=dict(init_cfg=None))' if _loads_checkpoint(cfg) else '',
        f'custom_hooks = {pprint.pformat(hooks, width=88)}',
        f'train_dataloader = {pprint.pformat(loader, width=88)}',
        ''])


def _loads_checkpoint(cfg) -> bool:
    init = cfg.model.get('backbone', {}).get('init_cfg')
    return bool(init) and bool(init.get('checkpoint'))


def prepare(work_dir: str, device: str, dry_run: bool,
            headline_iters: int, downstream_iters: int,
            downstream: bool = True) -> List[Dict[str, str]]:
    """Data, check configs and ``runs.tsv`` under ``work_dir``; with
    ``downstream=False`` the headline row alone (the synthetic COCO data needs
    mmdet, which needs mmcv's compiled ops)."""
    from mmengine.config import Config
    os.makedirs(work_dir, exist_ok=True)
    data = osp.join(work_dir, 'data')
    runs = []
    cfg = Config.fromfile(osp.join(REPO, HEADLINE))
    head_batch = 2 if dry_run else None  # the recipe's 128 per GPU on a GPU
    num = 4 if dry_run else 2 * cfg.train_dataloader.batch_size
    write_multilabel(osp.join(data, 'ml-images'), num,
                     cfg.model.multilabel.head.num_classes)
    runs.append(dict(name='hybrid_swin-b', base=HEADLINE, cfg=cfg,
                     root=osp.join(data, 'ml-images'), args=HEADLINE_ARGS,
                     iters=headline_iters, batch=head_batch))
    configs = sorted(p for g in DOWNSTREAM_GLOBS
                     for p in glob.glob(osp.join(REPO, g))) if downstream else []
    if any('/mmdet/' in p for p in configs):
        write_coco(osp.join(data, 'coco'), 2 if dry_run else 8)
    if any('/mmseg/' in p for p in configs):
        write_ade20k(osp.join(data, 'ade20k'), 2 if dry_run else 8)
    for path in configs:
        base = osp.relpath(path, REPO)
        dcfg = Config.fromfile(path)
        kind = 'coco' if '/mmdet/' in path else 'ade20k'
        # dry run: one image per step for Mask R-CNN (slow on CPU); UperNet's
        # pyramid pooling BN needs the recipe's two
        runs.append(dict(name=osp.splitext(osp.basename(path))[0], base=base,
                         cfg=dcfg, root=osp.join(data, kind), args='',
                         iters=downstream_iters,
                         batch=1 if dry_run and kind == 'coco' else None))
    rows = []
    for run in runs:
        dtype = 'float32' if device == 'cpu' else expected_dtype(run['cfg'], run['args'])
        config = osp.join(work_dir, 'configs', run['name'] + '.py')
        os.makedirs(osp.dirname(config), exist_ok=True)
        out_json = osp.abspath(osp.join(work_dir, run['name'], SUMMARY_NAME))
        with open(config, 'w') as f:
            f.write(check_config_text(
                osp.join(REPO, run['base']), run['cfg'], run['name'],
                osp.abspath(run['root']) + '/', run['iters'], device, dtype,
                out_json, run['batch'], 0 if dry_run else None,
                skip=min(2, run['iters'] - 1)))
        rows.append(dict(name=run['name'], config=config, args=run['args'],
                         dtype=dtype))
    with open(osp.join(work_dir, 'runs.tsv'), 'w') as f:
        for r in rows:
            f.write(f"{r['name']}\t{r['config']}\t{r['args']}\n")
    return rows


# -------------------------------------------------------------- preflight
def preflight(device: str, mmcv_ops: bool = True) -> List[str]:
    """What would make a ``device`` run fall back or fail; [] when ready
    (``mmcv_ops=False``: without checking mmcv's CUDA ops, which only the
    Mask R-CNN rows need)."""
    import torch
    problems = []
    print(f'torch {torch.__version__}, CUDA build {torch.version.cuda}, '
          f'cuda available: {torch.cuda.is_available()}')
    if device == 'cpu':
        return problems
    if not torch.cuda.is_available():
        return ['CUDA is not available (torch.cuda.is_available() is False): '
                'no GPU visible, or a CPU build of torch']
    print(f'GPU: {torch.cuda.get_device_name()}, '
          f'{torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB')
    if not torch.cuda.is_bf16_supported():
        problems.append('this GPU does not support bf16 (the headline recipe '
                        'trains with AMP in bf16)')
    if not mmcv_ops:
        return problems
    try:
        from mmcv.ops import roi_align
        x = torch.rand(1, 1, 8, 8, device='cuda')
        rois = torch.tensor([[0., 0., 0., 4., 4.]], device='cuda')
        roi_align(x, rois, (2, 2), 1.0, 0, 'avg', True)
    except Exception as e:  # noqa: BLE001  (any failure means no CUDA ops)
        problems.append(f'mmcv CUDA ops do not run ({type(e).__name__}: {e}); '
                        'Mask R-CNN needs them: clear the wheel cache and '
                        'rebuild mmcv with CUDA visible (README, GPUs)')
    return problems


def selftest() -> None:
    """The alarm goes off: DeviceCheckHook flags a CPU fp32 step when a GPU
    bf16 one was asked."""
    import torch
    from mmengine.optim import OptimWrapper
    from torch import nn

    from mmhybrid.engine.hooks import DeviceCheckHook
    model = nn.Sequential()
    model.backbone = nn.Sequential(nn.Linear(4, 4))
    hook = DeviceCheckHook(device='cuda', dtype='bfloat16')
    hook.before_train(type('R', (), dict(model=model))())
    model.backbone(torch.rand(2, 4))
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    problems = hook.problems(model, wrapper)
    needed = ('parameters on', 'ran on cpu', 'returned float32', 'does not autocast')
    missing = [n for n in needed if not any(n in p for p in problems)]
    if missing:
        raise SystemExit(f'DeviceCheckHook selftest: not flagged: {missing}; '
                         f'got {problems}')
    print('DeviceCheckHook flags a CPU / fp32 step asked to be GPU / bf16:')
    for p in problems:
        print(f'  - {p}')


# ---------------------------------------------------------------- summary
def summary(work_dir: str) -> int:
    """Print one row per run from the hooks' JSON; 1 when any run is missing
    or failed its check."""
    names = []
    with open(osp.join(work_dir, 'runs.tsv')) as f:
        names = [line.split('\t')[0] for line in f if line.strip()]
    head = ['model', 'device', 'precision', 'optim wrapper', 'batch', 'iters',
            'iter s', 'img/s', 'peak GPU MiB', 'check']
    rows, bad = [], []
    for name in names:
        path = osp.join(work_dir, name, SUMMARY_NAME)
        if not osp.exists(path):
            rows.append([name] + ['-'] * 8 + ['NO RESULT'])
            bad.append(f'{name}: no {SUMMARY_NAME} (the run did not finish)')
            continue
        s = json.load(open(path))

        def f(v, fmt):
            return '-' if v is None else format(v, fmt)
        rows.append([name, s['device_name'], s['dtype'], s['optim_wrapper'],
                     f(s['batch'], 'd'), f"{s['timed_iters']}/{s['iters']}",
                     f(s['iter_s'], '.3f'), f(s['img_s'], '.3g'),
                     f(s['peak_mib'], '.0f'), s['status']])
        if s['status'] != 'ok':
            bad.append(f"{name}: " + '; '.join(s['problems']))
    widths = [max(len(str(c)) for c in col) for col in zip(head, *rows)]
    for cells in [head] + rows:
        print('  '.join(str(c).ljust(w) for c, w in zip(cells, widths)))
    print('(iter s and img/s: median over the timed iterations after warm-up, the '
          'training step without data loading; peak GPU MiB: '
          'torch.cuda.max_memory_allocated)')
    for b in bad:
        print(f'FAILED: {b}', file=sys.stderr)
    return 1 if bad else 0


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ['switches']:  # its own options (gpu_switches.parse_args)
        from .gpu_switches import main as switches_main
        sys.exit(switches_main(argv[1:]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('preflight')
    p.add_argument('--device', default='cuda')
    p.add_argument('--no-mmcv-ops', action='store_true',
                   help="do not check mmcv's CUDA ops (the switch table needs none)")
    p = sub.add_parser('prepare')
    p.add_argument('--work-dir', required=True)
    p.add_argument('--device', default='cuda')
    p.add_argument('--dry-run', action='store_true')
    p.add_argument('--headline-iters', type=int, default=10)
    p.add_argument('--downstream-iters', type=int, default=3)
    p.add_argument('--headline-only', action='store_true',
                   help='no Mask R-CNN / UperNet rows (for an mmcv without ops)')
    sub.add_parser('selftest')
    sub.add_parser('switches', help='see mmhybrid.benchmarks.gpu_switches',
                   add_help=False)
    p = sub.add_parser('summary')
    p.add_argument('--work-dir', required=True)
    args = parser.parse_args(argv)
    if args.cmd == 'preflight':
        problems = preflight(args.device, mmcv_ops=not args.no_mmcv_ops)
        for prob in problems:
            print(f'PREFLIGHT FAILED: {prob}', file=sys.stderr)
        sys.exit(1 if problems else 0)
    if args.cmd == 'prepare':
        for r in prepare(args.work_dir, args.device, args.dry_run,
                         args.headline_iters, args.downstream_iters,
                         downstream=not args.headline_only):
            print(f"{r['name']}: {r['config']} (expects {args.device}, {r['dtype']})")
    elif args.cmd == 'selftest':
        selftest()
    else:
        sys.exit(summary(args.work_dir))


if __name__ == '__main__':
    main()
