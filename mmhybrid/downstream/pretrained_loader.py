"""Load a pre-trained Swin backbone checkpoint and report exactly what was loaded.

Downstream Swin backbones in mmpretrain, mmdet and mmseg load a ``Pretrained``
checkpoint with ``strict=False`` and, at best, log the missing keys among other
start-up lines. A mistyped path prefix or a checkpoint of another architecture then
trains from scratch without anyone noticing. :func:`load_pretrained_backbone` makes
that impossible:

* every parameter the backbone has must come from the checkpoint, or be named in
  ``expected_new_keys`` (e.g. the per-stage output norms ``norm0``-``norm2`` that
  mmdet's and mmseg's Swin add and the pre-training Swin lacks); anything else
  missing raises :class:`MissingBackboneKeysError`, naming the keys;
* ``relative_position_bias_table`` of another window size is resized (bicubic, as
  the Swin paper, mmdet and mmseg do: :func:`fit_rel_pos_bias_table`, which
  ``tools/model_converters/extract_backbone.py --window-size`` uses too) and each
  resized table is reported with its window sizes. The tables reach
  ``load_state_dict`` at the backbone's shape, so mmpretrain's own resizing load
  hook, which calls SciPy's ``interp2d`` (removed in SciPy 1.14), has nothing to do;
* ``absolute_pos_embed`` of another token grid (``use_abs_pos_embed=True`` at
  another image size) is resized with mmpretrain's ``resize_pos_embed`` (the
  backbone's ``interpolate_mode``, bicubic by default) and reported with both grids.
  The checkpoint's grid is taken to be square (the pre-training image is); the
  backbone's is its ``patch_resolution`` (mmpretrain), else square (mmdet's and
  mmseg's Swin keep no grid and add the embedding unresized, at
  ``pretrain_img_size`` only);
* ``relative_position_index`` buffers are never loaded: they are derived from the
  window size and every Swin builds them on construction;
* checkpoint keys the backbone does not have are reported as unexpected (WARNING).

The report is logged (one block, INFO, WARNING when keys are unexpected) and
returned as a :class:`BackboneLoadReport`.
"""
import logging
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmpretrain.models.utils import resize_pos_embed
from torch import nn

from mmhybrid.utils.checkpoint_loading import load_mmengine_checkpoint

#: Buffers computed from the architecture, never taken from a checkpoint.
DERIVED_BUFFER_SUFFIXES = ('relative_position_index', 'attn_mask')


class MissingBackboneKeysError(RuntimeError):
    """Raised when a backbone parameter is neither in the checkpoint nor declared
    new on purpose."""


@dataclass
class BackboneLoadReport:
    """What :func:`load_pretrained_backbone` did.

    Args:
        checkpoint (str): The checkpoint path.
        loaded (list[str]): Backbone keys whose values came from the checkpoint.
        missing (list[str]): Backbone keys absent from the checkpoint and not
            declared new (always empty in a returned report: they raise).
        expected_new (list[str]): Declared-new keys, initialised from scratch.
        unexpected (list[str]): Checkpoint keys the backbone does not have.
        derived_buffers (list[str]): Buffers rebuilt from the architecture.
        resized (list[tuple]): ``(key, old_shape, new_shape, note)`` per resized
            tensor (relative position bias tables, absolute position embedding).
    """
    checkpoint: str
    loaded: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    expected_new: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    derived_buffers: List[str] = field(default_factory=list)
    resized: List[Tuple[str, tuple, tuple, str]] = field(default_factory=list)

    def summary(self, name: str = 'backbone') -> str:
        """The report as the multi-line text that is logged."""
        lines = [
            f'{name} initialised from {self.checkpoint}: '
            f'loaded {len(self.loaded)} keys, missing {len(self.missing)}, '
            f'unexpected {len(self.unexpected)}, new on purpose '
            f'{len(self.expected_new)}, derived buffers rebuilt '
            f'{len(self.derived_buffers)}, resized {len(self.resized)}'
        ]
        if self.expected_new:
            lines.append('  new on purpose (initialised from scratch): ' +
                         ', '.join(self.expected_new))
        if self.unexpected:
            lines.append('  unexpected (in checkpoint, not in backbone, ignored): '
                         + ', '.join(self.unexpected))
        for key, old, new, note in self.resized:
            lines.append(f'  resized {key}: {tuple(old)} -> {tuple(new)} ({note})')
        return '\n'.join(lines)


