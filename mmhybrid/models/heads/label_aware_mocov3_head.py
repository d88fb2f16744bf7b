"""MoCo v3's head, with the labelled samples' keys of the same classes as
extra positives (supervised contrastive positives inside the instance task)."""
from typing import List, Optional

import torch
import torch.nn.functional as F
from mmengine.dist import all_gather, get_rank
from mmpretrain.models.heads import MoCoV3Head
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample, label_to_onehot


def positive_sets(data_samples: List[DataSample], num_classes: int,
                  device: torch.device) -> torch.Tensor:
    """``(N, num_classes)`` multi-hot of each sample's positive classes
    (``gt_label``); a row of zeros for a sample without ``gt_label``
    (unlabelled, or soft ``gt_score`` only)."""
    rows = torch.zeros(len(data_samples), num_classes, device=device)
    for row, ds in zip(rows, data_samples):
        if 'gt_label' in ds:
            if ds.gt_label.numel() and int(ds.gt_label.max()) >= num_classes:
                raise ValueError(f'gt_label {ds.gt_label.tolist()} has a class '
                                 f'index outside num_classes={num_classes}')
            row.copy_(label_to_onehot(ds.gt_label, num_classes))
    return rows


def label_positive_targets(local: torch.Tensor, gathered: torch.Tensor,
                           offset: int) -> torch.Tensor:
    """The soft target over the gathered keys of every local query.

    A query's own key (column ``offset + i``) weighs 1; the key of another
    sample weighs the Jaccard overlap of the two samples' positive classes
    (1 for the same single class, 0 when either is unlabelled), so an
    unlabelled query's target is its own key alone, as in MoCo v3. Each row
    is normalised to sum to 1.

    Args:
        local (Tensor): ``(N, C)`` positive classes of the local queries.
        gathered (Tensor): ``(M, C)`` those of every rank's keys (this rank's
            at rows ``offset .. offset + N``).
        offset (int): Where this rank's keys start among the gathered ones.
    """
    shared = local @ gathered.t()
    union = local.sum(1, keepdim=True) + gathered.sum(1)[None] - shared
    weights = torch.where(union > 0, shared / union.clamp(min=1), 0.)
    own = torch.arange(len(local), device=local.device)
    weights[own, own + offset] = 1.
    return weights / weights.sum(1, keepdim=True)


@MODELS.register_module()
class LabelAwareMoCoV3Head(MoCoV3Head):
    """``MoCoV3Head`` whose labelled queries also pull the keys of samples that
    share their classes (SupCon's positives, Khosla et al. 2020; SuNCEt,
    Assran et al. 2020, adds such a term to SimCLR with few labels).

    The logits are MoCo v3's (query against every rank's key, over the
    temperature); the target of each query is :func:`label_positive_targets`
    instead of its own key alone. The loss module must take soft targets
    (``CrossEntropyLoss(use_soft=True)``); with no labelled pair in the
    global batch the target is one-hot and the loss is exactly
    ``MoCoV3Head``'s. Without ``data_samples`` it is ``MoCoV3Head``'s.

    Args:
        predictor (dict): As ``MoCoV3Head``.
        loss (dict): As ``MoCoV3Head``, with ``use_soft=True``.
        num_classes (int): The label space of ``gt_label``.
        temperature (float): As ``MoCoV3Head``.
    """

    #: HybridPretrain passes the batch's data samples to ``loss``.
    reads_labels = True

    def __init__(self, predictor: dict, loss: dict, num_classes: int,
                 temperature: float = 1.0) -> None:
        super().__init__(predictor, loss, temperature)
        if not getattr(self.loss_module, 'use_soft', False):
            raise ValueError(f'{type(self).__name__}: the loss must take soft '
                             f'targets (CrossEntropyLoss with use_soft=True), '
                             f'got {loss}')
        if num_classes < 1:
            raise ValueError(f'num_classes must be positive, got {num_classes}')
        self.num_classes = num_classes

    def loss(self, base_out: torch.Tensor, momentum_out: torch.Tensor,
             data_samples: Optional[List[DataSample]] = None) -> torch.Tensor:
        """The contrastive loss of queries ``base_out`` against the keys
        ``momentum_out`` (``N x C`` each, sample ``i`` of both the same
        image), the labelled samples' classes in ``data_samples``."""
        pred = F.normalize(self.predictor([base_out])[0], dim=1)
        target = F.normalize(momentum_out, dim=1)
        target = torch.cat(all_gather(target), dim=0)
        logits = torch.einsum('nc,mc->nm', [pred, target]) / self.temperature
        n = logits.shape[0]
        if data_samples is None:
            local = logits.new_zeros(n, self.num_classes)
        else:
            if len(data_samples) != n:
                raise ValueError(f'{len(data_samples)} data samples for {n} '
                                 f'queries')
            local = positive_sets(data_samples, self.num_classes, logits.device)
        gathered = torch.cat(all_gather(local), dim=0)
        soft = label_positive_targets(local, gathered, n * get_rank())
        return self.loss_module(logits, soft)
