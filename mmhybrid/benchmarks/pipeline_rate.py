"""Data pipeline rate per CPU core on real-size JPEGs, and the loader cores one
GPU needs.

The images: :func:`write_jpegs` turns the demo world's small scene PNGs into
``count`` deterministic photo-size JPEGs (default 500x375, quality 90): each
source is upscaled with ``cv2.INTER_CUBIC`` and gets seeded Gaussian noise
(``noise``, in grey levels; default 12) so that the JPEG carries photo-like
entropy (about 70 KB, ~3 bits per pixel; a plain upscale compresses to ~24 KB
and would decode faster than a photo). The report gives the mean file size.

The measurement runs in ONE process doing one core's worth of work:
``torch.set_num_threads(1)``, ``cv2.setNumThreads(0)`` (Pillow decodes on the
calling thread), optionally pinned to one CPU (``--cpu``). Rows:

==================================  ===========================================
``decode LoadImageRobust cv2``      mmhybrid's loader with OpenCV's pixels:
                                    Pillow decodes the whole file as a check,
                                    then OpenCV decodes the pixels (two decodes)
``decode LoadImageRobust pillow``   ``imdecode_backend='pillow'``: one decode
                                    (the headline config's choice since this
                                    benchmark measured it)
``decode LoadImageFromFile cv2``    mmcv's plain loader (one OpenCV decode, no
                                    check), for reference
``views only (pre-decoded)``        the headline pipeline without its loader on
                                    an already decoded image (``HybridViews``
                                    with the 'masked' and 'view1' 192 px views
                                    and the SimMIM mask, ``PackInputs``)
``pipeline LoadImageRobust cv2``    the headline ``train_pipeline`` of
                                    ``configs/pretrain/hybrid_swin-b.py`` with
                                    ``imdecode_backend='cv2'``
``pipeline LoadImageRobust pillow`` the same with ``imdecode_backend='pillow'``
                                    (as shipped)
``pipeline LoadImageFromFile cv2``  the same with mmcv's loader (no check)
==================================  ===========================================

and, where the ``turbojpeg`` module imports (PyTurboJPEG, which needs the
system's ``libturbojpeg``), ``decode``/``pipeline LoadImageFromFile turbojpeg``
(mmcv's ``imdecode_backend='turbojpeg'``).

Each row maps a results dict as the dataset gives it (``img_path``,
``sample_idx``, a ``gt_label``) through its transforms for every file. A
warm-up pass over all files comes first (it also fills the page cache), then
``repeats`` timed passes; the rows run round-robin and the order rotates every
repeat (as ``step_cost``), so a slow drift of a shared machine spreads over
all of them. Every pass reseeds ``random``, NumPy and torch, so all rows and
passes draw the same random crops and flips. A row's rate is files / seconds
of one pass; the table gives the median over the repeats and its min-max, by
wall clock and by the process's CPU time (``time.process_time``: equal on a
quiet machine; a CPU-time rate well above the wall rate says the core was
shared).

Loader cores per GPU: for each full-pipeline row and each GPU rate
(``--gpu-rates``; default 354 img/s, the headline step measured on one H200 in
``results/gpu_check/``, and 708, twice that), ``ceil(gpu_rate / rate)`` with
the median wall-clock rate. That is a lower bound for a data loader: worker
IPC (the views are pickled through shared memory), collation, pinning and the
dataset's own ``__getitem__`` are not counted, and a hyper-threaded "core" is
one logical CPU.

The header states whether Pillow and OpenCV decode JPEG with libjpeg-turbo
(``PIL.features.check_feature('libjpeg_turbo')``, ``cv2.getBuildInformation``)
and whether a ``turbojpeg`` module is importable.
"""
import argparse
import copy
import datetime
import math
import os
import os.path as osp
import random
import re
import shlex
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from .text_table import machine_line, render_table

HEADLINE_CONFIG = 'configs/pretrain/hybrid_swin-b.py'
DEMO_SOURCE = 'data/fashion_demo/scenes/train'
# img/s of the headline step on one H200 (results/gpu_check/, bf16, batch 128,
# data loading excluded), and the goal of twice that
GPU_RATES = (354.0, 708.0)
IMAGE_EXTS = ('.png', '.jpg', '.jpeg', '.bmp', '.webp')
LOADER = 'LoadImageRobust'


