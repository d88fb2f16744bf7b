"""Convert our Swin backbone (mmpretrain layout) to timm's ``SwinTransformer``.

Key correspondence (mmpretrain -> timm ``models/swin_transformer.py``):

=========================================  =========================================
``patch_embed.projection``                 ``patch_embed.proj``
``stages.i.blocks.j.attn.w_msa.*``         ``layers.i.blocks.j.attn.*``
``stages.i.blocks.j.ffn.layers.0.0``       ``layers.i.blocks.j.mlp.fc1``
``stages.i.blocks.j.ffn.layers.1``         ``layers.i.blocks.j.mlp.fc2``
``stages.i.downsample.*``                  ``layers.(i+1).downsample.*`` (reordered)
``norm{last}``                             ``norm``
=========================================  =========================================

Patch merging: mmcv's ``nn.Unfold`` concatenates the 2x2 neighbours channel-major
(``c*4 + k``, ``k`` = (0,0), (0,1), (1,0), (1,1) in (row, col)), timm (and the original
Swin) neighbour-major (``j*C + c``, ``j`` = (0,0), (1,0), (0,1), (1,1)); the
reduction weight's input dimension and the merge norm are permuted accordingly.
timm downsamples at the start of a stage, mmpretrain at the end of the previous one.

timm's Swin has no absolute position embedding and no mask token; the backbone's
output is ``forward_features(x)`` (NHWC, after ``norm``), which equals our last
``out_indices`` feature map (NCHW) permuted.
"""
import math
import re
from collections import OrderedDict
from typing import Dict

import torch

# Unfold order k -> original Swin order j, both over the 2x2 neighbourhood.
_UNFOLD_TO_SWIN = [0, 2, 1, 3]

_BLOCK_RENAMES = (
    ('.attn.w_msa.', '.attn.'),
    ('.ffn.layers.0.0.', '.mlp.fc1.'),
    ('.ffn.layers.1.', '.mlp.fc2.'),
)


def _merge_weight_to_timm(weight: torch.Tensor) -> torch.Tensor:
    out_channels, in_channels = weight.shape
    weight = weight.reshape(out_channels, in_channels // 4, 4)
    return weight[:, :, _UNFOLD_TO_SWIN].transpose(1, 2).reshape(
        out_channels, in_channels)


def _merge_norm_to_timm(param: torch.Tensor) -> torch.Tensor:
    in_channels = param.shape[0]
    param = param.reshape(in_channels // 4, 4)
    return param[:, _UNFOLD_TO_SWIN].transpose(0, 1).reshape(in_channels)


def timm_swin_kwargs(state_dict: Dict[str, torch.Tensor]) -> dict:
    """``timm.models.swin_transformer.SwinTransformer`` arguments that fit the
    weights (``embed_dim``, ``depths``, ``num_heads``, ``window_size``,
    ``patch_size``), read from a backbone state dict in mmpretrain layout
    (with or without the ``backbone.`` prefix)."""
    sd = {k[len('backbone.'):] if k.startswith('backbone.') else k: v
          for k, v in state_dict.items()}
    proj = sd['patch_embed.projection.weight']
    depths, num_heads, windows = [], [], set()
    stage = 0
    while f'stages.{stage}.blocks.0.norm1.weight' in sd:
        depth = 0
        while f'stages.{stage}.blocks.{depth}.norm1.weight' in sd:
            depth += 1
        table = sd[f'stages.{stage}.blocks.0.attn.w_msa.relative_position_bias_table']
        depths.append(depth)
        num_heads.append(int(table.shape[1]))
        windows.add((math.isqrt(table.shape[0]) + 1) // 2)
        stage += 1
    if len(windows) != 1:
        raise ValueError(f'one window size per backbone expected, got {windows}')
    return dict(embed_dim=int(proj.shape[0]), depths=tuple(depths),
                num_heads=tuple(num_heads), window_size=windows.pop(),
                patch_size=int(proj.shape[-1]))


def swin_to_timm(
        state_dict: Dict[str, torch.Tensor]) -> 'OrderedDict[str, torch.Tensor]':
    """Rename and reorder a Swin backbone state dict for timm.

    Args:
        state_dict (dict): Backbone tensors in mmpretrain's layout, with or without
            the ``backbone.`` prefix; derived buffers (``relative_position_index``)
            and ``mask_token`` are skipped.

    Returns:
        OrderedDict: A state dict that ``timm.models.swin_transformer.
        SwinTransformer(num_classes=0, **timm_swin_kwargs(state_dict))`` loads with
        ``strict=True``.

    Raises:
        ValueError: A key has no timm counterpart (e.g. ``absolute_pos_embed``).
    """
    sd = {k[len('backbone.'):] if k.startswith('backbone.') else k: v
          for k, v in state_dict.items()}
    last_stage = len(timm_swin_kwargs(sd)['depths']) - 1
    out, unmapped = OrderedDict(), []
    for key, value in sd.items():
        if key.endswith(('relative_position_index', 'attn_mask')) or \
                key == 'mask_token':
            continue
        if key.startswith('patch_embed.'):
            out[key.replace('.projection.', '.proj.')] = value
            continue
        if key.startswith(f'norm{last_stage}.'):
            out['norm.' + key.split('.', 1)[1]] = value
            continue
        merge = re.match(r'stages\.(\d+)\.downsample\.(reduction|norm)\.(weight|bias)$',
                         key)
        if merge:
            stage, layer, kind = int(merge.group(1)), merge.group(2), merge.group(3)
            convert = _merge_weight_to_timm if layer == 'reduction' \
                else _merge_norm_to_timm
            out[f'layers.{stage + 1}.downsample.{layer}.{kind}'] = convert(value)
            continue
        if key.startswith('stages.') and '.blocks.' in key:
            new_key = 'layers.' + key[len('stages.'):]
            for old, new in _BLOCK_RENAMES:
                new_key = new_key.replace(old, new)
            out[new_key] = value
            continue
        unmapped.append(key)
    if unmapped:
        raise ValueError(f'no timm Swin counterpart for: {unmapped}')
    return out
