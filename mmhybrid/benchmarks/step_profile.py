"""Where one training step's time goes, by module group.

``tools/benchmarks/step_cost.py --profile`` trains each variant for a few
steps with a single clock that is charged to one group at a time:

- forward: forward pre-/post-hooks on the group's modules and wrappers around
  the heads' ``loss`` methods (nested calls stay with the outer group);
- backward: autograd runs the graph in reverse creation order, so a gradient
  hook on each group's forward outputs marks where that group's backward
  starts; the time until the next mark is charged to it (the first segment,
  before any mark, is the loss sum and the balancer);
- the momentum encoder's EMA update, the optimizer's ``step`` (with gradient
  clipping and the AMP scaler) and ``zero_grad``, and the data preprocessor are
  timed around their calls;
- whatever no group claims (Python glue of ``train_step``, ``parse_losses``,
  the step plan) is ``other``.

On a GPU every switch synchronises the device, so the groups add up to the
step time (which is then a little slower than without the profiler).
"""
import copy
import statistics
import time
from collections import defaultdict
from typing import Callable, Dict, Iterable, List, Optional

import torch
from mmengine.config import Config
from torch import nn

from .step_cost import VariantRun, describe_backbone, precision_name, prepare

MIM = 'MIM decoder + head'
CONTRASTIVE = 'contrastive projector + predictor'
LABEL = 'label head (neck + linear + loss)'
# (group, forward/backward, ...) rows in print order
ROWS = [
    ('data preprocessing', ''),
    ('backbone (online)', 'forward'),
    ('backbone (online)', 'backward'),
    ('momentum encoder', 'forward'),
    ('momentum EMA update', ''),
    (MIM, 'forward'), (MIM, 'backward'),
    (CONTRASTIVE, 'forward'), (CONTRASTIVE, 'backward'),
    (LABEL, 'forward'), (LABEL, 'backward'),
    ('loss balancer', 'forward'), ('loss balancer', 'backward'),
    ('loss sum + balancer', 'backward'),
    ('optimizer step (+ clip_grad)', ''),
    ('optimizer zero_grad', ''),
    ('other', ''),
]


class GroupClock:
    """One clock charged to the group on top of a stack."""

    def __init__(self, device: str) -> None:
        self.sync = torch.cuda.synchronize if device.startswith('cuda') else None
        self.totals: Dict[str, float] = defaultdict(float)
        self.stack: List[str] = []
        self.last = 0.

    def _tick(self) -> None:
        if self.sync is not None:
            self.sync()
        now = time.perf_counter()
        if self.stack:
            self.totals[self.stack[-1]] += now - self.last
        self.last = now

    def start(self) -> None:
        if self.sync is not None:
            self.sync()
        self.totals = defaultdict(float)
        self.stack = ['other']
        self.last = time.perf_counter()

    def stop(self) -> Dict[str, float]:
        self._tick()
        self.stack = []
        return dict(self.totals)

    def enter(self, group: str) -> None:
        if self.stack:
            self._tick()
            self.stack.append(group)

    def exit(self) -> None:
        if len(self.stack) > 1:
            self._tick()
            self.stack.pop()

    def switch(self, group: str) -> None:
        """Backward: the group on top becomes ``group``."""
        if self.stack:
            self._tick()
            self.stack[-1] = group