# ------------------------------------------------------------------ the JPEGs
def source_images(source_root: str) -> List[str]:
    """Image files under ``source_root`` (recursive), in sorted order."""
    found = []
    for root, dirs, files in os.walk(source_root):
        dirs.sort()
        found += [osp.join(root, f) for f in sorted(files)
                  if f.lower().endswith(IMAGE_EXTS)]
    if not found:
        raise FileNotFoundError(f'no images ({", ".join(IMAGE_EXTS)}) under '
                                f'{source_root!r}')
    return found


def write_jpegs(source_root: str, out_dir: str, count: int,
                size: Tuple[int, int] = (500, 375), quality: int = 90,
                seed: int = 0, noise: float = 12.0) -> List[str]:
    """Write ``count`` deterministic photo-size JPEGs made from the images
    under ``source_root``.

    Image ``i`` (``00000.jpg``, ...) is the ``i``-th source of a seeded
    permutation (cycled when ``count`` exceeds the sources) upscaled to
    ``size`` with ``cv2.INTER_CUBIC``, plus Gaussian noise of std ``noise``
    grey levels from ``np.random.default_rng([seed, i])``, rounded and
    encoded by OpenCV at ``quality``. The same arguments write the same bytes.

    Args:
        source_root (str): A folder of images (e.g. the demo world's
            ``scenes/train``).
        out_dir (str): Where to write (created; files of the same names are
            overwritten).
        count (int): How many JPEGs.
        size (tuple): ``(width, height)``. Defaults to (500, 375).
        quality (int): JPEG quality. Defaults to 90.
        seed (int): Seed of the source order and the noise.
        noise (float): Noise std in grey levels (0: a plain upscale).

    Returns:
        list[str]: The written paths, in order.
    """
    if count < 1:
        raise ValueError(f'count must be >= 1, got {count}')
    sources = source_images(source_root)
    order = np.random.default_rng(seed).permutation(len(sources))
    os.makedirs(out_dir, exist_ok=True)
    width, height = size
    paths = []
    for i in range(count):
        src = sources[order[i % len(sources)]]
        img = cv2.imread(src, cv2.IMREAD_COLOR)
        if img is None:
            raise OSError(f'cannot read source image {src!r}')
        img = cv2.resize(img, (width, height), interpolation=cv2.INTER_CUBIC)
        if noise > 0:
            rng = np.random.default_rng([seed, i])
            img = img.astype(np.float32) + rng.normal(
                0.0, noise, img.shape).astype(np.float32)
            img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
        ok, buf = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise OSError(f'OpenCV could not encode image {i} as JPEG')
        path = osp.join(out_dir, f'{i:05d}.jpg')
        with open(path, 'wb') as f:
            f.write(buf.tobytes())
        paths.append(path)
    return paths


def mean_file_kb(paths: Sequence[str]) -> float:
    return statistics.mean(osp.getsize(p) for p in paths) / 1024


# -------------------------------------------------------- the JPEG libraries
def jpeg_libraries() -> Dict[str, str]:
    """Which JPEG decoder Pillow, OpenCV and (if importable) turbojpeg use."""
    import PIL
    from PIL import features
    info = {}
    turbo = features.check_feature('libjpeg_turbo')
    version = features.version_feature('libjpeg_turbo') if turbo else None
    info['pillow'] = (f'Pillow {PIL.__version__}: ' + (
        f'libjpeg-turbo {version}' if turbo else
        f'libjpeg {features.version("jpg")} (not libjpeg-turbo)'))
    jpeg_line = next((ln.split(':', 1)[1].strip()
                      for ln in cv2.getBuildInformation().splitlines()
                      if re.match(r'\s*JPEG:', ln)), 'unknown')
    info['cv2'] = f'OpenCV {cv2.__version__}: JPEG {jpeg_line}'
    info['turbojpeg'] = turbojpeg_status()
    return info


def turbojpeg_status() -> str:
    """'importable (...)' or why not: PyTurboJPEG needs its module and the
    system's libturbojpeg."""
    try:
        from turbojpeg import TurboJPEG
    except ImportError as e:
        return f'not importable ({e})'
    try:
        TurboJPEG()
    except Exception as e:  # module present, libturbojpeg missing
        return f'module present, library not loadable ({type(e).__name__}: {e})'
    return 'importable (PyTurboJPEG with libturbojpeg)'


def turbojpeg_available() -> bool:
    return turbojpeg_status().startswith('importable')


