"""A preview grid of scenes with their instance masks and boxes drawn."""
import colorsys
from typing import Sequence

import cv2
import numpy as np

from .annotations import scene_instances
from .scenes import IMAGE_TYPES, Scene


def class_colours(num_classes: int) -> np.ndarray:
    """Distinct RGB uint8 colours, one per class (evenly spaced hues)."""
    return np.array([[int(255 * c) for c in colorsys.hsv_to_rgb(i / num_classes,
                                                                0.9, 1.0)]
                     for i in range(num_classes)], np.uint8)


def draw_scene(scene: Scene, scale: int = 3) -> np.ndarray:
    """Two panels side by side, each ``scale`` times the scene size: the
    image with boxes, and the image under a colour overlay of the instance
    masks. The image type is written in the corner. Returns RGB uint8."""
    colours = class_colours(10)
    size = scene.image.shape[0] * scale
    image = cv2.resize(scene.image, (size, size),
                       interpolation=cv2.INTER_NEAREST)
    classes = cv2.resize(scene.class_map(), (size, size),
                         interpolation=cv2.INTER_NEAREST)
    overlay = image.copy()
    fg = classes > 0
    overlay[fg] = (0.35 * image[fg] + 0.65 * colours[classes[fg] - 1]).astype(
        np.uint8)
    boxed = image.copy()
    for ann in scene_instances(scene):
        x, y, w, h = (v * scale for v in ann['bbox'])
        colour = tuple(int(c) for c in colours[ann['category_id'] - 1])
        cv2.rectangle(boxed, (x, y), (x + w - 1, y + h - 1), colour, 1)
        cv2.rectangle(overlay, (x, y), (x + w - 1, y + h - 1), colour, 1)
    cv2.putText(boxed, IMAGE_TYPES[scene.image_type], (2, 10),
                cv2.FONT_HERSHEY_SIMPLEX, 0.33, (255, 255, 255), 2,
                cv2.LINE_AA)
    cv2.putText(boxed, IMAGE_TYPES[scene.image_type], (2, 10),
                cv2.FONT_HERSHEY_SIMPLEX, 0.33, (0, 0, 0), 1, cv2.LINE_AA)
    gap = np.full((size, 2, 3), 255, np.uint8)
    return np.concatenate([boxed, gap, overlay], axis=1)


def preview_grid(scenes: Sequence[Scene], columns: int = 4,
                 scale: int = 3) -> np.ndarray:
    """Tile :func:`draw_scene` panels into a grid with white gutters.
    Returns RGB uint8."""
    tiles = [draw_scene(s, scale) for s in scenes]
    th, tw = tiles[0].shape[:2]
    rows = -(-len(tiles) // columns)
    pad = 6
    grid = np.full((rows * (th + pad) + pad, columns * (tw + pad) + pad, 3),
                   255, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        y, x = pad + r * (th + pad), pad + c * (tw + pad)
        grid[y:y + th, x:x + tw] = tile
    return grid
