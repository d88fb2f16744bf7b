"""Fail a training run that does not run where and how it was asked to."""
import json
import os
import os.path as osp
import statistics
import time
from typing import List, Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from torch import nn

DTYPES = ('float32', 'bfloat16', 'float16')


@HOOKS.register_module()
class DeviceCheckHook(Hook):
    """Check the device and precision of a run and record its speed.

    ``tools/train.py`` adapts GPU configs to the CPU (``AmpOptimWrapper`` falls
    back to fp32, ``SyncBN`` to plain BN, see ``mmhybrid.engine.cpu_support``),
    which is what a CPU machine needs and what a GPU benchmark must never do
    silently. After the first training iteration this hook checks that

    - every parameter of the model is on ``device``;
    - the backbone ran on ``device``: the input of its first ``nn.Linear``;
    - the autocast dtype is ``dtype``: that ``Linear`` returned ``dtype``;
    - the optim wrapper casts to ``dtype`` (``AmpOptimWrapper`` and its
      ``cast_dtype``) or, for ``float32``, is not an AMP wrapper;

    and raises ``RuntimeError`` naming every mismatch otherwise (the run exits
    non-zero). Every iteration is timed (the device is synchronised around
    it); at the end of training, or on a failure, ``out`` receives a JSON
    summary: images per second (median over the iterations after the first
    ``skip``), peak device memory (``torch.cuda.max_memory_allocated`` after
    every iteration, read before the logger resets it) and what was observed.
    Registered in mmengine's root registry, so configs of every scope
    (mmpretrain, mmdet, mmseg) find it.

    Args:
        device (str): Expected device type, ``'cuda'`` or ``'cpu'``.
        dtype (str): Expected compute dtype: ``'float32'``, ``'bfloat16'`` or
            ``'float16'``.
        out (str, optional): Where to write the JSON summary.
        name (str): Name of the run in the summary.
        skip (int): Iterations left out of the speed (warm-up).
    """

    # ahead of LoggerHook (BELOW_NORMAL): mmengine's log processor resets the CUDA
    # peak-memory statistics each time it logs, so the peak is read before that
    priority = 'ABOVE_NORMAL'

    def __init__(self, device: str = 'cuda', dtype: str = 'bfloat16',
                 out: Optional[str] = None, name: str = '', skip: int = 1) -> None:
        if dtype not in DTYPES:
            raise ValueError(f'dtype must be one of {DTYPES}, got {dtype!r}')
        self.device, self.dtype = device, dtype
        self.out, self.name, self.skip = out, name, skip
        self.seen: dict = {}
        self.times: List[float] = []
        self.batch_sizes: List[int] = []
        self.checked = False
        self._handle = None
        self._peak_bytes = 0
        self._start = 0.

    # ------------------------------------------------------------- helpers
    def _sync(self) -> None:
        if self.device.startswith('cuda') and torch.cuda.is_available():
            torch.cuda.synchronize()

    @staticmethod
    def _model(runner) -> nn.Module:
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def problems(self, model: nn.Module, wrapper) -> List[str]:
        """Every way the run differs from the expected device and dtype."""
        out = []
        devices = sorted({p.device.type for p in model.parameters()})
        if devices != [self.device]:
            out.append(f'model parameters on {devices}, expected {self.device}')
        ran_on = self.seen.get('input_device')
        if ran_on is None:
            out.append('the backbone never ran (no nn.Linear forward seen)')
        elif torch.device(ran_on).type != self.device:
            out.append(f'backbone ran on {ran_on}, expected {self.device}')
        if self.seen.get('linear_dtype') not in (None, self.dtype):
            out.append(f"backbone Linear returned {self.seen['linear_dtype']} "
                       f'(autocast {self.seen.get("autocast")}), expected '
                       f'{self.dtype}')
        wrapper_name = type(wrapper).__name__
        cast = getattr(wrapper, 'cast_dtype', None)
        is_amp = hasattr(wrapper, 'loss_scaler')
        if self.dtype == 'float32':
            if is_amp:
                out.append(f'optim wrapper {wrapper_name} is AMP, expected fp32')
        elif not is_amp:
            out.append(f'optim wrapper {wrapper_name} does not autocast '
                       f'(fp32), expected AmpOptimWrapper({self.dtype})')
        elif cast is None or str(cast).replace('torch.', '') != self.dtype:
            out.append(f'optim wrapper {wrapper_name} casts to {cast} '
                       f'(None means float16), expected {self.dtype}')
        return out

    def summary(self, runner, problems: List[str]) -> dict:
        times = self.times[self.skip:] or self.times
        imgs = [b / t for b, t in zip(self.batch_sizes[-len(times):], times)] \
            if times else []
        cuda = self.device.startswith('cuda') and torch.cuda.is_available()
        return dict(
            name=self.name,
            status='FAILED' if problems else 'ok',
            problems=problems,
            device=self.device, dtype=self.dtype,
            device_name=torch.cuda.get_device_name() if cuda else 'cpu',
            optim_wrapper=type(runner.optim_wrapper).__name__,
            batch=self.batch_sizes[0] if self.batch_sizes else None,
            iters=len(self.times), timed_iters=len(times),
            iter_s=statistics.median(times) if times else None,
            img_s=statistics.median(imgs) if imgs else None,
            peak_mib=(max(self._peak_bytes, torch.cuda.max_memory_allocated()) / 2**20
                      if cuda else None),
            observed=self.seen)

    def _write(self, runner, problems: List[str]) -> None:
        if self.out:
            os.makedirs(osp.dirname(self.out) or '.', exist_ok=True)
            with open(self.out, 'w') as f:
                json.dump(self.summary(runner, problems), f, indent=1)

    # --------------------------------------------------------------- hooks
    def before_train(self, runner) -> None:
        model = self._model(runner)
        backbone = getattr(model, 'backbone', model)
        linear = next((m for m in backbone.modules() if isinstance(m, nn.Linear)),
                      None)
        if linear is None:
            return
        device_type = self.device

        def record(module, args, output):
            if 'input_device' not in self.seen:
                self.seen.update(
                    input_device=str(args[0].device),
                    linear_dtype=str(output.dtype).replace('torch.', ''),
                    autocast=(str(torch.get_autocast_dtype(device_type)).replace(
                        'torch.', '') if torch.is_autocast_enabled(device_type)
                        else 'off'))
        self._handle = linear.register_forward_hook(record)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._sync()
        self._start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        self._sync()
        self.times.append(time.perf_counter() - self._start)
        if torch.cuda.is_available():
            self._peak_bytes = max(self._peak_bytes, torch.cuda.max_memory_allocated())
        samples = (data_batch or {}).get('data_samples') or []
        self.batch_sizes.append(len(samples))
        if not self.checked:
            self.checked = True
            problems = self.problems(self._model(runner), runner.optim_wrapper)
            if problems:
                self._write(runner, problems)
                raise RuntimeError(
                    f'DeviceCheckHook[{self.name}]: the run is not what was '
                    f'asked ({self.device}, {self.dtype}): ' + '; '.join(problems))

    def after_train(self, runner) -> None:
        if self._handle is not None:
            self._handle.remove()
        self._write(runner, [])