# ------------------------------------------------------------------ the rows
def single_core() -> str:
    """Make this process do one core's worth of work; say what was set."""
    torch.set_num_threads(1)
    cv2.setNumThreads(0)
    return (f'torch threads {torch.get_num_threads()}, cv2.setNumThreads(0) '
            f'(cv2 threads {cv2.getNumThreads()}), Pillow single-threaded')


def pipeline_cfgs(cfg: Config, loader: Optional[dict]) -> List[dict]:
    """``cfg.train_pipeline`` with its ``LoadImageRobust`` step replaced by
    ``loader`` (None: dropped)."""
    steps = copy.deepcopy(list(cfg.train_pipeline))
    idx = [i for i, t in enumerate(steps) if t.get('type') == LOADER]
    if len(idx) != 1:
        raise ValueError(f'expected one {LOADER} in train_pipeline, found '
                         f'{len(idx)}: {[t.get("type") for t in steps]}')
    if loader is None:
        del steps[idx[0]]
    else:
        steps[idx[0]] = loader
    return steps


def loader_cfgs() -> Dict[str, dict]:
    """The loaders measured, by label."""
    loaders = {
        f'{LOADER} cv2': dict(type=LOADER, on_error='raise',
                              imdecode_backend='cv2'),
        f'{LOADER} pillow': dict(type=LOADER, on_error='raise',
                                 imdecode_backend='pillow'),
        'LoadImageFromFile cv2': dict(type='LoadImageFromFile',
                                      imdecode_backend='cv2'),
    }
    if turbojpeg_available():
        loaders['LoadImageFromFile turbojpeg'] = dict(
            type='LoadImageFromFile', imdecode_backend='turbojpeg')
    return loaders


class Row:
    """One measured row: a name, a kind (``decode``/``views``/``pipeline``)
    and a function that maps a file index to the row's output."""

    def __init__(self, name: str, kind: str, fn: Callable[[int], dict]) -> None:
        self.name, self.kind, self.fn = name, kind, fn
        self.wall: List[float] = []  # seconds per timed pass
        self.cpu: List[float] = []

    def run_pass(self, n: int, seed: int = 0) -> Tuple[float, float]:
        """Map all ``n`` files; (wall, CPU) seconds. The random state is
        reseeded first, so every pass of every row draws the same crops."""
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for i in range(n):
            if self.fn(i) is None:
                raise RuntimeError(f'{self.name}: the transforms returned None '
                                   f'for file {i}')
        return time.perf_counter() - wall0, time.process_time() - cpu0


def _sample(paths: Sequence[str], i: int) -> dict:
    # as PartialMultiLabelDataset gives a labelled sample
    return dict(img_path=paths[i], sample_idx=i, gt_label=[i % 7, 7 + i % 5])


def build_rows(cfg: Config, paths: Sequence[str],
               kinds: Sequence[str] = ('decode', 'views', 'pipeline')) -> List[Row]:
    """The rows (see the module docstring) over ``paths``."""
    from mmcv.transforms import Compose
    from mmpretrain.registry import TRANSFORMS
    import mmhybrid  # noqa: F401  (registers LoadImageRobust, HybridViews)

    rows = []
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        loaders = {label: TRANSFORMS.build(c) for label, c in loader_cfgs().items()}
        if 'decode' in kinds:
            for label, loader in loaders.items():
                rows.append(Row(f'decode {label}', 'decode',
                                lambda i, t=loader: t(dict(img_path=paths[i]))))
        if 'views' in kinds:
            views = Compose(pipeline_cfgs(cfg, None))
            decode = loaders[f'{LOADER} cv2']
            decoded = [decode(_sample(paths, i)) for i in range(len(paths))]
            rows.append(Row('views only (pre-decoded)', 'views',
                            lambda i: views(dict(decoded[i]))))
        if 'pipeline' in kinds:
            for label, loader in loader_cfgs().items():
                pipe = Compose(pipeline_cfgs(cfg, loader))
                rows.append(Row(f'pipeline {label}', 'pipeline',
                                lambda i, p=pipe: p(_sample(paths, i))))
    return rows


def measure(rows: Sequence[Row], n: int, repeats: int, seed: int = 0,
            log: Callable[[str], None] = print) -> None:
    """A warm-up pass per row, then ``repeats`` timed passes, round-robin with
    the order rotating every repeat; fills each row's ``wall`` and ``cpu``."""
    for row in rows:
        row.run_pass(n, seed)
    log(f'  warmed up {len(rows)} rows over {n} files')
    for r in range(repeats):
        k = r % len(rows)
        for row in list(rows[k:]) + list(rows[:k]):
            wall, cpu = row.run_pass(n, seed)
            row.wall.append(wall)
            row.cpu.append(cpu)
        log(f'  repeat {r + 1}/{repeats}: ' + ', '.join(
            f'{row.name} {n / row.wall[-1]:.1f}' for row in rows) + ' img/s')


