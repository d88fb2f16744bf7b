"""The GPU path's switches, each on and off, in one table
(``tools/benchmarks/gpu_check.sh``'s switch step; issue 28).

    python -m mmhybrid.benchmarks.gpu_check switches --device cuda --out W/switches.md
    python -m mmhybrid.benchmarks.gpu_check switches --dry-run --out W/switches.md

Every row trains the headline recipe (``configs/pretrain/hybrid_swin-b.py``,
model and optim wrapper as shipped: AMP in bf16, batch 128 per GPU) with one
switch turned on, the way a user turns it on:

=================  ===========================================================
baseline           the config as shipped (mmpretrain's explicit ``WindowMSA``,
                   ``CosineEMA``, torch's default AdamW: foreach on CUDA)
+fused attention   ``--cfg-options model.backbone.type=HybridSimMIMSwinTransformer
                   model.backbone.fused_attention=True``
+compile           ``--cfg-options model.backbone.type=HybridSimMIMSwinTransformer
                   model.backbone.compile=True`` (inductor; the momentum
                   encoder compiles too)
+fused AdamW       ``--cfg-options optim_wrapper.optimizer.fused=True``
+foreach EMA       ``--cfg-options model.contrastive.ema_type=ForeachCosineEMA``
all on             all of the above
=================  ===========================================================

Each row builds the model from the same seed, then runs the training step as
``tools/train.py`` does without data loading (``train_step``: data
preprocessor with the host-to-device copy, forward, backward, clipping,
optimizer, momentum update) on one synthetic batch (``step_cost``'s: uint8
views, SimMIM masks, half the samples labelled): ``--warmup`` untimed steps
(the first compiles), then ``--steps`` steps, each synchronised and timed;
the table gives the median with min and max. FLOPs are counted once, with
``torch.utils.flop_counter.FlopCounterMode`` over one training step of the
baseline (explicit attention: every matmul visible to the counter; the
switches change how, not what, is computed), and divided by each row's
median step time. Peak memory is ``torch.cuda.max_memory_allocated`` above
the state before the row's model was built. Every row checks that it ran
where and how it was asked (the backbone's input device and autocast dtype,
the switches in effect: fused attention modules, compiled graphs, the
optimizer's ``fused`` flag, the EMA class) and stops the run otherwise.

The table is rewritten after every row, so a run cut short by its time limit
still leaves the rows it finished; ``--budget-s`` stops starting rows once
that many seconds have passed (the compiling rows run last).
"""
import argparse
import copy
import datetime
import gc
import json
import logging
import os
import os.path as osp
import shlex
import statistics
import sys
import time
from typing import Dict, List, Optional, Sequence

import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HEADLINE = 'configs/pretrain/hybrid_swin-b.py'
DEMO = 'configs/pretrain/hybrid_swin-demo_fashion-64px.py'
BASELINE_IMG_S = 354.0  # results/gpu_check/: the headline on one H200, batch 128
GOAL_IMG_S = 2 * BASELINE_IMG_S  # issue 28
# dense bf16 tensor-core peak, TFLOP/s (vendor data sheets, without sparsity)
PEAK_BF16_TFLOPS = {'H200': 989.0, 'H100': 989.0, 'A100': 312.0, 'L40S': 362.0,
                    'A10': 125.0}

SWITCHES = ('fused attention', 'compile', 'fused AdamW', 'foreach EMA')
# table order; rows are (name, switches on)
ROWS = (('baseline', ()), ('+fused attention', ('fused attention', )),
        ('+compile', ('compile', )), ('+fused AdamW', ('fused AdamW', )),
        ('+foreach EMA', ('foreach EMA', )), ('all on', SWITCHES))
# run order: the cheap rows first, the compiling ones last ('all on' before
# '+compile': the goal's row matters more)
RUN_ORDER = ('baseline', '+fused attention', '+fused AdamW', '+foreach EMA',
             'all on', '+compile')


def cfg_options(switches: Sequence[str], compile_cfg) -> Dict[str, object]:
    """The ``--cfg-options`` that turn ``switches`` on."""
    opts: Dict[str, object] = {}
    if 'fused attention' in switches or 'compile' in switches:
        opts['model.backbone.type'] = 'HybridSimMIMSwinTransformer'
    if 'fused attention' in switches:
        opts['model.backbone.fused_attention'] = True
    if 'compile' in switches:
        opts['model.backbone.compile'] = compile_cfg
    if 'fused AdamW' in switches:
        opts['optim_wrapper.optimizer.fused'] = True
    if 'foreach EMA' in switches:
        opts['model.contrastive.ema_type'] = 'ForeachCosineEMA'
    return opts


