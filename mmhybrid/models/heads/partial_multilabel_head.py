"""Multi-label linear head that trains on the labelled part of a batch."""
from typing import List, Tuple

import torch
from mmengine.dist import all_reduce, get_world_size
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

    Distributed training: the average is over the labelled samples of the
    *global* batch. Every rank all-reduces its number of labelled samples
    ``n_r`` (one scalar per step, ``N = sum_r n_r``) and returns its local mean
    scaled by ``world_size * n_r / N``, i.e. ``world_size / N`` times its local
    sum. DDP averages the gradients over ranks, so the step equals that of one
    process holding the whole global batch: the mean over all ``N`` labelled
    samples, whichever ranks hold them. The mean of the ranks' returned losses
    is the global mean (each rank's own value is its share, not the mean); a
    global batch without labels gives zero on every rank. When every rank holds
    ``N / world_size`` labelled samples the scale is exactly 1. In one process
    nothing is communicated and the result is bit-identical to the local mean.
    """

    def loss(self, feats: Tuple[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> dict:
        cls_score = self(feats)
        keep = [i for i, ds in enumerate(data_samples) if is_labelled(ds)]
        world_size = get_world_size()
        scale = 1.
        if world_size > 1:
            # every rank takes part, labelled or not
            count = torch.tensor([float(len(keep))], dtype=torch.float64,
                                 device=cls_score.device)
            all_reduce(count, op='sum')
            total = int(count.item())
            if total and keep:
                scale = world_size * len(keep) / total
        if not keep:
            return dict(loss=cls_score.sum() * 0.)
        if len(keep) < len(data_samples):
            cls_score = cls_score[keep]
            data_samples = [data_samples[i] for i in keep]
        losses = self._get_loss(cls_score, data_samples, **kwargs)
        if scale != 1.:
            losses['loss'] = losses['loss'] * scale
        return losses
