"""Step cost of HybridPretrain against mmpretrain's own single-task algorithms.

Every variant trains the same backbone size (the config's Swin) on the same
synthetic batch, in one process, with the config's optimizer (AdamW, paramwise
decay, gradient clipping) and the requested precision:

==========================  =====================================================
``recipe-default``          the config's HybridPretrain exactly as shipped (what
                            a user of the config trains: with the packaged
                            recipes, today's default step plan)
``hybrid-shared``           the config's HybridPretrain, view_mode 'shared' with
                            the label head and query on the masked (MIM) pass
``hybrid-shared-unmasked``  the same, label head and query on an unmasked pass
                            (the recipes' default since the ablation)
``...-unmasked-half``       hybrid-shared-unmasked with that pass at half the
                            side (``unmasked_scale=0.5``)
``...-unmasked-half-key``   the same, the momentum key at half the side too
                            (``key_scale=0.5``)
``hybrid-separate``         view_mode 'separate' (MoCo v3's two crops + SimMIM)
``SimMIM``                  mmpretrain's ``SimMIM`` (``SimMIMSwinTransformer``)
``MoCoV3``                  mmpretrain's ``MoCoV3`` (``SwinTransformer``)
``ImageClassifier``         mmpretrain's ``ImageClassifier`` with
                            ``MultiLabelLinearClsHead`` (``SwinTransformer``)
==========================  =====================================================

The mmpretrain models take their necks and heads from the config's tasks (the
classifier's head is ``MultiLabelLinearClsHead`` with the config's classes and
loss). Timing follows timm's ``benchmark.py``: warm-up steps first, then the
variants run round-robin (the order rotates every repeat, so slow drifts of a
shared machine spread over all of them) and each figure is the median over the
repeats, with its min and max. Peak memory is measured in a child process per
variant (two training steps): the resident-set high-water mark above the
process's state before the model was built on CPU (``VmHWM``, reset then), or
``torch.cuda.max_memory_allocated`` on GPU.

Backbone passes per step are counted with forward hooks on the online backbone
and the momentum encoder's backbone during the first warm-up step; the
precision actually used is checked then too (the dtype a backbone ``Linear``
returns and the device of its input), so a run never reports CPU or fp32
figures under a GPU or bf16 label.
"""
import argparse
import copy
import csv
import datetime
import gc
import inspect
import json
import logging
import os
import os.path as osp
import resource
import shlex
import statistics
import subprocess
import sys
import time
from contextlib import nullcontext
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import MessageHub, MMLogger
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.models.heads import MultiLabelLinearClsHead
from mmpretrain.registry import MODELS, TRANSFORMS
from mmpretrain.structures import DataSample
from torch import nn

from .text_table import machine_line, render_table

DEMO_CONFIG = 'configs/pretrain/hybrid_swin-demo_fashion-64px.py'
RECIPE = 'recipe-default'  # the config's model as shipped, no overrides
HYBRID = (RECIPE, 'hybrid-shared', 'hybrid-shared-unmasked',
          'hybrid-shared-unmasked-half', 'hybrid-shared-unmasked-half-key',
          'hybrid-separate')
SINGLE = ('SimMIM', 'MoCoV3', 'ImageClassifier')  # mmpretrain's own
VARIANTS = HYBRID + SINGLE
# overrides of the config's HybridPretrain for each hybrid variant
HYBRID_OVERRIDES = {
    'hybrid-shared': dict(view_mode='shared', label_input='masked',
                          query_input='masked'),
    'hybrid-shared-unmasked': dict(view_mode='shared', label_input='unmasked',
                                   query_input='unmasked'),
    'hybrid-shared-unmasked-half': dict(view_mode='shared', label_input='unmasked',
                                        query_input='unmasked', unmasked_scale=0.5),
    'hybrid-shared-unmasked-half-key': dict(
        view_mode='shared', label_input='unmasked', query_input='unmasked',
        unmasked_scale=0.5, key_scale=0.5),
    'hybrid-separate': dict(view_mode='separate', label_input=None,
                            query_input=None),
}
# targets at equal batch: issue 12's for hybrid-shared, issue 28's for the
# shipped recipe's step
TARGETS = (('hybrid-shared', 'time', 'sum', 0.6),
           ('hybrid-shared', 'time', 'SimMIM', 1.5),
           ('hybrid-shared', 'memory', 'SimMIM', 1.5),
           (RECIPE, 'time', 'SimMIM', 1.5), (RECIPE, 'memory', 'SimMIM', 1.5))