def _tensors(out) -> Iterable[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        yield out
    elif isinstance(out, dict):
        for v in out.values():
            yield from _tensors(v)
    elif isinstance(out, (list, tuple)):
        for v in out:
            yield from _tensors(v)


def module_groups(model: nn.Module) -> Dict[str, List[nn.Module]]:
    """The module groups of a HybridPretrain or mmpretrain single-task model."""
    kind = type(model).__name__
    groups = {'backbone (online)': [model.backbone]}
    momentum = getattr(model, 'momentum_encoder', None)
    if momentum is not None:
        groups['momentum encoder'] = list(momentum.module)
    if kind == 'HybridPretrain':
        for group, names in ((MIM, ('mim_neck', 'mim_head')),
                             (CONTRASTIVE, ('con_neck', 'con_head')),
                             (LABEL, ('cls_neck', 'cls_head')),
                             ('loss balancer', ('balancer', ))):
            mods = [getattr(model, n) for n in names if hasattr(model, n)]
            if mods:
                groups[group] = mods
    else:
        group = {'SimMIM': MIM, 'MoCoV3': CONTRASTIVE,
                 'ImageClassifier': LABEL}[kind]
        groups[group] = [m for m in (getattr(model, 'neck', None), model.head)
                         if m is not None]
    return groups


def param_millions(model: nn.Module) -> Dict[str, float]:
    """Parameters per group (M); trainable ones are what AdamW and the EMA
    update touch every step."""
    out = {g: sum(p.numel() for m in mods for p in m.parameters()) / 1e6
           for g, mods in module_groups(model).items()}
    out['trainable (optimizer)'] = sum(
        p.numel() for p in model.parameters() if p.requires_grad) / 1e6
    return out


class StepProfiler:
    """Hooks a :class:`VariantRun` so its steps are charged to groups."""

    def __init__(self, run: VariantRun) -> None:
        self.run = run
        self.clock = GroupClock(run.device)
        self.handles = []
        model = run.model
        for group, mods in module_groups(model).items():
            for mod in mods:
                self._hook_module(mod, group)
                head_loss = getattr(mod, 'loss', None)
                if callable(head_loss) and not isinstance(head_loss, nn.Module):
                    self._wrap(mod, 'loss', f'{group}: forward',
                               backward=f'{group}: backward')
        self._hook_module(model.data_preprocessor, 'data preprocessing',
                          backward=False)
        momentum = getattr(model, 'momentum_encoder', None)
        if momentum is not None:
            self._wrap(momentum, 'update_parameters', 'momentum EMA update')
        wrapper = run.wrapper
        self._wrap(wrapper, 'step', 'optimizer step (+ clip_grad)')
        self._wrap(wrapper, 'zero_grad', 'optimizer zero_grad')
        self._wrap(wrapper, 'backward', 'loss sum + balancer: backward')

    def _mark_backward(self, out, group: str) -> None:
        if not torch.is_grad_enabled():
            return
        for t in _tensors(out):
            if t.requires_grad:
                t.register_hook(lambda grad, g=group: self.clock.switch(g))

    def _hook_module(self, mod: nn.Module, group: str, backward: bool = True):
        suffix = '' if not backward else ': forward'

        def pre(module, args):
            self.clock.enter(group + suffix)

        def post(module, args, out):
            self.clock.exit()
            if backward:
                self._mark_backward(out, f'{group}: backward')
        self.handles += [mod.register_forward_pre_hook(pre),
                         mod.register_forward_hook(post)]

    def _wrap(self, obj, name: str, group: str, backward: Optional[str] = None):
        orig: Callable = getattr(obj, name)
        clock = self.clock

        def wrapped(*args, **kwargs):
            clock.enter(group)
            try:
                out = orig(*args, **kwargs)
            finally:
                clock.exit()
            if backward:
                self._mark_backward(out, backward)
            return out
        setattr(obj, name, wrapped)

    def step(self) -> Dict[str, float]:
        """One profiled training step: seconds per group, plus ``total``."""
        data = copy.deepcopy(self.run.data)
        self.clock.start()
        start = self.clock.last
        with self.run._autocast():
            self.run.model.train_step(data, self.run.wrapper)
        out = self.clock.stop()
        out['total'] = self.clock.last - start
        return out


def row_key(group: str, phase: str) -> str:
    return f'{group}: {phase}' if phase else group


def profile_variants(cfg: Config, names: List[str], batch: int, device: str,
                     amp: Optional[str], warmup: int, repeats: int,
                     log=print) -> Dict[str, Dict[str, float]]:
    """Profile ``names`` (median over ``repeats`` steps after ``warmup``) and
    print one table, the variants side by side; returns the medians."""
    synth = prepare(cfg, batch)
    medians, params, passes = {}, {}, {}
    for name in names:
        run = VariantRun(cfg, name, synth, device, amp)
        run.first_step()
        for _ in range(max(warmup - 1, 0)):
            run.step()
        prof = StepProfiler(run)
        steps = [prof.step() for _ in range(max(repeats, 1))]
        keys = set().union(*steps)
        medians[name] = {k: statistics.median(s.get(k, 0.) for s in steps)
                         for k in keys}
        params[name] = param_millions(run.model)
        passes[name] = run.passes
        del run, prof
    log(f'step profile: {describe_backbone(cfg)}, batch {batch}, '
        f'{precision_name(amp, device)}, {device}; median of {max(repeats, 1)} '
        f'step(s) after {warmup} warm-up; seconds (% of the step)')
    head = ['group'] + names + (['difference'] if len(names) == 2 else [])
    lines = []
    known = {row_key(*r) for r in ROWS} | {'total'}
    extra = sorted({k for m in medians.values() for k in m} - known)
    for key in [row_key(*r) for r in ROWS] + extra + ['total']:
        vals = [medians[n].get(key) for n in names]
        if all(v is None or v == 0. for v in vals):
            continue
        cells = [key]
        for n, v in zip(names, vals):
            share = 100 * (v or 0.) / medians[n]['total']
            cells.append('-' if v is None else f'{v:.3f} ({share:4.1f}%)')
        if len(names) == 2:
            cells.append(f'{(vals[0] or 0.) - (vals[1] or 0.):+.3f}')
        lines.append(cells)
    widths = [max(len(c) for c in col) for col in zip(head, *lines)]
    for cells in [head] + lines:
        log('  '.join(c.ljust(w) for c, w in zip(cells, widths)))
    for n in names:
        log(f'{n}: backbone passes {passes[n]["online"]} online + '
            f'{passes[n]["momentum"]} momentum; parameters (M): '
            + ', '.join(f'{g} {v:.2f}' for g, v in params[n].items()))
    return medians
