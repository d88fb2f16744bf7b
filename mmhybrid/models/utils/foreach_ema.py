"""mmpretrain's ``CosineEMA`` with the update over all parameters at once.

mmengine's ``ExponentialMovingAverage.update_parameters`` calls ``avg_func``
once per parameter (two small kernels each: ``mul_`` and ``add_``), and copies
the buffers one by one; for Swin-B + MoCo v3's projector that is ~700 kernel
launches a step. :class:`ForeachCosineEMA` does the same arithmetic with
``torch._foreach_mul_`` / ``torch._foreach_add_`` (a few multi-tensor kernels)
and ``torch._foreach_copy_``: the same operations in the same order, so the
averaged weights are bit-identical to ``CosineEMA``'s (``_foreach_lerp_``
would be one kernel less but rounds differently, ~1 ulp).
"""
from math import cos, pi

import torch
from mmengine.logging import MessageHub
from mmpretrain.models.utils import CosineEMA
from mmpretrain.registry import MODELS
from torch import nn


@MODELS.register_module()
class ForeachCosineEMA(CosineEMA):
    """``CosineEMA`` (same arguments, momentum schedule, buffers and
    ``state_dict``) whose parameter update runs as foreach kernels."""

    def momentum_at(self, steps) -> float:
        """The momentum ``CosineEMA.avg_func`` uses at ``steps``."""
        max_iters = MessageHub.get_current_instance().get_info('max_iters')
        cosine_annealing = (cos(pi * steps / float(max_iters)) + 1) / 2
        return self.end_momentum - (self.end_momentum -
                                    self.momentum) * cosine_annealing

    def update_parameters(self, model: nn.Module) -> None:
        if self.steps == 0 or self.steps % self.interval != 0:
            # the first step copies; off-interval steps only sync buffers
            return super().update_parameters(model)
        src = (model.state_dict() if self.update_buffers
               else dict(model.named_parameters()))
        averaged, sources = [], []
        for k, p_avg in self.avg_parameters.items():
            if p_avg.dtype.is_floating_point:
                averaged.append(p_avg.data)
                sources.append(src[k].data.to(p_avg.device))
        if averaged:
            momentum = self.momentum_at(self.steps)
            torch._foreach_mul_(averaged, 1 - momentum)
            torch._foreach_add_(averaged, sources, alpha=momentum)
        if not self.update_buffers:
            dst, src_buffers = [], []
            for b_avg, b_src in zip(self.module.buffers(), model.buffers()):
                dst.append(b_avg.data)
                src_buffers.append(b_src.data.to(b_avg.device))
            if dst:
                torch._foreach_copy_(dst, src_buffers)
        self.steps += 1
