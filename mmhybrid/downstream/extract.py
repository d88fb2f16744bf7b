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
(``meta.dataset_meta.classes``) and holds tensors, strings and lists only, so it
loads with ``torch.load(..., weights_only=True)``.
"""
from collections import Counter, OrderedDict
from typing import Dict, Tuple

from .pretrained_loader import DERIVED_BUFFER_SUFFIXES

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
