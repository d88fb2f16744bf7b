"""Optimizer wrapper that skips the steps HybridPretrain marks as non-finite."""
from typing import Dict, Optional

import torch
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmpretrain.registry import OPTIM_WRAPPERS

from mmhybrid.models.algorithms.hybrid_pretrain import SKIP_STEP_KEY


@OPTIM_WRAPPERS.register_module()
class SkipNonFiniteOptimWrapper(OptimWrapper):
    """``OptimWrapper`` that leaves parameters and optimizer state untouched on
    the steps ``HybridPretrain(nonfinite='skip')`` marked as non-finite.

    The model returns a zero loss for such a step; this wrapper still runs its
    backward (exact zero gradients, so DDP's all-reduce stays in step on every
    rank), then clears the gradients instead of calling ``optimizer.step()``:
    AdamW's moments, weight decay and step count do not move. Arguments as
    ``OptimWrapper``.
    """

    def update_params(self, loss: torch.Tensor,
                      step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        hub = MessageHub.get_current_instance()
        if not hub.get_info(SKIP_STEP_KEY, False):
            return super().update_params(loss, step_kwargs, zero_kwargs)
        hub.update_info(SKIP_STEP_KEY, False)
        self.backward(loss)
        self.zero_grad(**(zero_kwargs or {}))
