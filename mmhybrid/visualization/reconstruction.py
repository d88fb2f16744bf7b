"""SimMIM reconstructions of a pre-training checkpoint, as the SimMIM and MAE
papers show them: input | masked input | prediction | prediction in the masked
patches, visible pixels from the input."""
from typing import Dict, List, Optional

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint

from mmhybrid.utils.checkpoint_loading import safe_mmengine_checkpoints
from .image_grid import image_grid

PANELS = ('input', 'masked', 'prediction', 'prediction + visible')
GREY = 127  # what a masked patch shows


def find_mask_generator(cfg: Config) -> Optional[dict]:
    """The ``mask_generator`` of the ``HybridViews`` in the training pipeline."""
    def search(node):
        if isinstance(node, dict):
            if node.get('type') == 'HybridViews' and node.get('mask_generator'):
                return node['mask_generator']
            children = node.values()
        elif isinstance(node, (list, tuple)):
            children = node
        else:
            return None
        for child in children:
            found = search(child)
            if found is not None:
                return found
        return None
    return search(cfg.train_dataloader.to_dict() if 'train_dataloader' in cfg else {})


def build_pretrain_model(cfg: Config, checkpoint: str) -> torch.nn.Module:
    """The run's ``HybridPretrain`` with the checkpoint's weights, eval mode, CPU."""
    from mmpretrain.registry import MODELS
    import mmhybrid  # noqa: F401  (registers HybridPretrain)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    with safe_mmengine_checkpoints():
        load_checkpoint(model, checkpoint, map_location='cpu', logger='silent')
    return model.eval()


def make_masks(mask_generator: dict, count: int, seed: int = 0) -> torch.Tensor:
    """``count`` masks (N, h, w) of 0/1 at the model's patch grid, drawn by the
    run's own ``SimMIMMaskGenerator`` with a fixed seed (global NumPy RNG left
    as it was)."""
    from mmpretrain.registry import TRANSFORMS
    # mmpretrain's scope whatever the caller's (e.g. after an mmseg picture)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        generator = TRANSFORMS.build(mask_generator)
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        masks = [generator.transform({})['mask'] for _ in range(count)]
    finally:
        np.random.set_state(state)
    return torch.from_numpy(np.stack(masks)).long()


def load_images(paths: List[str], size: int) -> torch.Tensor:
    """BGR uint8 images (N, 3, size, size), as mmcv reads them, resized."""
    images = []
    for path in paths:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f'{path} is missing or not an image')
        images.append(cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
                      .transpose(2, 0, 1))
    return torch.from_numpy(np.stack(images))


@torch.no_grad()
def reconstruction_panels(model, images: torch.Tensor, masks: torch.Tensor,
                          model_patch_size: int) -> Dict[str, np.ndarray]:
    """The four panels (N, H, W, 3 RGB uint8 each, :data:`PANELS`) of BGR uint8
    ``images`` with ``masks`` (N, H / p, W / p) of a ``HybridPretrain`` with the
    ``mim`` task: its data preprocessor, ``backbone(x, mask)``, ``mim_neck``; the
    prediction is un-normalised with the preprocessor's mean and std."""
    pre = model.data_preprocessor
    x = pre(dict(inputs=images, data_samples=None), False)['inputs']
    prediction = model.mim_neck(model.backbone(x, masks)[0])
    rgb = x * pre.std + pre.mean  # the input, un-normalised (RGB after to_rgb)
    pixel_mask = masks.repeat_interleave(model_patch_size, 1).repeat_interleave(
        model_patch_size, 2).bool()[:, None].expand_as(rgb)
    predicted = prediction * pre.std + pre.mean
    panels = dict(
        input=rgb,
        masked=torch.where(pixel_mask, torch.full_like(rgb, GREY), rgb),
        prediction=predicted,
        **{'prediction + visible': torch.where(pixel_mask, predicted, rgb)})
    return {name: t.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
            for name, t in panels.items()}


def reconstruction_figure(panels: Dict[str, np.ndarray], scale: int = 3) -> np.ndarray:
    """One row per image, one column per panel (RGB uint8 picture)."""
    rows = [[panels[name][i] for name in PANELS] for i in range(len(panels['input']))]
    return image_grid(rows, PANELS, scale=scale)