# the ablation method whose pre-training is each hybrid variant's step on the
# demo recipe (its kept hybrid: unmasked pass, task weights 1 : 1 : 4), so
# ``--screen`` can put the transfer a cheaper step costs beside its time
TRANSFER_TWINS = {
    RECIPE: 'hybrid-shared-unmasked+label-weight-4',
    'hybrid-shared-unmasked-half-key':
    'hybrid-shared-unmasked+label-weight-4+half-res-unmasked-and-key',
}
SCREEN_METRICS = ('knn_top1', 'linear_top1', 'ft10pct_top1')
PRECISIONS = {None: torch.float32, 'bf16': torch.bfloat16, 'fp16': torch.float16}
VIEW_ORDER = ('masked', 'view1', 'view2')


# ---------------------------------------------------------------- the models
def variant_model_cfg(cfg: Config, name: str) -> ConfigDict:
    """The model config of variant ``name`` on the backbone of ``cfg.model``."""
    hybrid = copy.deepcopy(cfg.model)
    if name == RECIPE:
        return hybrid
    if name in HYBRID:
        hybrid.update(HYBRID_OVERRIDES[name])
        if hybrid.get('unmasked_scale', 1) < 1 or hybrid.get('key_scale', 1) < 1:
            # a smaller view's last stages can fall below the window
            hybrid.backbone.pad_small_map = True
        return hybrid
    backbone = copy.deepcopy(hybrid.backbone)  # SimMIMSwinTransformer
    swin = dict(backbone, type='SwinTransformer')  # same arguments, no mask token
    selfsup_pre = copy.deepcopy(hybrid.data_preprocessor)
    if name == 'SimMIM':
        return ConfigDict(type='SimMIM', backbone=backbone,
                          neck=hybrid.mim.neck, head=hybrid.mim.head,
                          data_preprocessor=selfsup_pre)
    if name == 'MoCoV3':
        return ConfigDict(type='MoCoV3', backbone=swin,
                          neck=hybrid.contrastive.neck,
                          head=hybrid.contrastive.head,
                          base_momentum=hybrid.contrastive.get('base_momentum', 0.01),
                          data_preprocessor=selfsup_pre)
    if name == 'ImageClassifier':
        # the head's own arguments (ours adds some for partial labels)
        accepted = inspect.signature(MultiLabelLinearClsHead).parameters
        head = {k: v for k, v in hybrid.multilabel.head.items() if k in accepted}
        head['type'] = 'MultiLabelLinearClsHead'
        cls_pre = {k: v for k, v in selfsup_pre.items() if k != 'type'}
        return ConfigDict(type='ImageClassifier', backbone=swin,
                          neck=hybrid.multilabel.get(
                              'neck', dict(type='GlobalAveragePooling')),
                          head=head,
                          data_preprocessor=dict(type='ClsDataPreprocessor', **cls_pre))
    raise KeyError(f'unknown variant {name!r}; one of {VARIANTS}')


def build_variant(cfg: Config, name: str, device: str) -> nn.Module:
    """Build, initialise and move variant ``name``; SyncBN becomes BN as in
    mmengine's single-process Runner."""
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(variant_model_cfg(cfg, name))
    model.init_weights()
    model = revert_sync_batchnorm(model)
    return model.to(device).train()


