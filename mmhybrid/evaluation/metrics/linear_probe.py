"""Linear probe of frozen features: a linear classifier, its lr and weight
decay chosen on the validation split."""
import itertools
from typing import Dict, Sequence

import torch
from torch import nn


def train_linear(train: torch.Tensor, labels: torch.Tensor, lr: float,
                 weight_decay: float, epochs: int, seed: int) -> nn.Module:
    """A linear classifier on ``train`` features (AdamW, cosine, batch 256)."""
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
    """Standardise the features (train mean / std), train one head per (lr,
    weight decay), pick the best on val; returns its val and test top-1 (%) and
    the choice (``val``, ``test``, ``lr``, ``weight_decay``)."""
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
