"""How well a pre-training run's own label head recognises labels on held-out
images: mAP (%) per class group, against the chance level (the positive rate).

A diagnostic for the pre-training itself: a supervised task that does not learn
cannot give semantic features, whatever the downstream protocol.
"""
import json
import os.path as osp
from typing import Dict, Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint

from mmhybrid.evaluation import label_map, multilabel_targets
from mmhybrid.utils.checkpoint_loading import safe_mmengine_checkpoints


def label_head_map(config: str, checkpoint: str, ann_file: str, data_prefix: str,
                   groups: Optional[Dict[str, Sequence[int]]] = None,
                   limit: Optional[int] = None,
                   batch_size: int = 50) -> Dict[str, Dict[str, float]]:
    """mAP and chance (%) of the label head of ``checkpoint`` on ``ann_file``.

    Args:
        config (str): The run's config (``HybridPretrain`` with ``multilabel``).
        checkpoint (str): The run's checkpoint.
        ann_file (str): MultiLabelDataset JSON with labelled entries.
        data_prefix (str): Folder the entries' ``img_path`` are relative to.
        groups (dict, optional): Group name -> class indices (e.g. garments,
            image types). Defaults to one group of all classes.
        limit (int, optional): Use the first ``limit`` labelled entries.
    """
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(config)
    if not cfg.model.get('multilabel'):
        raise ValueError(f'{config}: the model has no label head (multilabel=None)')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    with safe_mmengine_checkpoints():
        load_checkpoint(model, checkpoint, map_location='cpu', logger='silent')
    model.eval()
    with open(ann_file) as f:
        entries = [d for d in json.load(f)['data_list'] if d.get('gt_label')][:limit]
    if not entries:
        raise ValueError(f'{ann_file}: no labelled entries')
    pre = cfg.model.data_preprocessor
    mean = torch.tensor(pre['mean']).view(1, 3, 1, 1)
    std = torch.tensor(pre['std']).view(1, 3, 1, 1)
    logits = []
    for start in range(0, len(entries), batch_size):
        images = []
        for d in entries[start:start + batch_size]:
            path = osp.join(data_prefix, d['img_path'])
            img = cv2.imread(path, cv2.IMREAD_COLOR)
            if img is None:
                raise FileNotFoundError(f'{path}: missing or not an image ({ann_file})')
            images.append(img[:, :, ::-1].transpose(2, 0, 1))
        x = (torch.from_numpy(np.stack(images)).float() - mean) / std
        with torch.no_grad():
            logits.append(model.cls_head(model.cls_neck(model.extract_feat(x)[-1:])))
    scores = torch.cat(logits).sigmoid()
    targets = multilabel_targets([d['gt_label'] for d in entries], scores.shape[1])
    return label_map(scores, targets, groups)