def describe_backbone(cfg: Config) -> str:
    b = cfg.model.backbone
    arch = b.arch if isinstance(b.arch, str) else (
        f"embed {b.arch['embed_dims']} depths {list(b.arch['depths'])}")
    window = b.get('stage_cfgs', {}).get('block_cfgs', {}).get('window_size', 7)
    return f'Swin {arch}, {b.img_size} px, window {window}'


# ------------------------------------------------------------------ the data
def mask_generator(cfg: Config):
    """The config's ``SimMIMMaskGenerator`` (from ``HybridViews``), if any."""
    for t in cfg.get('train_pipeline', []):
        if t.get('type') == 'HybridViews' and t.get('mask_generator'):
            return TRANSFORMS.build(t['mask_generator'])
    return None


def synthetic_views(cfg: Config, batch: int, seed: int = 0) -> dict:
    """uint8 views ``masked``, ``view1``, ``view2`` (B, 3, S, S), masks at the
    backbone's token grid, and multi-label targets."""
    size = cfg.model.backbone.img_size
    g = torch.Generator().manual_seed(seed)
    views = {v: torch.randint(0, 256, (batch, 3, size, size), generator=g,
                              dtype=torch.uint8) for v in VIEW_ORDER}
    gen = mask_generator(cfg)
    if gen is not None:
        masks = [torch.as_tensor(gen.transform({})['mask']) for _ in range(batch)]
    else:
        side = size // 4
        masks = [(torch.rand(side, side, generator=g) < 0.6).long()
                 for _ in range(batch)]
    num_classes = cfg.model.multilabel.head.num_classes
    labels = [torch.randint(0, num_classes, (3, ), generator=g).unique().tolist()
              for _ in range(batch)]
    return dict(views=views, masks=masks, labels=labels)


def variant_batch(name: str, model: nn.Module, synth: dict) -> dict:
    """The batch variant ``name`` trains on, as its data loader would give it:
    hybrid variants get the views they read (half the samples labelled),
    SimMIM the masked view with masks, MoCoV3 ``view1`` and ``view2``, the
    classifier the weak view with every sample labelled."""
    views, masks, labels = synth['views'], synth['masks'], synth['labels']
    batch = len(masks)
    samples = [DataSample() for _ in range(batch)]
    if name in HYBRID:
        names = tuple(model.required_views)
        for i, ds in enumerate(samples):
            ds.set_metainfo(dict(view_names=names))
            ds.set_mask(masks[i])
            if i % 2 == 0:
                ds.set_gt_label(labels[i])
        return dict(inputs=[views[v] for v in names], data_samples=samples)
    if name == 'SimMIM':
        for ds, m in zip(samples, masks):
            ds.set_mask(m)
        return dict(inputs=views['masked'], data_samples=samples)
    if name == 'MoCoV3':
        return dict(inputs=[views['view1'], views['view2']], data_samples=samples)
    for ds, lab in zip(samples, labels):
        ds.set_gt_label(lab)
    return dict(inputs=views['masked'], data_samples=samples)


# ------------------------------------------------------- precision and steps
def resolve_device(device: str) -> str:
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise SystemExit(f'--device {device}: CUDA is not available '
                         '(torch.cuda.is_available() is False); refusing to '
                         'measure on the CPU instead')
    return device


def precision_name(amp: Optional[str], device: str) -> str:
    if amp is None:
        return 'fp32'
    return f'{amp} autocast ({"AmpOptimWrapper" if device != "cpu" else "cpu"})'


def build_wrapper(cfg: Config, model: nn.Module, device: str, amp: Optional[str]):
    """The config's optim wrapper (optimizer, paramwise_cfg, clip_grad) with the
    requested precision: ``AmpOptimWrapper(dtype=...)`` on GPU as training
    with ``--amp`` does; on CPU a plain ``OptimWrapper`` (the caller wraps the
    step in ``torch.autocast('cpu')`` for ``--amp``)."""
    wrapper_cfg = copy.deepcopy(cfg.optim_wrapper)
    wrapper_cfg.pop('loss_scale', None)
    wrapper_cfg.pop('dtype', None)
    if amp is not None and device != 'cpu':
        wrapper_cfg.update(type='AmpOptimWrapper',
                           dtype={'bf16': 'bfloat16', 'fp16': 'float16'}[amp],
                           loss_scale='dynamic')
    else:
        wrapper_cfg.type = 'OptimWrapper'
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)  # one line per parameter otherwise
    try:
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            return build_optim_wrapper(model, wrapper_cfg)
    finally:
        logger.setLevel(level)


