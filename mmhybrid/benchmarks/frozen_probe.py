"""Frozen-feature probes of a backbone on the demo world: weighted kNN and a
linear classifier (the metrics: :mod:`mmhybrid.evaluation`).

Features are the last stage's globally pooled output of the backbone as the
fine-tuning config builds it (mmpretrain ``HybridSwinTransformer``, loaded by its
own ``init_cfg``), on the Fashion-MNIST images of the demo world. The linear
probe's learning rate and weight decay are chosen on the validation split; both
probes report the test split.
"""
import logging
import os.path as osp
from typing import Dict, Optional, Tuple

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from torch import nn

from mmhybrid.evaluation import knn_top1, linear_probe


def load_cls_split(data_root: str, list_file: str,
                   limit: Optional[int] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 3, H, W uint8, RGB) and labels of a ``CustomDataset`` list."""
    with open(osp.join(data_root, list_file)) as f:
        entries = [line.split() for line in f if line.strip()][:limit]
    images, labels = [], []
    for rel, label in entries:
        path = osp.join(data_root, 'cls', rel)
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f'{path}: missing or not an image ({list_file})')
        images.append(img[:, :, ::-1].transpose(2, 0, 1))
        labels.append(int(label))
    return torch.from_numpy(np.stack(images)), torch.tensor(labels)


def build_backbone(finetune_config: str, checkpoint: Optional[str]) -> nn.Module:
    """The fine-tuning config's backbone with ``checkpoint`` loaded (None: random
    init), in eval mode, plus its data preprocessor's mean/std."""
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(finetune_config)
    backbone_cfg = cfg.model.backbone.to_dict()
    backbone_cfg['drop_path_rate'] = 0.
    if checkpoint is None:
        backbone_cfg['init_cfg'] = None
    else:
        backbone_cfg['init_cfg']['checkpoint'] = checkpoint
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        backbone = MODELS.build(backbone_cfg)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)  # not mmengine's per-parameter init dump
    try:
        backbone.init_weights()
    finally:
        logger.setLevel(level)
    backbone.eval()
    pre = cfg.model.get('data_preprocessor') or cfg.data_preprocessor
    backbone.pixel_mean = torch.tensor(pre['mean']).view(1, 3, 1, 1)
    backbone.pixel_std = torch.tensor(pre['std']).view(1, 3, 1, 1)
    return backbone


@torch.no_grad()
def extract_features(backbone: nn.Module, images: torch.Tensor,
                     batch_size: int = 256) -> torch.Tensor:
    """Globally pooled last-stage features, (N, C)."""
    feats = []
    for start in range(0, len(images), batch_size):
        x = (images[start:start + batch_size].float() - backbone.pixel_mean
             ) / backbone.pixel_std
        feats.append(backbone(x)[-1].mean(dim=(2, 3)))
    return torch.cat(feats)


def run_frozen_probes(data_root: str, splits: Dict[str, str], finetune_config: str,
                      checkpoint: Optional[str], seed: int, limit: Optional[int] = None,
                      linear_epochs: int = 30) -> Dict[str, Dict[str, float]]:
    """kNN and linear top-1 of the backbone in ``checkpoint`` (None: random init).

    Returns ``{'val': {...}, 'test': {...}, 'choice': {...}}`` with metrics
    ``knn_top1`` and ``linear_top1``.
    """
    torch.manual_seed(seed)  # random init (checkpoint None) depends on the seed
    backbone = build_backbone(finetune_config, checkpoint)
    data = {}
    for name, list_file in (('train', splits['cls_train_pool']), ('val', splits['cls_val']),
                            ('test', 'cls/meta/test.txt')):
        images, labels = load_cls_split(data_root, list_file, limit)
        data[name] = (extract_features(backbone, images), labels)
    (tr, ytr), (va, yva), (te, yte) = data['train'], data['val'], data['test']
    linear = linear_probe(tr, ytr, va, yva, te, yte, epochs=linear_epochs, seed=seed)
    return dict(
        val=dict(knn_top1=knn_top1(tr, ytr, va, yva), linear_top1=linear['val']),
        test=dict(knn_top1=knn_top1(tr, ytr, te, yte), linear_top1=linear['test']),
        choice=dict(linear_lr=linear['lr'], linear_weight_decay=linear['weight_decay']))
