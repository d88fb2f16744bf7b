"""Extract the online backbone of a HybridPretrain checkpoint for downstream use.

A HybridPretrain checkpoint holds the online backbone (``backbone.*``), its
momentum copy and projector (``momentum_encoder.*``), the task heads (``mim_neck``,
``mim_head``, ``con_neck``, ``con_head``, ``cls_head``), the loss balancer and the
optimizer state. Downstream only the online backbone is wanted, under the
``backbone.`` prefix that all three libraries read:

* mmpretrain: ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``;
* mmdet / mmseg ``SwinTransformer``: strip ``backbone.`` themselves (mmdet keeps
  only keys with that prefix);
* ``HybridSwinTransformer`` (:mod:`mmhybrid.downstream.hybrid_swin`): reads
  ``backbone.`` by default.

Also dropped: SimMIM's ``mask_token`` (unless kept on request) and the
``relative_position_index`` buffers, which every Swin derives from its window size
(loaded at another window size they would not even fit: mmdet's and mmseg's own
loaders copy them and fail on the shape).

The output keeps the label names of the pre-training data
(``meta.dataset_meta.classes``) and holds tensors, strings, numbers and lists only,
so it loads with ``torch.load(..., weights_only=True)``.

:func:`resize_backbone` (``extract_backbone.py --window-size N [--img-size S]``)
fits that checkpoint to a stock config of another window (and image size): every
``relative_position_bias_table`` resized to window ``N`` by the loader's own
:func:`~mmhybrid.downstream.pretrained_loader.fit_rel_pos_bias_table`, and a
``relative_position_index`` for window ``N`` beside each table, the buffer every
library's Swin holds in its state dict, so that a stock ``Pretrained`` load reports
no missing key.
"""
import math
from collections import Counter, OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch

from .pretrained_loader import (DERIVED_BUFFER_SUFFIXES, fit_rel_pos_bias_table,
                                resize_abs_pos_embed, square_grid,
                                table_len_of_window)

BACKBONE_PREFIX = 'backbone.'
MASK_TOKEN_KEY = 'backbone.mask_token'


def _group(key: str) -> str:
    """Name under which a dropped key is counted."""
    if key == MASK_TOKEN_KEY:
        return 'backbone.mask_token'
    if key.startswith(BACKBONE_PREFIX) and key.endswith(DERIVED_BUFFER_SUFFIXES):
        return 'backbone.*.' + key.rsplit('.', 1)[-1]
    return key.split('.', 1)[0]


def extract_backbone(checkpoint: dict,
                     keep_mask_token: bool = False) -> Tuple[dict, Dict[str, int]]:
    """Keep the online backbone of a pre-training checkpoint.

    Args:
        checkpoint (dict): A loaded checkpoint, ``{'meta': ..., 'state_dict': ...}``
            (a bare state dict is accepted too).
        keep_mask_token (bool): Keep SimMIM's ``backbone.mask_token``, e.g. to
            continue masked pre-training. Defaults to False.

    Returns:
        tuple[dict, dict]: The backbone checkpoint ``{'meta': {...}, 'state_dict':
        {'backbone.<key>': tensor}}`` and the number of dropped keys per group
        (``momentum_encoder``, ``mim_head``, ``backbone.mask_token``, ...).

    Raises:
        ValueError: The checkpoint has no ``backbone.`` keys.
    """
    state_dict = checkpoint.get('state_dict', checkpoint)
    kept, dropped = OrderedDict(), Counter()
    for key, value in state_dict.items():
        wanted = (key.startswith(BACKBONE_PREFIX)
                  and not key.endswith(DERIVED_BUFFER_SUFFIXES)
                  and (key != MASK_TOKEN_KEY or keep_mask_token))
        if wanted:
            kept[key] = value.detach().clone().cpu()
        else:
            dropped[_group(key)] += 1
    if not kept:
        groups = sorted({k.split('.', 1)[0] for k in state_dict})
        raise ValueError('no backbone.* keys in the checkpoint (its top-level key '
                         f'groups: {groups}); is it a pre-training checkpoint?')

    source_meta = checkpoint.get('meta') or {}
    classes = (source_meta.get('dataset_meta') or {}).get('classes')
    meta = dict(converted_by='mmhybrid extract_backbone',
                keep_mask_token=keep_mask_token)
    if classes is not None:
        meta['dataset_meta'] = dict(classes=[str(c) for c in classes])
    for key in ('epoch', 'iter', 'mmengine_version', 'time'):
        if isinstance(source_meta.get(key), (int, str)):
            meta[f'source_{key}'] = source_meta[key]
    return dict(meta=meta, state_dict=kept), dict(dropped)


