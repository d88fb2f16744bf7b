"""Multi-label linear head that trains on the labelled part of a batch, and
on the known classes of partially labelled samples."""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
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


def known_mask(data_samples: List[DataSample], num_classes: int,
               device: torch.device) -> Optional[torch.Tensor]:
    """``(N, num_classes)`` float mask of the known classes of labelled
    samples: positives and verified negatives (``gt_negative``) of partial
    samples, every class of the others. None when no sample is partial."""
    if not any('gt_negative' in ds for ds in data_samples):
        return None
    mask = torch.ones(len(data_samples), num_classes, device=device)
    for row, ds in zip(mask, data_samples):
        if 'gt_negative' not in ds:
            continue
        row.zero_()
        for key in ('gt_label', 'gt_negative'):
            if key in ds:
                index = torch.as_tensor(ds.get(key), dtype=torch.long,
                                        device=device).reshape(-1)
                row[index] = 1.
    return mask


@MODELS.register_module()
class PartialMultiLabelLinearClsHead(MultiLabelLinearClsHead):
    """``MultiLabelLinearClsHead`` for batches that mix labelled, partially
    labelled and unlabelled samples.

    Samples without labels are left out. A *partial* sample (its data sample
    has a ``gt_negative`` field: verified negatives, see
    :class:`mmhybrid.datasets.PartialMultiLabelDataset` and
    ``PackInputs(algorithm_keys=['gt_negative'])``) knows its positives
    (``gt_label``) and its verified negatives; its other classes are unknown.
    ``unknown`` says what they count as:

    - ``'negative'`` (default, the behaviour before partial labels): every
      class that is not positive is a negative; ``gt_negative`` is not read.
      The loss is ``MultiLabelLinearClsHead``'s, averaged over the labelled
      samples.
    - ``'ignore'``: unknown classes give no loss. The loss module computes the
      element-wise loss (``reduction_override='none'``; mmpretrain's
      ``AsymmetricLoss`` and ``CrossEntropyLoss(use_sigmoid=True)`` do: their
      ``weight`` argument is per *sample* only, so the per-class mask is
      applied here), unknown entries are zeroed and the sum is divided by
      ``K / num_classes``, ``K`` being the number of known (sample, class)
      entries. A fully known sample counts ``num_classes`` entries, so
      without partial samples this is exactly the ``'negative'`` loss (same
      code path), and a batch of partial samples weighs each known entry as
      the fully labelled average does.

    A batch without any known entry gives a zero loss that still reaches every
    head parameter (so DDP sees the same graph on every rank).

    Distributed training: the average is over the *global* batch. Every rank
    all-reduces its normaliser ``n_r`` (its number of labelled samples, or
    ``K_r / num_classes`` with ``unknown='ignore'``; one scalar per step,
    ``N = sum_r n_r``) and returns its local sum times ``world_size / N``. DDP
    averages the gradients over ranks, so the step equals that of one process
    holding the whole global batch, whichever ranks hold the labels. The mean
    of the ranks' returned losses is the global mean (each rank's own value
    is its share, not the mean); a global batch without labels gives zero on
    every rank. When every rank holds ``N / world_size`` the scale is exactly
    1. In one process nothing is communicated and the result is bit-identical
    to the local mean.

    :meth:`teacher_loss` trains the samples *without* labels toward a
    teacher's predictions (``HybridPretrain``'s label teacher).

    Args:
        unknown (str): ``'negative'`` or ``'ignore'``, see above.
        **kwargs: Arguments of ``MultiLabelLinearClsHead`` (``num_classes``,
            ``in_channels``, ``loss``, ...).
    """

    def __init__(self, *args, unknown: str = 'negative', **kwargs):
        if unknown not in ('negative', 'ignore'):
            raise ValueError("unknown must be 'negative' or 'ignore', got "
                             f'{unknown!r}')
        super().__init__(*args, **kwargs)
        self.unknown = unknown

    def loss(self, feats: Tuple[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> dict:
        cls_score = self(feats)
        keep = [i for i, ds in enumerate(data_samples) if is_labelled(ds)]
        labelled = [data_samples[i] for i in keep]
        mask = None
        if self.unknown == 'ignore':
            mask = known_mask(labelled, self.num_classes, cls_score.device)
        # the normaliser: labelled samples, or known entries / num_classes
        local = float(len(keep)) if mask is None else (
            mask.sum(dtype=torch.float64).item() / self.num_classes)
        scale = self._global_scale(local, cls_score.device)
        if not local:
            return dict(loss=cls_score.sum() * 0.)
        if len(keep) < len(data_samples):
            cls_score = cls_score[keep]
        if mask is None:
            losses = self._get_loss(cls_score, labelled, **kwargs)
        else:
            losses = dict(loss=self._masked_loss(cls_score, labelled, mask,
                                                 local, **kwargs))
        if scale != 1.:
            losses['loss'] = losses['loss'] * scale
        return losses

    @staticmethod
    def _global_scale(local: float, device: torch.device) -> float:
        """``world_size * local / total``: turns a rank's mean over its
        ``local`` samples into its share of the mean over the global batch
        (``total`` over all ranks; one all-reduce, every rank takes part); one
        in a single process."""
        world_size = get_world_size()
        if world_size == 1:
            return 1.
        total = torch.tensor([local], dtype=torch.float64, device=device)
        all_reduce(total, op='sum')
        total = total.item()
        return world_size * local / total if total and local else 1.

    def teacher_loss(self, feats: Tuple[torch.Tensor],
                     teacher_score: torch.Tensor,
                     data_samples: List[DataSample], mode: str = 'soft',
                     threshold: float = 0.7) -> torch.Tensor:
        """The loss of the samples without labels toward a teacher's
        predictions; labelled samples give none.

        Summed over classes and averaged over the unlabelled samples of the
        global batch, as :meth:`loss` averages over the labelled ones; a
        batch without an unlabelled sample gives a zero that reaches every
        head parameter.

        Args:
            feats (tuple[Tensor]): The student's features (as :meth:`loss`).
            teacher_score (Tensor): The teacher's logits, ``(N, num_classes)``;
                no gradient flows into them.
            data_samples (list[DataSample]): The batch; unlabelled samples
                carry no ``gt_label`` (:func:`is_labelled`).
            mode (str): ``'soft'``: binary cross-entropy toward the
                teacher's probabilities less their entropy (the KL
                divergence: the same gradient, zero where the student
                agrees). ``'threshold'``: confident pseudo-labels, a class
                positive where the teacher's probability is above
                ``threshold`` and negative where it is below
                ``1 - threshold``, trained with the head's own loss; the
                other classes give none.
            threshold (float): Confidence of ``'threshold'`` mode, in
                ``(0.5, 1)``.
        """
        cls_score = self(feats)
        keep = [i for i, ds in enumerate(data_samples) if not is_labelled(ds)]
        scale = self._global_scale(float(len(keep)), cls_score.device)
        if not keep:
            return cls_score.sum() * 0.
        student = cls_score[keep]
        teacher = teacher_score[keep].detach().to(student.dtype)
        prob = teacher.sigmoid()
        if mode == 'soft':
            elementwise = (
                F.binary_cross_entropy_with_logits(student, prob, reduction='none')
                - F.binary_cross_entropy_with_logits(teacher, prob, reduction='none'))
        elif mode == 'threshold':
            confident = ((prob > threshold) | (prob < 1 - threshold)).to(student.dtype)
            elementwise = confident * self.loss_module(
                student, (prob > threshold).to(student.dtype),
                reduction_override='none')
        else:
            raise ValueError(f"mode must be 'soft' or 'threshold', got {mode!r}")
        return elementwise.sum() / len(keep) * scale

    def _masked_loss(self, cls_score: torch.Tensor,
                     data_samples: List[DataSample], mask: torch.Tensor,
                     avg_factor: float, **kwargs) -> torch.Tensor:
        """The loss over known entries only, summed and divided by
        ``avg_factor``, as ``_get_loss`` reduces (``sum / avg_factor``)."""
        if 'gt_score' in data_samples[0]:
            target = torch.stack([ds.gt_score.float() for ds in data_samples])
        else:
            target = torch.zeros_like(cls_score)
            for row, ds in zip(target, data_samples):
                row[ds.gt_label.to(target.device)] = 1.
        elementwise = self.loss_module(
            cls_score, target, reduction_override='none', **kwargs)
        return (elementwise * mask).sum() / avg_factor
