"""Multi-label linear head that trains on the labelled part of a batch."""
from typing import List, Tuple

import torch
from mmpretrain.models.heads import MultiLabelLinearClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample


def is_labelled(data_sample: DataSample) -> bool:
    """A sample is labelled iff the pipeline packed a ``gt_label``/``gt_score``.

    Unlabelled samples carry no label field at all (an empty label list in the
    annotation means "unlabelled", see the datasets).
    """
    return 'gt_label' in data_sample or 'gt_score' in data_sample


@MODELS.register_module()
class PartialMultiLabelLinearClsHead(MultiLabelLinearClsHead):
    """``MultiLabelLinearClsHead`` for batches that mix labelled and unlabelled
    samples.

    The loss is averaged over labelled samples only; a batch without any
    labelled sample gives a zero loss that still reaches every head parameter
    (so DDP sees the same graph on every rank). With every sample labelled it
    is exactly ``MultiLabelLinearClsHead.loss``. Arguments as the parent's.
    """

    def loss(self, feats: Tuple[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> dict:
        cls_score = self(feats)
        keep = [i for i, ds in enumerate(data_samples) if is_labelled(ds)]
        if not keep:
            return dict(loss=cls_score.sum() * 0.)
        if len(keep) < len(data_samples):
            cls_score = cls_score[keep]
            data_samples = [data_samples[i] for i in keep]
        return self._get_loss(cls_score, data_samples, **kwargs)