def synchronize(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


class VariantRun:
    """One variant ready to train: model, optim wrapper, batch, step counters.

    Args:
        cfg (Config): The pre-training config (backbone, tasks, optimizer).
        name (str): One of :data:`VARIANTS`.
        synth (dict): :func:`synthetic_views` output, shared by all variants.
        device (str): ``'cpu'`` or ``'cuda'``.
        amp (str, optional): ``'bf16'`` / ``'fp16'`` autocast, None: fp32.
    """

    def __init__(self, cfg: Config, name: str, synth: dict, device: str,
                 amp: Optional[str]) -> None:
        self.name, self.device, self.amp = name, device, amp
        self.model = build_variant(cfg, name, device)
        self.wrapper = build_wrapper(cfg, self.model, device, amp)
        self.data = variant_batch(name, self.model, synth)
        self.batch = len(synth['masks'])
        self.passes: Optional[Dict[str, int]] = None
        self.observed: Optional[dict] = None

    def _autocast(self):
        if self.amp is not None and self.device == 'cpu':
            return torch.autocast('cpu', dtype=PRECISIONS[self.amp])
        return nullcontext()

    def step(self) -> float:
        """One training step; seconds (the batch copy is not timed)."""
        data = copy.deepcopy(self.data)
        synchronize(self.device)
        start = time.perf_counter()
        with self._autocast():
            self.model.train_step(data, self.wrapper)
        synchronize(self.device)
        return time.perf_counter() - start

    def first_step(self) -> float:
        """A step that counts the backbone passes and checks the precision."""
        counts = dict(online=0, momentum=0)
        seen = {}
        hooks = [self.model.backbone.register_forward_hook(
            lambda *_: counts.__setitem__('online', counts['online'] + 1))]
        momentum = getattr(self.model, 'momentum_encoder', None)
        if momentum is not None:
            hooks.append(momentum.module[0].register_forward_hook(
                lambda *_: counts.__setitem__('momentum', counts['momentum'] + 1)))
        linear = next(m for m in self.model.backbone.modules()
                      if isinstance(m, nn.Linear))

        def record(module, args, output):
            seen.setdefault('input_device', str(args[0].device))
            seen.setdefault('linear_dtype', str(output.dtype).replace('torch.', ''))
        hooks.append(linear.register_forward_hook(record))
        try:
            seconds = self.step()
        finally:
            for h in hooks:
                h.remove()
        self.passes, self.observed = counts, seen
        check_precision(self.name, seen, self.device, self.amp,
                        type(self.wrapper).__name__)
        return seconds


def check_precision(name: str, seen: dict, device: str, amp: Optional[str],
                    wrapper: str) -> None:
    """Fail loudly when the step ran elsewhere or in another precision than
    asked: the input device of a backbone ``Linear`` and its output dtype."""
    want_dtype = str(PRECISIONS[amp]).replace('torch.', '')
    problems = []
    if torch.device(seen.get('input_device', '?')).type != torch.device(device).type:
        problems.append(f"backbone ran on {seen.get('input_device')}, asked {device}")
    if seen.get('linear_dtype') != want_dtype:
        problems.append(f"backbone Linear returned {seen.get('linear_dtype')}, "
                        f'asked {want_dtype}')
    if amp is not None and device != 'cpu' and wrapper != 'AmpOptimWrapper':
        problems.append(f'optim wrapper is {wrapper}, not AmpOptimWrapper')
    if problems:
        raise SystemExit(f'step_cost: variant {name}: ' + '; '.join(problems))


# -------------------------------------------------------------- measurements
def prepare(cfg: Config, batch: int, seed: int = 0):
    torch.manual_seed(seed)
    hub = MessageHub.get_current_instance()
    hub.update_info('max_iters', 10000)  # CosineEMA's schedule reads it
    hub.update_info('iter', 0)
    return synthetic_views(cfg, batch, seed)


def time_variants(runs: Dict[str, VariantRun], warmup: int, repeats: int,
                  steps: int, log=print) -> Dict[str, List[float]]:
    """Seconds per step of every run: ``warmup`` untimed steps each (the first
    counts passes and checks the precision), then ``repeats`` rounds that
    time ``steps`` steps of each run, round-robin with a rotating order."""
    names = list(runs)
    for name in names:
        runs[name].first_step()
        for _ in range(warmup - 1):
            runs[name].step()
        log(f'  warmed up {name}: passes {runs[name].passes}')
    times = {name: [] for name in names}
    for r in range(repeats):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            times[name].append(sum(runs[name].step() for _ in range(steps)) / steps)
        log(f'  repeat {r + 1}/{repeats}: ' + ', '.join(
            f'{n} {times[n][-1]:.3f}s' for n in names))
    return times


def _rss_bytes(field: str) -> int:
    with open('/proc/self/status') as f:
        line = next(ln for ln in f if ln.startswith(field + ':'))
    return int(line.split()[1]) * 1024


def reset_rss_high_water() -> Optional[int]:
    """Reset the kernel's RSS high-water mark to the current RSS (Linux
    ``/proc/self/clear_refs``); returns that RSS, or None where it cannot."""
    gc.collect()
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return _rss_bytes('VmRSS')
    except (OSError, StopIteration):
        return None


def measure_memory(cfg: Config, name: str, batch: int, device: str,
                   amp: Optional[str], steps: int = 2) -> dict:
    """Peak memory of training variant ``name`` for ``steps`` steps, in this
    process, which must hold nothing else: MiB above the state before the
    model was built (CPU: the kernel's RSS high-water mark ``VmHWM``, reset
    then; not ``getrusage``'s ``ru_maxrss``, which a child also inherits from
    the parent it was forked from; GPU: ``torch.cuda.max_memory_allocated``)."""
    synth = prepare(cfg, batch)
    if device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        kind = 'torch.cuda.max_memory_allocated'
    else:
        base = reset_rss_high_water()
        kind = 'RSS high-water (VmHWM, reset before the build)'
        if base is None:  # cannot reset: earlier peaks may hide ours
            base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            kind = 'RSS high-water (getrusage ru_maxrss, not resettable here)'
    run = VariantRun(cfg, name, synth, device, amp)
    run.first_step()
    for _ in range(steps - 1):
        run.step()
    if device.startswith('cuda'):
        synchronize(device)
        peak = torch.cuda.max_memory_allocated()
    elif kind.startswith('RSS high-water (VmHWM'):
        peak = _rss_bytes('VmHWM')
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return dict(variant=name, peak_mib=(peak - base) / 2**20,
                process_peak_mib=peak / 2**20, base_mib=base / 2**20, kind=kind)


def memory_in_child(args, name: str) -> dict:
    """:func:`measure_memory` in a fresh interpreter (one variant per process)."""
    cmd = [sys.executable, '-m', 'mmhybrid.benchmarks.step_cost',
           '--memory-child', name, '--config', args.config,
           '--batch', str(args.batch), '--device', args.device]
    if args.amp:
        cmd += ['--amp', args.amp]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('{')]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f'step_cost: memory child for {name} failed '
                         f'(exit {proc.returncode}):\n{proc.stderr[-3000:]}')
    return json.loads(lines[-1])


