"""How much of a dense metric's spread over seeds is the evaluation split's own
noise (issue #26).

A benchmark's dense gap must beat 3x the larger std over seeds. That std holds the
pre-training's spread, the head training's and the test split's sampling noise; only
the last shrinks with a larger split. This module measures the last one for one
trained model: it runs the model over the split once (mmdet's / mmseg's own test
pipeline and metric), then recomputes the metric on random halves of the images.

Split-half estimate: the two halves of a random partition are disjoint samples of
n/2 images, so ``var(m_A - m_B) = 2 var(m_half)``; a metric that averages over
images has ``var(m_full) = var(m_half) / 2``, hence
``std(m_full) = std(m_A - m_B) / 2``. COCO AP and mIoU are ratios of sums rather
than means, so this is the usual approximation, not an identity.
"""
import contextlib
import importlib
import io
import json
import os.path as osp
import tempfile
from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence

import numpy as np
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope
from mmengine.runner import Runner, load_checkpoint

from mmhybrid.engine import adapt_cfg_for_cpu
from mmhybrid.utils.checkpoint_loading import safe_mmengine_checkpoints


def split_half_std(metric_of: Callable[[np.ndarray], float], num_items: int,
                   num_splits: int = 50, seed: int = 0) -> Dict[str, float]:
    """The std of ``metric_of(all items)`` due to which items were sampled.

    Args:
        metric_of: The metric of a subset, given as an array of item indices.
        num_items: Items in the full split.
        num_splits: Random partitions into two halves.
        seed: Seed of the partitions.

    Returns:
        dict: ``full`` (the metric on every item), ``std`` (the split-half
        estimate for the full split) and ``num_splits``.
    """
    if num_items < 2:
        raise ValueError(f'a split-half estimate needs >= 2 items, got {num_items}')
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(num_splits):
        order = rng.permutation(num_items)
        half = num_items // 2
        diffs.append(metric_of(order[:half]) - metric_of(order[half:2 * half]))
    return dict(full=float(metric_of(np.arange(num_items))),
                std=float(np.std(diffs, ddof=1) / 2), num_splits=num_splits)


def miou_of(per_image: Sequence[Sequence[torch.Tensor]]) -> Callable:
    """mIoU (%) of a subset of images, from mmseg ``IoUMetric``'s per-image
    (intersect, union, pred, label) areas, summed and scored by
    ``IoUMetric.total_area_to_metrics`` as ``IoUMetric`` does."""
    from mmseg.evaluation import IoUMetric
    areas = [torch.stack([r[i] for r in per_image]) for i in range(4)]

    def metric_of(indices: np.ndarray) -> float:
        totals = [a[torch.as_tensor(indices)].sum(0) for a in areas]
        iou = IoUMetric.total_area_to_metrics(*totals, ['mIoU'])['IoU']
        return float(np.nanmean(iou) * 100)
    return metric_of


def coco_ap_of(ann_file: str, result_file: str, iou_type: str) -> tuple:
    """(metric_of, num_images): COCO AP (IoU .50:.95, all areas, in %) of the
    detections in ``result_file`` on a subset of ``ann_file``'s images."""
    with open(result_file) as f:
        detections = json.load(f)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(ann_file)
        # pycocotools cannot load an empty result list: no detection, AP 0
        dt = gt.loadRes(detections) if detections else None
    image_ids = np.asarray(sorted(gt.getImgIds()))

    def metric_of(indices: np.ndarray) -> float:
        if dt is None:
            return 0.
        evaluator = COCOeval(gt, dt, iou_type)
        evaluator.params.imgIds = image_ids[indices].tolist()
        with contextlib.redirect_stdout(io.StringIO()):
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
        return float(evaluator.stats[0] * 100)
    return metric_of, len(image_ids)


