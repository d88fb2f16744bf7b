"""Frozen-feature probes of a backbone on the demo world: weighted kNN and a
linear classifier (the metrics: :mod:`mmhybrid.evaluation`).

Features are the last stage's globally pooled output of the backbone as the
fine-tuning config builds it (mmpretrain ``HybridSwinTransformer``, loaded by its
own ``init_cfg``), on the Fashion-MNIST images of the demo world. The linear
probe's learning rate and weight decay are chosen on the validation split; both
probes report the test split.

With garment classes held out of the pre-training's labels
(``Protocol.held_out_classes``), both probes also run on the held-out classes'
images alone and on the known classes' images alone (:func:`subset_probes`:
the same features, their rows of those classes, a k-way task).
"""
import logging
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

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


def class_subset(features: torch.Tensor, labels: torch.Tensor,
                 classes: Sequence[int]) -> Tuple[torch.Tensor, torch.Tensor]:
    """The rows of ``classes``, their labels renumbered ``0 .. k-1`` in the
    order of ``classes`` (a k-way task)."""
    classes = torch.as_tensor(list(classes), dtype=labels.dtype)
    rows = torch.isin(labels, classes)
    remap = torch.full((int(max(labels.max(), classes.max())) + 1, ), -1,
                       dtype=labels.dtype)
    remap[classes] = torch.arange(len(classes), dtype=labels.dtype)
    return features[rows], remap[labels[rows]]


def probe_metrics(data: Dict[str, Tuple[torch.Tensor, torch.Tensor]], seed: int,
                  linear_epochs: int = 30, suffix: str = ''
                  ) -> Dict[str, Dict[str, float]]:
    """kNN and linear top-1 of ``data``'s features, the linear probe's learning
    rate and weight decay chosen on its validation split.

    Args:
        data (dict): ``'train'``, ``'val'``, ``'test'`` -> (features, labels),
            as :func:`run_frozen_probes` extracts them.
        seed (int): Seed of the linear probe.
        linear_epochs (int): Its epochs.
        suffix (str): If given, metric names are ``knn_top1_<suffix>`` and
            ``linear_top1_<suffix>``, the linear probe's choice
            ``linear_lr_<suffix>`` and ``linear_weight_decay_<suffix>``.

    Returns:
        dict: ``{'val': {...}, 'test': {...}, 'choice': {...}}``.
    """
    def name(metric):
        return f'{metric}_{suffix}' if suffix else metric

    (tr, ytr), (va, yva), (te, yte) = data['train'], data['val'], data['test']
    linear = linear_probe(tr, ytr, va, yva, te, yte, epochs=linear_epochs, seed=seed)
    return dict(
        val={name('knn_top1'): knn_top1(tr, ytr, va, yva),
             name('linear_top1'): linear['val']},
        test={name('knn_top1'): knn_top1(tr, ytr, te, yte),
              name('linear_top1'): linear['test']},
        choice={name('linear_lr'): linear['lr'],
                name('linear_weight_decay'): linear['weight_decay']})


def subset_probes(data: Dict[str, Tuple[torch.Tensor, torch.Tensor]],
                  classes: Sequence[int], suffix: str, seed: int,
                  linear_epochs: int = 30) -> Dict[str, Dict[str, float]]:
    """:func:`probe_metrics` trained and tested on ``classes`` only (a k-way
    task), metric names suffixed with ``suffix``."""
    sub = {}
    for split, (features, labels) in data.items():
        sub[split] = class_subset(features, labels, classes)
        if not len(sub[split][1]):
            raise ValueError(f'the {split} split of the probes holds no image of the '
                             f'classes {list(classes)}')
    return probe_metrics(sub, seed, linear_epochs, suffix)


def run_frozen_probes(data_root: str, splits: Dict[str, str], finetune_config: str,
                      checkpoint: Optional[str], seed: int, limit: Optional[int] = None,
                      linear_epochs: int = 30,
                      held_out_classes: Sequence[int] = ()
                      ) -> Dict[str, Dict[str, float]]:
    """kNN and linear top-1 of the backbone in ``checkpoint`` (None: random init).

    Returns ``{'val': {...}, 'test': {...}, 'choice': {...}}`` with metrics
    ``knn_top1`` and ``linear_top1``; with ``held_out_classes`` (garment class
    indices) also ``knn_top1_held_out`` / ``linear_top1_held_out`` (probes
    trained and tested on those classes' images only) and ``knn_top1_known``
    / ``linear_top1_known`` (on the other classes'), from the same features.
    """
    torch.manual_seed(seed)  # random init (checkpoint None) depends on the seed
    backbone = build_backbone(finetune_config, checkpoint)
    data = {}
    for name, list_file in (('train', splits['cls_train_pool']), ('val', splits['cls_val']),
                            ('test', 'cls/meta/test.txt')):
        images, labels = load_cls_split(data_root, list_file, limit)
        data[name] = (extract_features(backbone, images), labels)
    out = probe_metrics(data, seed, linear_epochs)
    if held_out_classes:
        held = sorted(int(c) for c in held_out_classes)
        present = sorted(set(torch.cat([labels for _, labels in data.values()]).tolist()))
        if not set(held) < set(present):
            raise ValueError(f'held-out classes {held}: the probes\' images are of '
                             f'the classes {present}, and some must stay known')
        known = [c for c in present if c not in held]
        for classes, suffix in ((known, 'known'), (held, 'held_out')):
            part = subset_probes(data, classes, suffix, seed, linear_epochs)
            for key in out:
                out[key].update(part[key])
    return out
