"""Optimizer wrappers that skip the steps HybridPretrain marks as non-finite."""
from contextlib import contextmanager
from typing import Dict, Optional

import torch
from mmengine.logging import MessageHub
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmpretrain.registry import OPTIM_WRAPPERS
from torch import nn

from mmhybrid.models.algorithms.hybrid_pretrain import (SKIP_READY_KEY,
                                                        SKIP_STEP_KEY)


class SkipNonFiniteMixin:
    """Skip logic shared by :class:`SkipNonFiniteOptimWrapper` and
    :class:`SkipNonFiniteAmpOptimWrapper`; put it before the ``OptimWrapper``
    subclass in the bases.

    ``HybridPretrain(nonfinite='skip')`` returns an exact-zero loss for a
    skipped micro-batch and sets ``SKIP_STEP_KEY`` in the MessageHub. This
    wrapper still runs that micro-batch's backward (zero gradients: DDP's
    all-reduce stays in step on every rank, and the micro-batch is counted),
    so it adds nothing to the gradients accumulated so far, then:

    - no gradient accumulation (``accumulative_counts=1``): clears the
      gradients instead of calling ``step()``; AdamW's moments, weight decay
      and step count, and AMP's loss scale, do not move;
    - ``accumulative_counts=n``: the other micro-batches' gradients are kept
      and the optimizer steps at the window boundary as usual, with the sum
      of the good micro-batches' gradients (each scaled by ``1/n`` as always,
      i.e. as if the skipped one had a zero loss). A window whose micro-batches
      were all skipped ends without a step.

    ``supports_nonfinite_skip = True`` is what ``HybridPretrain`` checks before
    training with ``nonfinite='skip'``; entering :meth:`optim_context` also
    sets ``SKIP_READY_KEY`` in the MessageHub, which the model checks in
    ``parse_losses`` (under DDP, ``MMDistributedDataParallel.train_step``
    bypasses the model's ``train_step``).
    """

    supports_nonfinite_skip = True

    def update_params(self, loss: torch.Tensor,
                      step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        hub = MessageHub.get_current_instance()
        skip = bool(hub.get_info(SKIP_STEP_KEY, False))
        hub.update_info(SKIP_STEP_KEY, False)
        hub.update_info(SKIP_READY_KEY, False)  # set again by the next step
        self.backward(self.scale_loss(loss))
        if not skip:
            self._window_has_grads = True
        if self.should_update():
            if getattr(self, '_window_has_grads', False):
                self.step(**(step_kwargs or {}))
            self.zero_grad(**(zero_kwargs or {}))
            self._window_has_grads = False

    @contextmanager
    def optim_context(self, model: nn.Module):
        MessageHub.get_current_instance().update_info(SKIP_READY_KEY, True)
        with super().optim_context(model):
            yield


@OPTIM_WRAPPERS.register_module()
class SkipNonFiniteOptimWrapper(SkipNonFiniteMixin, OptimWrapper):
    """``OptimWrapper`` that leaves parameters and optimizer state untouched on
    the steps ``HybridPretrain(nonfinite='skip')`` marked as non-finite (see
    :class:`SkipNonFiniteMixin`). Arguments as ``OptimWrapper``."""


@OPTIM_WRAPPERS.register_module()
class SkipNonFiniteAmpOptimWrapper(SkipNonFiniteMixin, AmpOptimWrapper):
    """``AmpOptimWrapper`` with the skip of :class:`SkipNonFiniteOptimWrapper`
    (see :class:`SkipNonFiniteMixin`): on a skipped step neither the optimizer
    nor the ``GradScaler`` steps, so the loss scale does not move either.
    Arguments as ``AmpOptimWrapper``; needs a GPU (on CPU,
    ``mmhybrid.engine.adapt_cfg_for_cpu`` turns it into
    ``SkipNonFiniteOptimWrapper``, as it turns ``AmpOptimWrapper`` into
    ``OptimWrapper``)."""