# -------------------------------------------------------------------- report
def machine_info(device: str) -> str:
    return machine_line([torch.cuda.get_device_name()]
                        if device.startswith('cuda') else [])


def summarise(times: Dict[str, List[float]], runs: Dict[str, VariantRun],
              memory: Dict[str, dict]) -> List[dict]:
    rows = []
    for name, ts in times.items():
        run = runs[name]
        med = statistics.median(ts)
        rows.append(dict(
            variant=name, batch=run.batch,
            precision=precision_name(run.amp, run.device), device=run.device,
            online_passes=run.passes['online'],
            momentum_passes=run.passes['momentum'],
            step_s=med, min_s=min(ts), max_s=max(ts), img_s=run.batch / med,
            repeats=len(ts),
            peak_mib=memory.get(name, {}).get('peak_mib')))
    by = {r['variant']: r for r in rows}
    simmim = by.get('SimMIM')
    for r in rows:
        r['x_simmim'] = r['step_s'] / simmim['step_s'] if simmim else None
        r['mem_x_simmim'] = (r['peak_mib'] / simmim['peak_mib']
                             if simmim and r['peak_mib'] and simmim['peak_mib']
                             else None)
    return rows


def target_lines(rows: List[dict]) -> List[str]:
    """hybrid-shared and recipe-default against their targets (when the
    variants needed ran)."""
    by = {r['variant']: r for r in rows}
    lines = []
    for variant, what, ref, limit in TARGETS:
        hyb = by.get(variant)
        if hyb is None:
            continue
        label = f"batch {hyb['batch']}, {hyb['precision']}, {hyb['device']}"
        if ref == 'sum':
            if not all(s in by for s in SINGLE):
                continue
            value = hyb['step_s'] / sum(by[s]['step_s'] for s in SINGLE)
            ref_name = 'sum of SimMIM + MoCoV3 + ImageClassifier steps'
        else:
            if ref not in by:
                continue
            key = 'step_s' if what == 'time' else 'peak_mib'
            if not hyb[key] or not by[ref][key]:
                continue
            value = hyb[key] / by[ref][key]
            ref_name = f'{ref} {"step time" if what == "time" else "peak memory"}'
        verdict = 'meets' if value <= limit else 'MISSES'
        lines.append(f'{variant} / {ref_name} = {value:.2f}x '
                     f'(target <= {limit}x: {verdict}; {label})')
    return lines