def options_text(switches: Sequence[str], compile_cfg) -> str:
    opts = {}
    for k, v in cfg_options(switches, compile_cfg).items():
        if isinstance(v, dict):  # as --cfg-options writes a dict: key by key
            opts.update({f'{k}.{kk}': vv for kk, vv in v.items()})
        else:
            opts[k] = v
    return ' '.join(f'{k}={v}' for k, v in opts.items()) or '(as shipped)'


def row_config(config: str, switches: Sequence[str], device: str, compile_cfg):
    """The config with ``switches`` on, adapted for CPU when ``device`` is."""
    from mmengine.config import Config

    from mmhybrid.engine import adapt_cfg_for_cpu
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(cfg_options(switches, compile_cfg))
    return adapt_cfg_for_cpu(cfg, cuda_available=device != 'cpu')


def flop_count(run: 'SwitchRun') -> int:
    """FLOPs of one training step of ``run`` (forward and backward; a real
    step, the weights move)."""
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        run.step()
    return int(counter.get_total_flops())


def dynamo_graphs() -> int:
    from torch._dynamo.utils import counters
    return int(counters['stats']['unique_graphs'])


class SwitchRun:
    """One row: the model and optim wrapper of ``cfg`` with ``switches`` on,
    the synthetic batch, and its steps."""

    def __init__(self, cfg, name: str, switches: Sequence[str], synth: dict,
                 device: str, seed: int = 0) -> None:
        from mmengine.model import revert_sync_batchnorm
        from mmengine.logging import MMLogger
        from mmengine.optim import build_optim_wrapper
        from mmengine.registry import DefaultScope
        from mmpretrain.registry import MODELS

        from .step_cost import variant_batch
        self.name, self.switches, self.device = name, tuple(switches), device
        torch.manual_seed(seed)
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            model = MODELS.build(cfg.model)
        model.init_weights()
        model = revert_sync_batchnorm(model).to(device).train()
        logger = MMLogger.get_current_instance()
        level = logger.level
        logger.setLevel(logging.ERROR)  # a line per parameter otherwise
        try:
            with DefaultScope.overwrite_default_scope('mmpretrain'):
                self.wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        finally:
            logger.setLevel(level)
        self.model = model
        self.data = variant_batch('recipe-default', model, synth)
        self.batch = len(synth['masks'])
        wrapper_dtype = getattr(self.wrapper, 'cast_dtype', None)
        self.dtype = ('float32' if type(self.wrapper).__name__ == 'OptimWrapper'
                      else str(wrapper_dtype or torch.float16).replace('torch.', ''))
        self.seen: dict = {}
        self.losses: List[float] = []

    def step(self) -> float:
        from .step_cost import synchronize
        data = copy.deepcopy(self.data)
        synchronize(self.device)
        start = time.perf_counter()
        log_vars = self.model.train_step(data, self.wrapper)
        synchronize(self.device)
        seconds = time.perf_counter() - start
        self.losses.append(float(torch.as_tensor(log_vars['loss']).detach()))
        return seconds

    def first_step(self) -> float:
        """A step that records where and in what precision the backbone ran."""
        kind = torch.device(self.device).type

        def record(module, args):
            self.seen.setdefault('input_device', args[0].device.type)
            self.seen.setdefault('autocast', torch.is_autocast_enabled(kind))
            self.seen.setdefault('autocast_dtype', str(
                torch.get_autocast_dtype(kind)).replace('torch.', ''))
        hook = self.model.backbone.register_forward_pre_hook(record)
        try:
            return self.step()
        finally:
            hook.remove()

    def check(self, graphs: int) -> str:
        """What is in effect; SystemExit when it is not what was asked."""
        from mmpretrain.models.utils.attention import WindowMSA

        from mmhybrid.models.utils import FusedWindowMSA, ForeachCosineEMA
        problems = []
        if self.seen.get('input_device') != torch.device(self.device).type:
            problems.append(f"backbone ran on {self.seen.get('input_device')}, "
                            f'asked {self.device}')
        autocast = self.seen.get('autocast_dtype') if self.seen.get('autocast') \
            else 'float32'
        if autocast != self.dtype:
            problems.append(f'backbone ran in {autocast}, the optim wrapper '
                            f'asks {self.dtype}')
        attn = [type(m) for m in self.model.modules() if isinstance(m, WindowMSA)]
        fused = sum(t is FusedWindowMSA for t in attn)
        want = 'fused attention' in self.switches
        if (fused == len(attn)) != want or (fused > 0) != want:
            problems.append(f'{fused} of {len(attn)} window attentions fused, '
                            f'fused attention {"on" if want else "off"}')
        want = 'compile' in self.switches
        if (graphs > 0) != want:
            problems.append(f'{graphs} graphs compiled, compile '
                            f'{"on" if want else "off"}')
        defaults = self.wrapper.optimizer.defaults
        want = 'fused AdamW' in self.switches
        if bool(defaults.get('fused')) != want:
            problems.append(f"optimizer fused={defaults.get('fused')}, fused "
                            f'AdamW {"on" if want else "off"}')
        ema = self.model.momentum_encoder
        want = 'foreach EMA' in self.switches
        if isinstance(ema, ForeachCosineEMA) != want:
            problems.append(f'momentum encoder {type(ema).__name__}, foreach '
                            f'EMA {"on" if want else "off"}')
        if problems:
            raise SystemExit(f'gpu_switches: row {self.name}: ' + '; '.join(problems))
        adamw = ('fused' if defaults.get('fused') else
                 'foreach' if defaults.get('foreach') else 'default')
        return (f"{self.seen['input_device']} {autocast}; attention "
                f"{'fused' if fused else 'explicit'} x{len(attn)}; "
                f"compiled graphs {graphs}; AdamW {adamw}; "
                f'EMA {type(ema).__name__}')


