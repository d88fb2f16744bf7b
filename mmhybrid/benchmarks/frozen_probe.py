"""Frozen-feature probes of a backbone: weighted kNN and a linear classifier.

Features are the last stage's globally pooled output of the backbone as the
fine-tuning config builds it (mmpretrain ``HybridSwinTransformer``, loaded by its
own ``init_cfg``), on the Fashion-MNIST images of the demo world. The linear
probe's learning rate and weight decay are chosen on the validation split; both
probes report the test split.
"""
import itertools
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


def knn_top1(train: torch.Tensor, train_labels: torch.Tensor, query: torch.Tensor,
             query_labels: torch.Tensor, k: int = 20,
             temperature: float = 0.07) -> float:
    """Top-1 (%) of a cosine-similarity kNN with exp(sim / T) weighted votes
    (Wu et al. 2018, as DINO's kNN probe)."""
    train = nn.functional.normalize(train, dim=1)
    query = nn.functional.normalize(query, dim=1)
    num_classes = int(train_labels.max()) + 1
    correct = 0
    for start in range(0, len(query), 1024):
        sim = query[start:start + 1024] @ train.T
        top, idx = sim.topk(min(k, len(train)), dim=1)
        votes = torch.zeros(len(top), num_classes).scatter_add_(
            1, train_labels[idx], (top / temperature).exp())
        correct += (votes.argmax(1) == query_labels[start:start + 1024]).sum().item()
    return 100. * correct / len(query)


def train_linear(train: torch.Tensor, labels: torch.Tensor, lr: float,
                 weight_decay: float, epochs: int, seed: int) -> nn.Module:
    """A linear classifier on standardised features (AdamW, cosine, batch 256)."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    head = nn.Linear(train.shape[1], int(labels.max()) + 1)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * ((len(train) + 255) // 256)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(epochs):
        for idx in torch.randperm(len(train), generator=g).split(256):
            loss = nn.functional.cross_entropy(head(train[idx]), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return head


def linear_probe(train, train_labels, val, val_labels, test, test_labels,
                 lrs: Sequence[float] = (1e-3, 1e-2),
                 weight_decays: Sequence[float] = (1e-4, 1e-2),
                 epochs: int = 30, seed: int = 0) -> Dict[str, float]:
    """Train one head per (lr, weight decay), pick the best on val, report its
    val and test top-1 (%) and the choice."""
    mean, std = train.mean(0), train.std(0) + 1e-6
    train, val, test = [(f - mean) / std for f in (train, val, test)]
    best = None
    for lr, wd in itertools.product(lrs, weight_decays):
        head = train_linear(train, train_labels, lr, wd, epochs, seed)
        with torch.no_grad():
            acc = 100. * (head(val).argmax(1) == val_labels).float().mean().item()
        if best is None or acc > best[0]:
            best = (acc, lr, wd, head)
    acc, lr, wd, head = best
    with torch.no_grad():
        test_acc = 100. * (head(test).argmax(1) == test_labels).float().mean().item()
    return dict(val=acc, test=test_acc, lr=lr, weight_decay=wd)


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
