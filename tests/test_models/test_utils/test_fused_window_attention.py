"""FusedWindowMSA computes what mmpretrain's WindowMSA computes, with SDPA."""
import copy

import pytest
import torch
from mmpretrain.models.selfsup import SimMIMSwinTransformer
from mmpretrain.models.utils.attention import ShiftWindowMSA, WindowMSA

from mmhybrid.models.utils import (CachedMaskShiftWindowMSA, FusedWindowMSA,
                                   fuse_window_attention)


def swin(dtype=torch.float32):
    """Demo-like SimMIM Swin, 64 px, window 4 (stage maps 16, 8, 4, 2: shifted,
    padded and unshifted windows all occur), random relative position biases."""
    model = SimMIMSwinTransformer(
        arch=dict(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4]),
        img_size=64, stage_cfgs=dict(block_cfgs=dict(window_size=4)),
        pad_small_map=True, out_indices=(3, ), drop_path_rate=0.).to(dtype)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'relative_position_bias_table' in name:
                p.normal_(std=1.0)
    return model


def test_switches_every_window_attention_and_keeps_the_state_dict():
    model = swin()
    keys = model.state_dict().keys()
    assert fuse_window_attention(model) == 8
    types = {type(m) for m in model.modules()}
    assert FusedWindowMSA in types and CachedMaskShiftWindowMSA in types
    assert WindowMSA not in types and ShiftWindowMSA not in types
    assert model.state_dict().keys() == keys
    assert fuse_window_attention(model) == 0  # idempotent


@pytest.mark.parametrize('masked', [False, True])
def test_outputs_and_gradients_equal_window_msa(masked):
    torch.manual_seed(0)
    explicit = swin(torch.float64)
    fused = copy.deepcopy(explicit)
    fuse_window_attention(fused)
    x = torch.randn(3, 3, 64, 64, dtype=torch.float64)
    mask = None
    if masked:
        mask = torch.zeros(3, 16, 16)
        mask[:, ::2] = 1
    a, b = explicit(x, mask)[0], fused(x, mask)[0]
    torch.testing.assert_close(b, a, rtol=0, atol=1e-12)
    a.square().sum().backward()
    b.square().sum().backward()
    for (name, p), q in zip(explicit.named_parameters(), fused.parameters()):
        if p.grad is not None:
            torch.testing.assert_close(q.grad, p.grad, rtol=1e-9, atol=1e-12,
                                       msg=name)


def test_float32_outputs_within_float_tolerance():
    torch.manual_seed(0)
    explicit = swin()
    explicit.eval()  # mmpretrain's Swin.train() returns None
    fused = copy.deepcopy(explicit)
    fuse_window_attention(fused)
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(fused(x, None)[0], explicit(x, None)[0],
                               rtol=1e-4, atol=1e-5)


def test_shift_mask_is_built_once_per_resolution():
    a = CachedMaskShiftWindowMSA.get_attn_mask((8, 8), 4, 2, 'cpu')
    b = CachedMaskShiftWindowMSA.get_attn_mask((8, 8), 4, 2, torch.device('cpu'))
    c = CachedMaskShiftWindowMSA.get_attn_mask((16, 16), 4, 2, 'cpu')
    assert a is b and c is not a
    torch.testing.assert_close(a, ShiftWindowMSA.get_attn_mask((8, 8), 4, 2, 'cpu'))
    assert CachedMaskShiftWindowMSA.get_attn_mask((8, 8), 4, 0, 'cpu') is None