def measure_row(config: str, name: str, switches: Sequence[str], synth: dict,
                device: str, warmup: int, steps: int, compile_cfg,
                count_flops: bool = False, log=print) -> dict:
    cfg = row_config(config, switches, device, compile_cfg)
    if device.startswith('cuda'):
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    graphs0 = dynamo_graphs()
    run = SwitchRun(cfg, name, switches, synth, device)
    first = run.first_step()
    for _ in range(warmup - 1):
        run.step()
    graphs = dynamo_graphs() - graphs0
    check = run.check(graphs)
    times = [run.step() for _ in range(steps)]
    peak = None
    if device.startswith('cuda'):
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    losses = run.losses[0], run.losses[1]
    flops = flop_count(run) if count_flops else None
    med = statistics.median(times)
    row = dict(row=name, switches=list(switches), options=options_text(
        switches, compile_cfg), check=check, batch=run.batch, dtype=run.dtype,
        first_step_s=first, step_s=med, min_s=min(times), max_s=max(times),
        img_s=run.batch / med, peak_mib=peak, loss_step1=losses[0],
        loss_step2=losses[1], steps=steps, warmup=warmup, flops=flops)
    log(f'  {name}: {med:.3f} s/step ({row["img_s"]:.1f} img/s), first step '
        f'{first:.1f} s, {check}')
    del run
    if 'compile' in switches:
        torch._dynamo.reset()  # drop the compiled graphs before the next row
    return row


def finish_rows(rows: Dict[str, dict], peak_tflops: Optional[float],
                status: Optional[Dict[str, str]] = None) -> List[dict]:
    """Table order, with the derived columns; ``status``: why a row is missing."""
    flops = next((r['flops'] for r in rows.values() if r.get('flops')), None)
    base = rows.get('baseline')
    out = []
    for name, _ in ROWS:
        r = rows.get(name)
        if r is None:
            out.append(dict(row=name, status=(status or {}).get(name, 'not run')))
            continue
        r = dict(r, status='ok')
        r['x_baseline'] = base['step_s'] / r['step_s'] if base else None
        r['tflops'] = flops / r['step_s'] / 1e12 if flops else None
        r['pct_peak'] = (100 * r['tflops'] / peak_tflops
                         if r['tflops'] and peak_tflops else None)
        out.append(r)
    return out