def transfer_screen(screen_dir: str, variants: Sequence[str]
                    ) -> Tuple[str, List[str]]:
    """The transfer screen of each measured variant with an ablation twin
    (:data:`TRANSFER_TWINS`), read from the records under ``screen_dir``
    (``tools/benchmarks/ablation.py --evaluations finetune --results
    screen_dir``): validation mean ± std over seeds, the change against the
    recipe's twin and whether it stays within the recipe's seed std (the
    issue's bar), test means beside.

    Returns:
        tuple: The table (markdown, with its title) and one verdict line per
        metric of each variant but the recipe.

    Raises:
        FileNotFoundError: ``screen_dir`` holds no record of the recipe's twin.
    """
    from .report import load_records, summarize
    records = load_records(osp.join(screen_dir, 'ablation'))
    val, test = summarize(records, 'val_metrics'), summarize(records)
    base = TRANSFER_TWINS[RECIPE]
    if base not in val:
        raise FileNotFoundError(
            f'{screen_dir}/ablation holds no record of {base} (the recipe\'s '
            f'twin): run tools/benchmarks/ablation.py --evaluations finetune '
            f'--results {screen_dir} --methods {base}')
    head = ['variant', 'ablation method', 'seeds'] + [
        f'{m}: val (vs recipe); test' for m in SCREEN_METRICS]
    rows, verdicts = [], []
    for variant in variants:
        method = TRANSFER_TWINS.get(variant)
        if method not in val:
            continue
        cells = [variant, method, str(val[method][SCREEN_METRICS[0]][2])]
        for m in SCREEN_METRICS:
            mean, std, _ = val[method][m]
            delta = mean - val[base][m][0]
            cells.append(f'{mean:.2f} ± {std:.2f} ({delta:+.2f}); '
                         f'test {test[method][m][0]:.2f}')
            if method != base:
                base_std = val[base][m][1]
                verdict = ('within' if abs(delta) <= base_std else
                           'above' if delta > 0 else 'BELOW')
                verdicts.append(f'{variant}: {m} {delta:+.2f} against the '
                                f'recipe\'s seed std {base_std:.2f}: {verdict}')
        rows.append(cells)
    title = f'transfer screen (demo world, `{screen_dir}`; validation decides):'
    return title + '\n\n' + render_table(head, rows, markdown=True), verdicts


