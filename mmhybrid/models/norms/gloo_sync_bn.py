"""Synchronised BatchNorm that runs on any device torch.distributed serves,
including CPU processes on the gloo backend.

``torch.nn.SyncBatchNorm`` refuses CPU tensors (it relies on CUDA kernels such
as ``batch_norm_gather_stats_with_counts``), so GPU configs with
``norm_cfg=dict(type='SyncBN')`` cannot be trained with several CPU processes.
:class:`GlooSyncBatchNorm` (registered as ``type='GlooSyncBN'``) computes the
same thing with plain tensor ops and ``torch.distributed`` collectives:

* forward: every rank computes its per-channel ``(mean, biased var, count)``,
  the ranks all-gather them and combine them (Chan et al.'s parallel variance,
  in float64) into the statistics of the global batch; the running statistics
  are updated with the global mean and the unbiased global variance, exactly
  as ``nn.BatchNorm`` would with the whole batch in one process;
* backward: the per-channel ``sum(dy)`` and ``sum(dy * x_hat)`` are all-reduced
  so that each rank's input gradient is the gradient of the sum of all ranks'
  losses; ``weight``/``bias`` get their local sums, which DDP then averages
  (the same contract as ``nn.SyncBatchNorm``). With DDP averaging, the
  parameter gradients equal those of one process that holds the global batch
  and whose loss is the mean of the ranks' losses.

Without an initialised process group, with a world size of 1, in eval mode or
without batch statistics it calls ``F.batch_norm`` with the same arguments as
``nn.BatchNorm*d``: bit-identical to BN (and, like ``SyncBN``, it accepts any
input of shape ``(N, C, *)``). The state dict is BN's, so checkpoints load into
BN and SyncBN models and back.

All ranks must call it the same number of times in the same order (as for any
collective); ranks may hold different numbers of samples, even none.
"""
from typing import Optional

import torch
import torch.distributed as dist
import torch.nn.functional as F
from mmengine.registry import MODELS
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm


def _reduce_dims(x: Tensor):
    return [0] + list(range(2, x.dim()))


def _channel_view(t: Tensor, x: Tensor) -> Tensor:
    """Shape a per-channel vector to broadcast against ``x`` (N, C, *)."""
    return t.view((1, -1) + (1, ) * (x.dim() - 2))


