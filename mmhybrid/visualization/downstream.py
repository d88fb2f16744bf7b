"""Predictions of a downstream checkpoint beside the ground truth, on fixed
validation scenes, drawn by the libraries' own visualizers (mmdet's
``DetLocalVisualizer``, mmseg's ``SegLocalVisualizer``)."""
import copy
from typing import List, Tuple

import numpy as np
import torch
from mmcv import imread
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.structures import PixelData

from mmhybrid.utils.checkpoint_loading import safe_mmengine_checkpoints
from .image_grid import stack_rows


def _val_dataset_cfg(cfg: Config, data_root: str) -> dict:
    loader = cfg.get('val_dataloader') or cfg.get('test_dataloader')
    if not loader:
        raise KeyError('no val_dataloader / test_dataloader in the config')
    dataset = copy.deepcopy(loader['dataset'])
    dataset['data_root'] = data_root
    return dataset


def _predict(model, dataset, indices: List[int]) -> list:
    """Data samples with the ground truth the test pipeline loads and the
    model's predictions (in the original image's size)."""
    samples = []
    with torch.no_grad():
        for i in indices:
            samples += model.test_step(pseudo_collate([dataset[i]]))
    return samples


def detection_rows(cfg: Config, checkpoint: str, data_root: str, num_images: int,
                   scale: int = 4, score_thr: float = 0.3) -> Tuple[List[np.ndarray], int]:
    """One picture per validation scene (ground truth | predictions with score
    >= ``score_thr``), enlarged ``scale`` times; and the number of predictions
    drawn."""
    import mmhybrid.downstream  # noqa: F401  (HybridSwinTransformer in mmdet)
    from mmdet.apis import init_detector
    from mmdet.registry import DATASETS
    from mmdet.visualization import DetLocalVisualizer
    with safe_mmengine_checkpoints():
        model = init_detector(cfg, checkpoint, device='cpu')
    dataset = DATASETS.build(_val_dataset_cfg(cfg, data_root))
    visualizer = DetLocalVisualizer(name=f'mmhybrid_det_{id(model)}')
    visualizer.dataset_meta = model.dataset_meta
    rows, drawn = [], 0
    for sample in _predict(model, dataset, _fixed(len(dataset), num_images)):
        sample = _scaled_detections(sample, scale)
        image = _scaled_image(sample.img_path, scale)
        drawn += int((sample.pred_instances.scores >= score_thr).sum())
        visualizer.add_datasample('scene', image, sample, draw_gt=True, draw_pred=True,
                                  pred_score_thr=score_thr)
        rows.append(visualizer.get_image())
    return rows, drawn


def segmentation_rows(cfg: Config, checkpoint: str, data_root: str, num_images: int,
                      scale: int = 4) -> List[np.ndarray]:
    """One picture per validation scene: ground truth | predicted class map."""
    import mmhybrid.downstream  # noqa: F401  (HybridSwinTransformer in mmseg)
    from mmseg.apis import init_model
    from mmseg.registry import DATASETS
    from mmseg.visualization import SegLocalVisualizer
    with safe_mmengine_checkpoints():
        model = init_model(cfg, checkpoint, device='cpu')
    dataset = DATASETS.build(_val_dataset_cfg(cfg, data_root))
    visualizer = SegLocalVisualizer(name=f'mmhybrid_seg_{id(model)}', alpha=0.6)
    visualizer.dataset_meta = model.dataset_meta
    rows = []
    for sample in _predict(model, dataset, _fixed(len(dataset), num_images)):
        for key in ('gt_sem_seg', 'pred_sem_seg'):
            data = getattr(sample, key).data
            setattr(sample, key, PixelData(data=data.repeat_interleave(scale, 1)
                                           .repeat_interleave(scale, 2)))
        image = _scaled_image(sample.img_path, scale)
        # mmseg's add_datasample leaves only the last drawing in get_image()
        # (the side-by-side picture goes to the vis backends): one call each
        drawn = []
        for gt in (True, False):
            visualizer.add_datasample('scene', image, sample, draw_gt=gt,
                                      draw_pred=not gt, with_labels=True)
            drawn.append(visualizer.get_image())
        rows.append(np.concatenate(drawn, axis=1))
    return rows


def figure(rows: List[np.ndarray], what: str) -> np.ndarray:
    return stack_rows(rows, ('ground truth', what))


def _fixed(length: int, count: int) -> List[int]:
    """``count`` fixed indices spread over the dataset (the same every call)."""
    count = min(count, length)
    return [int(i) for i in np.linspace(0, length - 1, count).round()] if count else []


def _scaled_image(path: str, scale: int) -> np.ndarray:
    image = imread(path, channel_order='rgb')
    return image.repeat(scale, axis=0).repeat(scale, axis=1)


def _scaled_detections(sample, scale: int):
    """Boxes and masks of ground truth and predictions in an image ``scale``
    times larger (pixel repetition, as :func:`_scaled_image`)."""
    from mmdet.structures.bbox import get_box_tensor
    for key in ('gt_instances', 'pred_instances'):
        if key not in sample:
            continue
        inst = getattr(sample, key)
        inst.bboxes = get_box_tensor(inst.bboxes) * scale  # HorizontalBoxes too
        if 'masks' in inst:
            masks = inst.masks
            if isinstance(masks, torch.Tensor):
                inst.masks = masks.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
            else:  # BitmapMasks of the ground truth
                inst.masks = type(masks)(
                    masks.masks.repeat(scale, axis=1).repeat(scale, axis=2),
                    masks.height * scale, masks.width * scale)
    return sample