def format_table(rows: List[dict], markdown: bool = False) -> str:
    head = ['variant', 'batch', 'precision', 'device', 'passes on+mom',
            'step s (median)', 'min-max s', 'img/s', 'x SimMIM', 'peak MiB',
            'mem x SimMIM']

    def cells(r):
        def f(v, fmt):
            return '-' if v is None else format(v, fmt)
        return [r['variant'], str(r['batch']), r['precision'], r['device'],
                f"{r['online_passes']}+{r['momentum_passes']}",
                f(r['step_s'], '.3f'), f"{r['min_s']:.3f}-{r['max_s']:.3f}",
                f(r['img_s'], '.1f'), f(r['x_simmim'], '.2f'),
                f(r['peak_mib'], '.0f'), f(r['mem_x_simmim'], '.2f')]
    return render_table(head, [cells(r) for r in rows], markdown)


def write_outputs(rows: List[dict], header: List[str], targets: List[str],
                  md_path: Optional[str], csv_path: Optional[str],
                  transfer: Optional[Tuple[str, List[str]]] = None) -> None:
    if md_path:
        os.makedirs(osp.dirname(md_path) or '.', exist_ok=True)
        with open(md_path, 'a') as f:
            f.write('\n## step cost, ' + header[0] + '\n\n')
            f.writelines(f'- {line}\n' for line in header[1:])
            f.write('\n' + format_table(rows, markdown=True) + '\n\n')
            f.writelines(f'- {line}\n' for line in targets)
            if transfer:
                table, verdicts = transfer
                f.write('\n' + table + '\n\n')
                f.writelines(f'- {line}\n' for line in verdicts)
    if csv_path:
        os.makedirs(osp.dirname(csv_path) or '.', exist_ok=True)
        new = not osp.exists(csv_path)
        with open(csv_path, 'a', newline='') as f:
            fields = ['date', 'config', 'model'] + list(rows[0])
            writer = csv.DictWriter(f, fieldnames=fields)
            if new:
                writer.writeheader()
            for r in rows:
                writer.writerow(dict(r, date=header[0],
                                     config=header[3].split(': ', 1)[1],
                                     model=header[4].split(': ', 1)[1]))


def write_profile(lines: List[str], path: str, argv: Optional[Sequence[str]],
                  device: str) -> None:
    """Append a step profile (``--profile --out``) with its command, date and
    machine to a markdown file."""
    date = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
    args = argv if argv is not None else sys.argv[1:]
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    with open(path, 'a') as f:
        f.write(f'\n## Step profile, {date}\n\n'
                'command: `python tools/benchmarks/step_cost.py '
                + ' '.join(shlex.quote(a) for a in args) + '`  \n'
                f'machine: {machine_info(device)}; load average '
                f'{os.getloadavg()[0]:.2f} at end\n\n```\n' + '\n'.join(lines)
                + '\n```\n')