def format_markdown(rows: List[dict], header: List[str], compile_cfg) -> str:
    head = ['row', 'first step s', 'step s (median)', 'min-max s', 'img/s',
            'x baseline', 'TFLOP/s', '% bf16 peak', 'peak MiB', 'loss step 1',
            'loss step 2', 'in effect']

    def f(v, fmt):
        return '-' if v is None else format(v, fmt)
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for r in rows:
        if r['status'] != 'ok':
            cells = [r['row']] + ['-'] * (len(head) - 2) + [r['status']]
        else:
            cells = [r['row'], f(r['first_step_s'], '.1f'), f(r['step_s'], '.3f'),
                     f"{r['min_s']:.3f}-{r['max_s']:.3f}", f(r['img_s'], '.1f'),
                     f(r['x_baseline'], '.2f'), f(r['tflops'], '.3g'),
                     f(r['pct_peak'], '.1f'), f(r['peak_mib'], '.0f'),
                     f(r['loss_step1'], '.4f'), f(r['loss_step2'], '.4f'), r['check']]
        lines.append('| ' + ' | '.join(cells) + ' |')
    legend = [f'- {name}: `{options_text(sw, compile_cfg)}`' for name, sw in ROWS]
    return ('\n'.join(f'- {h}' for h in header) + '\n\n' + '\n'.join(lines) + '\n\n'
            + 'switches (`tools/train.py ... --cfg-options ...`):\n\n'
            + '\n'.join(legend) + '\n')


def goal_lines(rows: List[dict], device: str) -> List[str]:
    by = {r['row']: r for r in rows if r['status'] == 'ok'}
    lines = []
    for name in ('all on', *(n for n, _ in ROWS if n != 'all on')):
        r = by.get(name)
        if r is None:
            continue
        if not device.startswith('cuda'):
            lines.append(f"{name}: {r['img_s']:.1f} img/s (CPU dry run: not judged "
                         'against the GPU goal)')
        else:
            verdict = 'meets' if r['img_s'] >= GOAL_IMG_S else 'MISSES'
            lines.append(f"{name}: {r['img_s']:.1f} img/s = "
                         f"{r['img_s'] / BASELINE_IMG_S:.2f}x the 354 img/s of "
                         f'results/gpu_check (goal >= 2x = {GOAL_IMG_S:.0f}: '
                         f'{verdict})')
        break  # the goal is the all-on row's (or the best-placed row run)
    return lines