def _read_state_dict(checkpoint: str, prefix: str) -> Tuple[Dict, int]:
    """Checkpoint tensors under ``prefix`` (stripped) and the total key count."""
    ckpt = load_mmengine_checkpoint(checkpoint, map_location='cpu')
    state_dict = ckpt.get('state_dict', ckpt.get('model', ckpt))
    if prefix:
        selected = {k[len(prefix):]: v for k, v in state_dict.items()
                    if k.startswith(prefix)}
    else:
        selected = dict(state_dict)
    return selected, len(state_dict)


def window_of_table(table_len: int) -> int:
    """Window size of a square relative position bias table of length (2w-1)^2."""
    side = math.isqrt(table_len)
    return (side + 1) // 2


def table_len_of_window(window_size: int) -> int:
    """Rows of the relative position bias table of a square window: (2w-1)^2."""
    return (2 * window_size - 1)**2


def resize_rel_pos_bias_table(table: torch.Tensor, new_len: int) -> torch.Tensor:
    """Bicubic resize of a ``((2w-1)^2, num_heads)`` table to ``new_len`` rows."""
    old_len, num_heads = table.shape
    old_side, new_side = math.isqrt(old_len), math.isqrt(new_len)
    grid = table.permute(1, 0).reshape(1, num_heads, old_side, old_side)
    grid = F.interpolate(grid.float(), size=(new_side, new_side), mode='bicubic',
                         align_corners=False)
    return grid.reshape(num_heads, new_len).permute(1, 0).contiguous().to(table)


def fit_rel_pos_bias_table(table: torch.Tensor,
                           new_len: int) -> Tuple[torch.Tensor, Optional[str]]:
    """A relative position bias table at another window, as every mmhybrid path
    resizes it (this loader and ``extract_backbone.py --window-size``).

    Returns ``(table, note)``: the table resized to ``new_len`` rows by
    :func:`resize_rel_pos_bias_table` and the report note (``'window 6 -> 7,
    bicubic'``), or the table itself and None when it already has ``new_len`` rows.
    """
    if table.shape[0] == new_len:
        return table, None
    note = (f'window {window_of_table(table.shape[0])} -> '
            f'{window_of_table(new_len)}, bicubic')
    return resize_rel_pos_bias_table(table, new_len), note


def resize_abs_pos_embed(value: torch.Tensor, src: Tuple[int, int],
                         dst: Tuple[int, int],
                         mode: str = 'bicubic') -> Tuple[torch.Tensor, str]:
    """A ``(1, L, C)`` absolute position embedding from the ``src`` token grid to
    ``dst`` (mmpretrain's ``resize_pos_embed``), and the report note."""
    resized = resize_pos_embed(value, src, dst, mode=mode, num_extra_tokens=0)
    return resized.contiguous(), (f'grid {src[0]}x{src[1]} -> {dst[0]}x{dst[1]}, '
                                  f'{mode}')


def square_grid(num_tokens: int) -> Optional[Tuple[int, int]]:
    side = math.isqrt(num_tokens)
    return (side, side) if side * side == num_tokens else None


def _backbone_grid(backbone: nn.Module,
                   num_tokens: int) -> Optional[Tuple[int, int]]:
    """The token grid of a backbone's ``absolute_pos_embed``: mmpretrain's Swin
    keeps it as ``patch_resolution``; otherwise it is taken to be square."""
    grid = getattr(backbone, 'patch_resolution', None)
    if grid is not None and len(grid) == 2 and grid[0] * grid[1] == num_tokens:
        return int(grid[0]), int(grid[1])
    return square_grid(num_tokens)


def _fit_abs_pos_embed(backbone: nn.Module, key: str, value: torch.Tensor,
                       target: torch.Tensor
                       ) -> Tuple[Optional[torch.Tensor], Optional[str]]:
    """``(1, L, C)`` checkpoint embedding -> the backbone's grid.

    Returns ``(tensor, note)``: the tensor to load (``None`` when it cannot be
    made to fit, the note then says why) and, when resized, the report note.
    """
    if value.dim() != 3 or target.dim() != 3 or value.shape[0] != 1 or \
            target.shape[0] != 1 or value.shape[2] != target.shape[2]:
        return None, (f'{key}: checkpoint {tuple(value.shape)}, backbone '
                      f'{tuple(target.shape)}')
    src = square_grid(value.shape[1])
    dst = _backbone_grid(backbone, target.shape[1])
    if value.shape == target.shape and (src is None or dst is None or src == dst):
        return value, None
    if src is None or dst is None:
        side = 'checkpoint' if src is None else 'backbone'
        return None, (f'{key}: checkpoint {tuple(value.shape)}, backbone '
                      f'{tuple(target.shape)}; the {side} token count is not a '
                      'square grid, so the embedding cannot be resized')
    return resize_abs_pos_embed(value, src, dst,
                                mode=getattr(backbone, 'interpolate_mode', 'bicubic'))