# ---------------------------------------------------------------------- main
def parse_args(argv: Optional[Sequence[str]] = None):
    parser = argparse.ArgumentParser(
        prog='tools/benchmarks/step_cost.py',
        description='Step time, peak memory and backbone passes of HybridPretrain '
        "vs mmpretrain's SimMIM, MoCoV3 and multi-label ImageClassifier.")
    parser.add_argument('--config', default=DEMO_CONFIG,
                        help='pre-training config (default: the CPU demo Swin; '
                        'configs/pretrain/hybrid_swin-b.py: Swin-B at 192 px)')
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=2,
                        help='untimed steps per variant before the repeats')
    parser.add_argument('--steps', type=int, default=1,
                        help='timed steps per variant in each repeat')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--amp', choices=['bf16', 'fp16'], default=None,
                        help='autocast dtype (default fp32)')
    parser.add_argument('--variants', nargs='+', choices=VARIANTS,
                        default=list(VARIANTS))
    parser.add_argument('--no-memory', action='store_true',
                        help='skip the per-variant peak-memory child processes')
    parser.add_argument('--out', default=None,
                        help='append a markdown table with command, date and '
                        'machine here (e.g. results/step_cost.md)')
    parser.add_argument('--csv', default=None, help='append the rows as CSV here')
    parser.add_argument('--screen', default=None, metavar='RESULTS',
                        help='put the transfer screen of the variants with an '
                        'ablation twin (recipe-default, '
                        'hybrid-shared-unmasked-half-key) beside the table, from '
                        'the records of `ablation.py --evaluations finetune '
                        '--results RESULTS` (e.g. results/screen)')
    parser.add_argument('--profile', action='store_true',
                        help='instead of the table: time one step by module '
                        'group (see mmhybrid.benchmarks.step_profile)')
    parser.add_argument('--profile-variants', nargs='+', choices=VARIANTS,
                        default=['hybrid-shared', 'SimMIM'])
    parser.add_argument('--memory-child', choices=VARIANTS, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    import mmhybrid  # noqa: F401  (registers HybridPretrain and its parts)
    MMLogger.get_instance('step_cost', log_level='WARNING')
    device = resolve_device(args.device)
    cfg = Config.fromfile(args.config)
    if args.memory_child:
        print(json.dumps(measure_memory(cfg, args.memory_child, args.batch,
                                        device, args.amp)))
        return
    if args.profile:
        from .step_profile import profile_variants
        lines = []

        def log(line):
            print(line)
            lines.append(line)
        profile_variants(cfg, args.profile_variants, args.batch, device,
                         args.amp, args.warmup, args.repeats, log=log)
        if args.out:
            write_profile(lines, args.out, argv, device)
        return

    load_start = os.getloadavg()
    date = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
    precision = precision_name(args.amp, device)
    model = describe_backbone(cfg)
    print(f'step_cost: {args.config} ({model}), batch {args.batch}, {precision}, '
          f'{device}; warm-up {args.warmup}, {args.repeats} repeats x '
          f'{args.steps} step(s), round-robin')
    # (read first: a missing screen fails before minutes of timing)
    transfer = transfer_screen(args.screen, args.variants) if args.screen else None
    synth = prepare(cfg, args.batch)
    runs = {name: VariantRun(cfg, name, synth, device, args.amp)
            for name in args.variants}
    times = time_variants(runs, args.warmup, args.repeats, args.steps)
    memory = {} if args.no_memory else {
        name: memory_in_child(args, name) for name in args.variants}
    rows = summarise(times, runs, memory)
    load_end = os.getloadavg()
    header = [
        date,
        'command: `python tools/benchmarks/step_cost.py '
        + ' '.join(shlex.quote(a) for a in (argv if argv is not None
                                           else sys.argv[1:])) + '`',
        f'machine: {machine_info(device)}; load average {load_start[0]:.2f} '
        f'at start, {load_end[0]:.2f} at end',
        f'config: {args.config}',
        f'model: {model}; batch {args.batch}; precision {precision}; device {device}',
        f'timing: warm-up {args.warmup} steps per variant, {args.repeats} '
        f'round-robin repeats of {args.steps} step(s), median and min-max; '
        f'synthetic uint8 images, half the hybrid samples labelled',
        'peak memory: ' + (next(iter(memory.values()))['kind'] + ', one child '
                           'process per variant, above the state before the model '
                           'was built' if memory else 'not measured'),
    ]
    targets = target_lines(rows)
    print('\n'.join(header[1:]))
    print(format_table(rows))
    print('\n'.join(targets))
    if transfer:
        print('\n'.join([transfer[0], *transfer[1]]))
    write_outputs(rows, header, targets, args.out, args.csv, transfer)


if __name__ == '__main__':
    main()
