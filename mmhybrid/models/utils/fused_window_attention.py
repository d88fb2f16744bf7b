"""Swin window attention through ``F.scaled_dot_product_attention``.

mmpretrain's ``WindowMSA`` computes attention by hand (``q @ k^T``, the relative
position bias and the shift mask added, softmax, ``@ v``), and ``ShiftWindowMSA``
rebuilds the shift mask on every forward. :class:`FusedWindowMSA` hands the same
computation to PyTorch's fused attention, the relative position bias and the shift
mask summed into one additive mask (as timm's ``WindowAttention`` does with
``fused_attn``), and :class:`CachedMaskShiftWindowMSA` builds each shift mask once
per (padded resolution, window, shift, device). Parameters, buffers and
``state_dict`` keys are mmpretrain's: a checkpoint loads either way.

:func:`fuse_window_attention` switches the modules of a built model in place.
"""
import functools
from typing import Optional

import torch
import torch.nn.functional as F
from mmpretrain.models.utils.attention import ShiftWindowMSA, WindowMSA
from torch import nn


class FusedWindowMSA(WindowMSA):
    """``WindowMSA`` with the attention computed by
    ``F.scaled_dot_product_attention``; equal outputs within float tolerance."""

    def relative_position_bias(self) -> torch.Tensor:
        """(num_heads, N, N) bias of the window's N = Wh * Ww tokens."""
        n = self.window_size[0] * self.window_size[1]
        bias = self.relative_position_bias_table[
            self.relative_position_index.view(-1)].view(n, n, -1)
        return bias.permute(2, 0, 1)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None
                ) -> torch.Tensor:
        """
        Args:
            x (Tensor): (num_windows * B, N, C) window tokens.
            mask (Tensor, optional): (num_windows, N, N) shift mask, values
                in (-inf, 0].
        """
        B_, N, C = x.shape
        heads = self.num_heads
        q, k, v = self.qkv(x).reshape(B_, N, 3, heads, C // heads).permute(
            2, 0, 3, 1, 4).unbind(0)  # each (B_, heads, N, C / heads)
        bias = self.relative_position_bias().unsqueeze(0)  # (1, heads, N, N)
        if mask is not None:
            # windows are batch-major (B, nW): fold nW into the head axis so the
            # mask broadcasts over the batch in a 4-d call
            nW = mask.shape[0]
            bias = (bias + mask.unsqueeze(1).to(bias.dtype)).reshape(
                1, nW * heads, N, N)
            q, k, v = (t.reshape(B_ // nW, nW * heads, N, -1) for t in (q, k, v))
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias.to(q.dtype),
            dropout_p=self.attn_drop.p if self.training else 0., scale=self.scale)
        out = out.reshape(B_, heads, N, -1).transpose(1, 2).reshape(B_, N, C)
        return self.proj_drop(self.proj(out))


@functools.lru_cache(maxsize=64)
def _shift_mask(hw_shape, window_size, shift_size, device):
    return ShiftWindowMSA.get_attn_mask(hw_shape, window_size, shift_size, device)


class CachedMaskShiftWindowMSA(ShiftWindowMSA):
    """``ShiftWindowMSA`` that builds each shift mask once (the mask depends on
    the padded resolution, window and shift only; it is never written to)."""

    @staticmethod
    def get_attn_mask(hw_shape, window_size, shift_size, device=None):
        return _shift_mask(tuple(hw_shape), window_size, shift_size,
                           torch.device(device) if device is not None else None)


def fuse_window_attention(model: nn.Module) -> int:
    """Switch every mmpretrain ``WindowMSA`` / ``ShiftWindowMSA`` in ``model``
    (SimMIM's Swin, mmpretrain's Swin; a momentum copy made afterwards inherits
    the switch) to the fused / cached-mask classes, in place: same parameters,
    same ``state_dict``. Returns the number of attention modules switched."""
    switched = 0
    for module in model.modules():
        if type(module) is WindowMSA:
            module.__class__ = FusedWindowMSA
            switched += 1
        elif type(module) is ShiftWindowMSA:
            module.__class__ = CachedMaskShiftWindowMSA
    return switched
