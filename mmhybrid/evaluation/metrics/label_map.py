"""mAP of a multi-label head, per class group, beside the chance level."""
from typing import Dict, Optional, Sequence

import torch
from mmpretrain.evaluation import AveragePrecision
from mmpretrain.structures import label_to_onehot


def multilabel_targets(gt_labels: Sequence[Sequence[int]],
                       num_classes: int) -> torch.Tensor:
    """One-hot targets (N, num_classes), float, of per-image class lists."""
    return torch.stack([label_to_onehot(list(labels), num_classes)
                        for labels in gt_labels]).float()


def label_map(scores: torch.Tensor, targets: torch.Tensor,
              groups: Optional[Dict[str, Sequence[int]]] = None
              ) -> Dict[str, Dict[str, float]]:
    """mAP (%) of ``scores`` against one-hot ``targets`` (both (N, num_classes))
    per group of classes, and the group's chance level (its positive rate, %).

    Per-class AP is mmpretrain's (``AveragePrecision``: a class without
    positives counts 0); a group's mAP is the mean over its classes, so the
    default single group ``'all'`` is ``AveragePrecision``'s macro mAP.

    Args:
        scores (Tensor): Predicted scores.
        targets (Tensor): 1 where the class is present, else 0.
        groups (dict, optional): Group name -> class indices (e.g. garments,
            image types). Defaults to ``{'all': every class}``.
    """
    ap = AveragePrecision.calculate(scores, targets, average=None)
    targets = torch.as_tensor(targets).float()
    groups = groups or {'all': range(ap.shape[0])}
    return {name: dict(mAP=float(ap[list(idx)].mean()),
                       chance=float(100 * targets[:, list(idx)].mean()))
            for name, idx in groups.items()}