def _run_split(cfg: Config, checkpoint: str, split: str, metric_cfg: dict):
    """Run the config's model with ``checkpoint`` over its ``split`` dataloader
    ('val' or 'test') and feed ``metric_cfg`` (built in the config's scope);
    adapts ``cfg`` in place.

    No Runner: it would leave a work directory behind and register the
    config's visualizer under its shared name, which a later run in the same
    process would reuse (and log its scalars into this one's directory)."""
    cfg = adapt_cfg_for_cpu(cfg)
    # the heads' weights come from the checkpoint; the backbone's init_cfg must not
    # download or read a pre-training file at build time
    cfg.model.backbone.init_cfg = None
    scope = cfg.get('default_scope')
    registry = importlib.import_module(f'{scope}.registry')
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.MODELS.build(cfg.model)
        metric = registry.METRICS.build(metric_cfg)
        loader = Runner.build_dataloader(cfg[f'{split}_dataloader'])
        metric.dataset_meta = loader.dataset.metainfo
        evaluator = Evaluator(metric)  # hands the metric dicts, as in a test loop
        with safe_mmengine_checkpoints():
            load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
        model.eval()
        with torch.no_grad():
            for batch in loader:
                evaluator.process(model.test_step(batch), batch)
    return metric


@dataclass
class SubsetMetric:
    """A trained model's metric on any subset of a split's images.

    Args:
        metric_of (callable): Image indices -> the metric (%) on those images.
        num_images (int): Images in the split.
        reported (float): The library metric's own value on the whole split
            (mmdet ``CocoMetric`` rounds it to 0.1).
    """
    metric_of: Callable[[np.ndarray], float]
    num_images: int
    reported: float


def detection_metrics(config: str, checkpoint: str,
                      split: str = 'test') -> Dict[str, SubsetMetric]:
    """Box and mask AP of a trained Mask R-CNN config on ``split``."""
    cfg = Config.fromfile(config)
    evaluator = cfg[f'{split}_evaluator'].to_dict()
    out = {}
    with tempfile.TemporaryDirectory(prefix='dense_eval_noise-') as tmp:
        prefix = osp.join(tmp, 'results')
        evaluator.update(outfile_prefix=prefix, format_only=False)
        metric = _run_split(cfg, checkpoint, split, evaluator)
        # mmdet's own numbers; writes <prefix>.bbox.json and <prefix>.segm.json
        reported = metric.compute_metrics(metric.results)
        for name, iou_type in (('box_ap', 'bbox'), ('mask_ap', 'segm')):
            metric_of, num = coco_ap_of(evaluator['ann_file'],
                                        f'{prefix}.{iou_type}.json', iou_type)
            out[name] = SubsetMetric(metric_of, num,
                                     float(reported.get(f'{iou_type}_mAP', 0.)) * 100)
    return out


def segmentation_metrics(config: str, checkpoint: str,
                         split: str = 'test') -> Dict[str, SubsetMetric]:
    """mIoU of a trained UperNet config on ``split``."""
    cfg = Config.fromfile(config)
    metric = _run_split(cfg, checkpoint, split, cfg[f'{split}_evaluator'].to_dict())
    per_image: List = list(metric.results)
    reported = float(metric.compute_metrics(per_image)['mIoU'])  # mmseg's own
    return dict(miou=SubsetMetric(miou_of(per_image), len(per_image), reported))


def evaluation_metrics(config: str, checkpoint: str,
                       split: str = 'test') -> Dict[str, SubsetMetric]:
    """:func:`detection_metrics` or :func:`segmentation_metrics`, by the config's
    ``default_scope``."""
    scope = Config.fromfile(config).get('default_scope')
    metrics = {'mmdet': detection_metrics, 'mmseg': segmentation_metrics}.get(scope)
    if metrics is None:
        raise ValueError(f'{config}: default_scope {scope!r} is neither mmdet nor mmseg')
    return metrics(config, checkpoint, split)


def noise(metric: SubsetMetric, num_splits: int = 50, seed: int = 0) -> dict:
    """The metric on the whole split, its split-half std, the library's value."""
    return dict(split_half_std(metric.metric_of, metric.num_images, num_splits, seed),
                num_images=metric.num_images, reported=metric.reported)


def gap_noise(a: SubsetMetric, b: SubsetMetric, num_splits: int = 50,
              seed: int = 0) -> dict:
    """The gap ``a - b`` of two models on the same split and its split-half std:
    the part of a gap's error that the choice of images makes (difficulty both
    models share cancels)."""
    if a.num_images != b.num_images:
        raise ValueError(f'a gap needs one split: {a.num_images} vs {b.num_images} '
                         'images')
    return dict(split_half_std(lambda idx: a.metric_of(idx) - b.metric_of(idx),
                               a.num_images, num_splits, seed),
                num_images=a.num_images)