def loader_cores(gpu_rate: float, per_core_rate: float) -> int:
    """Loader cores one GPU needs: ``ceil(gpu_rate / per_core_rate)``."""
    if per_core_rate <= 0:
        raise ValueError(f'per-core rate must be positive, got {per_core_rate}')
    return math.ceil(gpu_rate / per_core_rate - 1e-9)


def summarise(rows: Sequence[Row], n: int,
              gpu_rates: Sequence[float] = GPU_RATES) -> List[dict]:
    out = []
    for row in rows:
        rates = [n / s for s in row.wall]
        cpu_rates = [n / s for s in row.cpu if s > 0]
        med = statistics.median(rates)
        out.append(dict(
            row=row.name, kind=row.kind, files=n, repeats=len(rates),
            img_s=med, min_img_s=min(rates), max_img_s=max(rates),
            ms_per_img=1000 / med,
            cpu_img_s=statistics.median(cpu_rates) if cpu_rates else None,
            cores={g: loader_cores(g, med) for g in gpu_rates}
            if row.kind == 'pipeline' else {}))
    return out


def verdict_lines(results: List[dict], gpu_rates: Sequence[float]) -> List[str]:
    """What the decode path costs in the full pipeline, and the fastest row."""
    by = {r['row']: r for r in results}
    lines = []
    cv, pil = by.get(f'pipeline {LOADER} cv2'), by.get(f'pipeline {LOADER} pillow')
    views = by.get('views only (pre-decoded)')
    if cv and pil:
        lines.append(
            f"{LOADER} imdecode_backend='pillow' vs 'cv2' (OpenCV pixels) in the "
            f"full pipeline: {pil['img_s'] / cv['img_s']:.2f}x the rate "
            f"({pil['ms_per_img']:.2f} vs {cv['ms_per_img']:.2f} ms/img)")
    if cv and views:
        share = 1 - views['ms_per_img'] / cv['ms_per_img']
        lines.append(f'loading (read + decode) is {share:.0%} of the OpenCV-pixel '
                     f"pipeline's time per image ({views['ms_per_img']:.2f} "
                     'ms/img without it)')
    pipes = [r for r in results if r['kind'] == 'pipeline']
    if pipes:
        best = max(pipes, key=lambda r: r['img_s'])
        lines.append(f"fastest full pipeline: {best['row']} "
                     f"({best['img_s']:.1f} img/s per core; loader cores per "
                     'GPU ' + ', '.join(f'{best["cores"][g]} at {g:g} img/s'
                                        for g in gpu_rates) + ')')
    return lines


# -------------------------------------------------------------------- report
def machine_info() -> str:
    try:
        allowed = len(os.sched_getaffinity(0))
    except AttributeError:
        allowed = os.cpu_count()
    return machine_line([f'{allowed} allowed to this process', 'OMP_NUM_THREADS='
                         f'{os.environ.get("OMP_NUM_THREADS", "unset")}'])


def format_table(results: List[dict], gpu_rates: Sequence[float],
                 markdown: bool = False) -> str:
    head = (['row', 'img/s/core (median)', 'min-max', 'ms/img', 'CPU-time img/s']
            + [f'cores for {g:g} img/s' for g in gpu_rates])

    def cells(r):
        return ([r['row'], f"{r['img_s']:.1f}",
                 f"{r['min_img_s']:.1f}-{r['max_img_s']:.1f}",
                 f"{r['ms_per_img']:.2f}",
                 '-' if r['cpu_img_s'] is None else f"{r['cpu_img_s']:.1f}"]
                + [str(r['cores'][g]) if g in r['cores'] else '-'
                   for g in gpu_rates])
    return render_table(head, [cells(r) for r in results], markdown)


def write_markdown(path: str, header: List[str], table: str,
                   verdicts: List[str]) -> None:
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    with open(path, 'a') as f:
        f.write('\n## pipeline rate, ' + header[0] + '\n\n')
        f.writelines(f'- {line}\n' for line in header[1:])
        f.write('\n' + table + '\n\n')
        f.writelines(f'- {line}\n' for line in verdicts)