def write_outputs(rows: List[dict], header: List[str], compile_cfg, device: str,
                  date: str, md_path: Optional[str], json_path: Optional[str]) -> str:
    text = format_markdown(rows, header, compile_cfg)
    goals = goal_lines(rows, device)
    text += '\n' + '\n'.join(f'- {g}' for g in goals) + '\n' if goals else ''
    if md_path:
        os.makedirs(osp.dirname(md_path) or '.', exist_ok=True)
        with open(md_path, 'w') as fh:
            fh.write(f'## GPU path switches, {date}\n\n' + text)
    if json_path:
        os.makedirs(osp.dirname(json_path) or '.', exist_ok=True)
        with open(json_path, 'w') as fh:
            json.dump(dict(date=date, header=header, rows=rows), fh, indent=1)
    return text


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog='python -m mmhybrid.benchmarks.gpu_check switches',
        description=__doc__.splitlines()[0])
    p.add_argument('--config', default=None,
                   help=f'default: {HEADLINE}; with --dry-run {DEMO}')
    p.add_argument('--device', default='cuda')
    p.add_argument('--batch', type=int, default=None,
                   help="default: the config's per-GPU batch (128); dry run 2")
    p.add_argument('--warmup', type=int, default=3,
                   help='untimed steps per row (the first compiles)')
    p.add_argument('--steps', type=int, default=10, help='timed steps per row')
    p.add_argument('--rows', nargs='+', choices=[n for n, _ in ROWS],
                   default=list(RUN_ORDER))
    p.add_argument('--compile-backend', default=None,
                   help="torch.compile backend (default inductor; the dry run "
                   "uses 'aot_eager')")
    p.add_argument('--compile-mode', default=None,
                   help="torch.compile mode, e.g. 'max-autotune'")
    p.add_argument('--budget-s', type=float, default=None,
                   help='start no row after this many seconds')
    p.add_argument('--dry-run', action='store_true',
                   help='CPU, fp32, the demo Swin, batch 2, 1 + 2 steps, '
                   'compile with aot_eager: the wiring, not the numbers')
    p.add_argument('--out', default=None, help='markdown table (rewritten per row)')
    p.add_argument('--json', default=None, help='the rows as JSON')
    args = p.parse_args(argv)
    if args.warmup < 1 or args.steps < 1:
        p.error('--warmup and --steps must be >= 1 (the loss columns need two '
                'steps)')
    if args.dry_run:
        args.device = 'cpu'
        args.config = args.config or DEMO
        args.batch = args.batch or 2
        args.warmup, args.steps = min(args.warmup, 1), min(args.steps, 2)
        args.compile_backend = args.compile_backend or 'aot_eager'
    args.config = args.config or HEADLINE
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    import mmhybrid  # noqa: F401  (registers the modules)
    from mmengine.config import Config
    from mmengine.logging import MMLogger

    from .step_cost import (describe_backbone, machine_info, prepare,
                            resolve_device)
    MMLogger.get_instance('gpu_switches', log_level='WARNING')
    device = resolve_device(args.device)
    config = args.config if osp.isabs(args.config) else osp.join(REPO, args.config)
    base_cfg = Config.fromfile(config)
    batch = args.batch or base_cfg.train_dataloader.batch_size
    compile_cfg = {k: v for k, v in (('backend', args.compile_backend),
                                     ('mode', args.compile_mode)) if v} or True
    peak = None
    if device.startswith('cuda'):
        gpu = torch.cuda.get_device_name()
        peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in gpu), None)
    date = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
    order = [n for n in RUN_ORDER if n in args.rows]
    if 'baseline' not in order:
        order.insert(0, 'baseline')  # the FLOP count and the x-baseline column
    rows: Dict[str, dict] = {}
    status: Dict[str, str] = {}
    switches = dict(ROWS)
    precision = ('fp32 (CPU)' if device == 'cpu' else
                 f"AMP {base_cfg.optim_wrapper.get('dtype') or 'float16'} "
                 f"({base_cfg.optim_wrapper.type})")
    start = time.time()
    synth = prepare(base_cfg, batch)

    def make_header(flops):
        cmd = ' '.join(shlex.quote(a) for a in (argv if argv is not None
                                                else sys.argv[1:]))
        return [
            f'command: `python -m mmhybrid.benchmarks.gpu_check switches {cmd}`',
            f'machine: {machine_info(device)}; load average '
            f'{os.getloadavg()[0]:.2f} now',
            f'config: {osp.relpath(config, REPO)} ({describe_backbone(base_cfg)}); '
            f'batch {batch}; {precision}; device {device}',
            'goal (issue 28): the headline recipe at >= 2x the 354 img/s measured on '
            f'one H200 at batch 128 (results/gpu_check/), i.e. >= {GOAL_IMG_S:.0f} '
            'img/s, at the same loss curve',
            f'timing: {args.warmup} untimed warm-up step(s) per row (the first '
            f'compiles; its time is "first step s"), then {args.steps} timed steps, '
            'each synchronised: median and min-max; the training step as '
            'tools/train.py runs it, data loading excluded (one synthetic batch: '
            'uint8 views, SimMIM masks, half the samples labelled)',
            'FLOPs: ' + (f'{flops / 1e9:.1f} GFLOP a step, {flops / batch / 1e9:.1f} '
                         'GFLOP an image (FlopCounterMode over one baseline training '
                         'step: forward + backward matmuls, convolutions, '
                         'attention); TFLOP/s = that / the row\'s median step time'
                         + (f'; % of the {peak:.0f} TFLOP/s dense bf16 peak'
                            if peak else '') if flops else 'not counted'),
            'peak memory: ' + ('torch.cuda.max_memory_allocated above the state '
                               "before the row's model was built" if device != 'cpu'
                               else 'not measured on CPU'),
            'losses: step 1 (the same initial weights and batch in every row: the '
            'forward agrees) and step 2 (after one update: gradients and update '
            'agree); later steps are not compared: on one repeated batch at a '
            'constant lr without warm-up Adam amplifies rounding (on CPU, fp32, a '
            "1e-7 relative change of the demo's weights moved its 4th-step loss "
            'by 7%)',
        ]
    text = ''
    for name in order:
        if args.budget_s is not None and time.time() - start > args.budget_s:
            status[name] = f'not run: past --budget-s {args.budget_s:.0f}'
            print(f'  {name}: not run (past the {args.budget_s:.0f} s budget)')
        else:
            print(f'row {name} ...', flush=True)
            rows[name] = measure_row(config, name, switches[name], synth, device,
                                     args.warmup, args.steps, compile_cfg,
                                     count_flops=name == 'baseline')
        flops = rows['baseline'].get('flops') if 'baseline' in rows else None
        text = write_outputs(finish_rows(rows, peak, status), make_header(flops),
                             compile_cfg, device, date, args.out, args.json)
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