def load_pretrained_backbone(backbone: nn.Module,
                             checkpoint: str,
                             prefix: str = 'backbone.',
                             expected_new_keys: Sequence[str] = (),
                             name: Optional[str] = None) -> BackboneLoadReport:
    """Load ``checkpoint`` into ``backbone``, log and return the load report.

    Args:
        backbone (nn.Module): The downstream backbone, already initialised from
            scratch (its declared-new keys keep that initialisation).
        checkpoint (str): Path of a checkpoint written by
            ``tools/model_converters/extract_backbone.py`` (or a full pre-training
            checkpoint: only the keys under ``prefix`` are read).
        prefix (str): Prefix of the backbone keys in the checkpoint.
            Defaults to ``'backbone.'``.
        expected_new_keys (Sequence[str]): Backbone keys that the checkpoint is
            known not to have, named one by one. Each must exist in the backbone.
        name (str, optional): How the backbone is named in the log.

    Returns:
        BackboneLoadReport: What was loaded, resized, ignored.

    Raises:
        MissingBackboneKeysError: A backbone key is neither in the checkpoint nor
            in ``expected_new_keys``; the message lists every such key.
        ValueError: ``expected_new_keys`` names a key the backbone does not have,
            or a checkpoint tensor's shape cannot be made to fit.
    """
    name = name or type(backbone).__name__
    source, total = _read_state_dict(checkpoint, prefix)
    own = backbone.state_dict()
    report = BackboneLoadReport(checkpoint=str(checkpoint))

    unknown_new = sorted(set(expected_new_keys) - set(own))
    if unknown_new:
        raise ValueError(f'expected_new_keys of {name} names keys the backbone '
                         f'does not have: {unknown_new}')

    def is_derived(key):
        return key.endswith(DERIVED_BUFFER_SUFFIXES)

    report.derived_buffers = sorted(k for k in own if is_derived(k))
    to_load = {k: v for k, v in source.items() if not is_derived(k)}
    report.unexpected = sorted(k for k in to_load if k not in own)
    for key in report.unexpected:
        to_load.pop(key)

    needed = [k for k in own if not is_derived(k)]
    absent = [k for k in needed if k not in to_load]
    report.expected_new = [k for k in absent if k in expected_new_keys]
    report.missing = [k for k in absent if k not in expected_new_keys]
    if report.missing:
        hint = (f' (no key in the checkpoint starts with {prefix!r})'
                if not source and prefix else '')
        raise MissingBackboneKeysError(
            f'{name}: {len(report.missing)} of {len(needed)} backbone keys are not '
            f'in {checkpoint} ({total} keys){hint} and not declared in '
            f'expected_new_keys:\n  ' + '\n  '.join(report.missing))
    present_new = sorted(set(expected_new_keys) & set(to_load))
    if present_new:
        print_log(f'{name}: expected_new_keys {present_new} are in the checkpoint '
                  'and are loaded from it; remove them from the config',
                  logger='current', level=logging.WARNING)

    mismatched = []
    for key, value in to_load.items():
        target = own[key]
        if key.endswith('absolute_pos_embed'):
            # resized even at the same token count when the grids differ
            fitted, note = _fit_abs_pos_embed(backbone, key, value, target)
            if fitted is None:
                mismatched.append(note)
            elif note is not None:
                to_load[key] = fitted
                report.resized.append((key, tuple(value.shape),
                                       tuple(target.shape), note))
            continue
        if value.shape == target.shape:
            continue
        if key.endswith('relative_position_bias_table') and \
                value.dim() == 2 and value.shape[1] == target.shape[1]:
            to_load[key], note = fit_rel_pos_bias_table(value, target.shape[0])
            report.resized.append((key, tuple(value.shape), tuple(target.shape),
                                   note))
        else:
            mismatched.append(f'{key}: checkpoint {tuple(value.shape)}, '
                              f'backbone {tuple(target.shape)}')
    if mismatched:
        raise ValueError(f'{name}: checkpoint tensors do not fit the backbone:\n  '
                         + '\n  '.join(mismatched))

    result = backbone.load_state_dict(to_load, strict=False)
    # What torch reports must agree with the bookkeeping above.
    torch_missing = [k for k in result.missing_keys if not is_derived(k)]
    assert sorted(torch_missing) == sorted(report.expected_new), torch_missing
    report.loaded = sorted(to_load)

    level = logging.WARNING if report.unexpected else logging.INFO
    print_log(report.summary(name), logger='current', level=level)
    return report