# ---------------------------------------------------------------------- main
def parse_args(argv: Optional[Sequence[str]] = None):
    parser = argparse.ArgumentParser(
        prog='tools/benchmarks/pipeline_rate.py',
        description='img/s per CPU core of the headline data pipeline (decode '
        '+ two views + mask) on real-size JPEGs, and the loader cores per GPU.')
    parser.add_argument('--config', default=HEADLINE_CONFIG,
                        help='config whose train_pipeline is measured')
    parser.add_argument('--source', default=DEMO_SOURCE,
                        help='folder of source images for the JPEGs')
    parser.add_argument('--jpeg-dir', default='work_dirs/pipeline_rate/jpegs',
                        help='where the JPEGs are written')
    parser.add_argument('--images', type=int, default=200)
    parser.add_argument('--size', type=int, nargs=2, default=(500, 375),
                        metavar=('W', 'H'))
    parser.add_argument('--quality', type=int, default=90)
    parser.add_argument('--noise', type=float, default=12.0,
                        help='noise std in grey levels added to the upscale')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--rows', nargs='+', default=['decode', 'views', 'pipeline'],
                        choices=['decode', 'views', 'pipeline'])
    parser.add_argument('--gpu-rates', type=float, nargs='+', default=list(GPU_RATES),
                        help='img/s of one GPU to size the loader for (default: '
                        '354, the headline step on one H200, and 708)')
    parser.add_argument('--cpu', type=int, default=None,
                        help='pin the process to this CPU (os.sched_setaffinity)')
    parser.add_argument('--out', default=None,
                        help='append a markdown section with command, date and '
                        'machine here (e.g. results/pipeline_rate.md)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> List[dict]:
    args = parse_args(argv)
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    threads = single_core()
    load_start = os.getloadavg()
    date = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
    cfg = Config.fromfile(args.config)
    paths = write_jpegs(args.source, args.jpeg_dir, args.images,
                        size=tuple(args.size), quality=args.quality,
                        seed=args.seed, noise=args.noise)
    kb = mean_file_kb(paths)
    libs = jpeg_libraries()
    print(f'pipeline_rate: {len(paths)} JPEGs {args.size[0]}x{args.size[1]} q'
          f'{args.quality} (mean {kb:.1f} KB) in {args.jpeg_dir}; {threads}; '
          f'warm-up 1 pass, {args.repeats} timed passes, round-robin')
    rows = build_rows(cfg, paths, args.rows)
    measure(rows, len(paths), args.repeats, seed=args.seed)
    results = summarise(rows, len(paths), args.gpu_rates)
    load_end = os.getloadavg()
    cmd = ' '.join(shlex.quote(a) for a in (argv if argv is not None
                                            else sys.argv[1:]))
    header = [
        date,
        f'command: `python tools/benchmarks/pipeline_rate.py {cmd}`',
        f'machine: {machine_info()}; load average {load_start[0]:.2f} at start, '
        f'{load_end[0]:.2f} at end'
        + (f'; pinned to CPU {args.cpu}' if args.cpu is not None else ''),
        f'one core: {threads}',
        f'images: {len(paths)} JPEGs {args.size[0]}x{args.size[1]}, quality '
        f'{args.quality}, mean {kb:.1f} KB, from {args.source} (cubic upscale + '
        f'noise std {args.noise:g}, seed {args.seed})',
        f'pipeline: train_pipeline of {args.config} '
        f'({" -> ".join(t["type"] for t in cfg.train_pipeline)})',
        'JPEG decoders: ' + '; '.join(f'{libs[k]}' for k in ('pillow', 'cv2'))
        + f"; turbojpeg module: {libs['turbojpeg']}",
        f'timing: warm-up pass, {args.repeats} timed passes over all files per '
        'row, round-robin; median and min-max of the per-pass rates (wall '
        'clock; CPU time of the process alongside)',
        'loader cores per GPU: ceil(GPU img/s / pipeline img/s per core); a '
        'lower bound (no worker IPC, collation or dataset overhead)',
    ]
    verdicts = verdict_lines(results, args.gpu_rates)
    table = format_table(results, args.gpu_rates)
    print('\n'.join(header[1:]))
    print(table)
    print('\n'.join(verdicts))
    if args.out:
        write_markdown(args.out, header,
                       format_table(results, args.gpu_rates, markdown=True),
                       verdicts)
    return results


if __name__ == '__main__':
    main()