TABLE_SUFFIX = 'relative_position_bias_table'
INDEX_SUFFIX = 'relative_position_index'


def relative_position_index(window_size: int) -> torch.Tensor:
    """The ``(w*w, w*w)`` ``relative_position_index`` buffer of a square window, as
    mmpretrain's, mmdet's and mmseg's ``WindowMSA`` build it (the row of the bias
    table for each query/key pair)."""
    w = window_size
    coords = (torch.arange(0, (2 * w - 1) * w, 2 * w - 1)[:, None] +
              torch.arange(0, w)[None, :]).reshape(1, -1)
    return (coords + coords.T).flip(1).contiguous()


def _size_pair(size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    if isinstance(size, int):
        return size, size
    size = tuple(int(s) for s in size)
    if len(size) != 2:
        raise ValueError(f'an image size is one or two numbers, got {size}')
    return size


def resize_backbone(
    state_dict: Dict[str, torch.Tensor],
    window_size: Optional[int] = None,
    img_size: Union[int, Sequence[int], None] = None,
) -> Tuple['OrderedDict[str, torch.Tensor]', List[Tuple[str, tuple, tuple, str]]]:
    """Fit a Swin backbone state dict to another window size and image size, as
    :func:`~mmhybrid.downstream.load_pretrained_backbone` would at load time.

    Args:
        state_dict (dict): Backbone tensors in mmpretrain's layout, with or without
            the ``backbone.`` prefix (e.g. ``extract_backbone(...)[0]['state_dict']``).
        window_size (int, optional): Target window. Every
            ``relative_position_bias_table`` is resized to ``(2N-1)^2`` rows (bicubic)
            and a ``relative_position_index`` for window ``N`` is put after it (also
            when the table already had that size). None: tables as they are.
        img_size (int | tuple[int, int], optional): Target image size: an
            ``absolute_pos_embed`` (``use_abs_pos_embed=True`` only) is resized to
            its token grid (image size / patch size, rounded up). None: as it is.

    Returns:
        tuple[OrderedDict, list]: The new state dict (other tensors unchanged, in
        the same order) and ``(key, old_shape, new_shape, note)`` per resized tensor,
        the notes as in the loader's report (``'window 6 -> 7, bicubic'``).

    Raises:
        ValueError: A table that is not square, a window below 1, or an
            ``absolute_pos_embed`` whose token count is not a square grid.
    """
    if window_size is not None and window_size < 1:
        raise ValueError(f'window size must be at least 1, got {window_size}')
    grid = None
    if img_size is not None:
        patch = [v for k, v in state_dict.items()
                 if k.endswith('patch_embed.projection.weight')]
        if len(patch) != 1:
            raise ValueError('img_size needs the patch size: expected one '
                             'patch_embed.projection.weight in the state dict, '
                             f'found {len(patch)}')
        height, width = _size_pair(img_size)
        patch_h, patch_w = patch[0].shape[-2:]
        grid = (math.ceil(height / patch_h), math.ceil(width / patch_w))

    out, resized = OrderedDict(), []
    for key, value in state_dict.items():
        if window_size is not None and key.endswith(INDEX_SUFFIX):
            continue  # rebuilt after its table
        if window_size is not None and key.endswith(TABLE_SUFFIX):
            if value.dim() != 2 or square_grid(value.shape[0]) is None or \
                    value.shape[0] % 2 == 0:
                raise ValueError(f'{key}: {tuple(value.shape)} is not the table of a '
                                 'square window ((2w-1)^2 rows, one column per head)')
            new_len = table_len_of_window(window_size)
            out[key], note = fit_rel_pos_bias_table(value, new_len)
            if note is not None:
                resized.append((key, tuple(value.shape), tuple(out[key].shape), note))
            out[key[:-len(TABLE_SUFFIX)] + INDEX_SUFFIX] = \
                relative_position_index(window_size)
            continue
        if grid is not None and key.endswith('absolute_pos_embed'):
            src = square_grid(value.shape[1]) if value.dim() == 3 else None
            if src is None:
                raise ValueError(f'{key}: {tuple(value.shape)} is not a (1, L, C) '
                                 'embedding of a square token grid')
            if src != grid:
                out[key], note = resize_abs_pos_embed(value, src, grid)
                resized.append((key, tuple(value.shape), tuple(out[key].shape), note))
                continue
        out[key] = value
    return out, resized