class _GlobalBatchNormFunction(torch.autograd.Function):
    """Batch normalisation with statistics over all ranks of ``group``."""

    @staticmethod
    def forward(ctx, input: Tensor, weight: Optional[Tensor],
                bias: Optional[Tensor], running_mean: Optional[Tensor],
                running_var: Optional[Tensor], eps: float, momentum: float,
                group, world_size: int) -> Tensor:
        x = input.contiguous()
        channels = x.size(1)
        count = x.numel() // channels if channels else 0
        if count > 0:
            var, mean = torch.var_mean(x, dim=_reduce_dims(x), unbiased=False)
        else:  # an empty rank still takes part in the collective
            mean = var = x.new_zeros(channels)
        local = torch.cat([mean.double(), var.double(),
                           mean.new_full((1, ), count, dtype=torch.float64)])
        gathered = [torch.empty_like(local) for _ in range(world_size)]
        dist.all_gather(gathered, local, group=group)
        stats = torch.stack(gathered)  # (world_size, 2C + 1)
        means, vars_, counts = stats[:, :channels], stats[:, channels:-1], stats[:, -1:]
        total = counts.sum()
        if total <= 1:
            raise ValueError('Expected more than 1 value per channel when '
                             f'training, got {int(total)} over all ranks')
        g_mean = (means * counts).sum(0) / total
        g_var = ((vars_ + (means - g_mean)**2) * counts).sum(0) / total
        invstd = torch.rsqrt(g_var + eps)

        if running_mean is not None:
            running_mean.mul_(1 - momentum).add_(
                g_mean.to(running_mean.dtype), alpha=momentum)
        if running_var is not None:
            unbiased = g_var * (total / (total - 1))
            running_var.mul_(1 - momentum).add_(
                unbiased.to(running_var.dtype), alpha=momentum)

        mean_x = g_mean.to(x.dtype)
        invstd_x = invstd.to(x.dtype)
        out = (x - _channel_view(mean_x, x)) * _channel_view(invstd_x, x)
        if weight is not None:
            out = out * _channel_view(weight, x)
        if bias is not None:
            out = out + _channel_view(bias, x)
        ctx.save_for_backward(x, weight, mean_x, invstd_x)
        ctx.has_bias = bias is not None
        ctx.total = total.item()
        ctx.group = group
        return out

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        x, weight, mean, invstd = ctx.saved_tensors
        g = grad_output.contiguous()
        dims = _reduce_dims(x)
        x_hat = (x - _channel_view(mean, x)) * _channel_view(invstd, x)
        sum_dy = g.sum(dims, dtype=torch.float64)
        sum_dy_xhat = (g * x_hat).sum(dims, dtype=torch.float64)

        grad_input = grad_weight = grad_bias = None
        if weight is not None and ctx.needs_input_grad[1]:
            grad_weight = sum_dy_xhat.to(weight.dtype)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = sum_dy.to(g.dtype)
        if ctx.needs_input_grad[0]:
            # d(sum of all ranks' losses)/d(local input): global sums
            sums = torch.cat([sum_dy, sum_dy_xhat])
            dist.all_reduce(sums, group=ctx.group)
            channels = x.size(1)
            mean_dy = (sums[:channels] / ctx.total).to(x.dtype)
            mean_dy_xhat = (sums[channels:] / ctx.total).to(x.dtype)
            scale = invstd if weight is None else invstd * weight
            grad_input = (g - _channel_view(mean_dy, x)
                          - x_hat * _channel_view(mean_dy_xhat, x)
                          ) * _channel_view(scale, x)
        return (grad_input, grad_weight, grad_bias, None, None, None, None,
                None, None)


@MODELS.register_module('GlooSyncBN')
class GlooSyncBatchNorm(_BatchNorm):
    """``SyncBN`` for any device and backend, gloo on CPU included.

    Normalises over the batch of all ranks of ``process_group`` (default: the
    whole world) in training mode; see the module docstring for the maths and
    the fall-backs to plain BN. Arguments as ``nn.SyncBatchNorm``'s. Built by
    ``build_norm_layer(dict(type='GlooSyncBN'), C)``; its abbreviation is
    ``bn`` (a ``_BatchNorm``), like ``SyncBN``'s, so module names and
    checkpoint keys do not change.
    """

    def __init__(self,
                 num_features: int,
                 eps: float = 1e-5,
                 momentum: Optional[float] = 0.1,
                 affine: bool = True,
                 track_running_stats: bool = True,
                 process_group=None,
                 device=None,
                 dtype=None) -> None:
        super().__init__(num_features, eps, momentum, affine,
                         track_running_stats, device=device, dtype=dtype)
        self.process_group = process_group

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f'expected at least 2D input (got {input.dim()}D input)')

    def _sync_world_size(self) -> int:
        if not (dist.is_available() and dist.is_initialized()):
            return 1
        return dist.get_world_size(self.process_group or dist.group.WORLD)

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            factor = (1.0 / float(self.num_batches_tracked)
                      if self.momentum is None else self.momentum)
        bn_training = self.training or (self.running_mean is None
                                        and self.running_var is None)
        track = not self.training or self.track_running_stats
        running_mean = self.running_mean if track else None
        running_var = self.running_var if track else None

        world_size = self._sync_world_size() if (bn_training
                                                 and self.training) else 1
        if world_size == 1:
            return F.batch_norm(input, running_mean, running_var, self.weight,
                                self.bias, bn_training, factor, self.eps)
        return _GlobalBatchNormFunction.apply(
            input, self.weight, self.bias, running_mean, running_var, self.eps,
            factor, self.process_group or dist.group.WORLD, world_size)
