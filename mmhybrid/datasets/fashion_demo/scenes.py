"""Compose one scene: Fashion-MNIST garments, tinted, on a varied background.

A scene is a square RGB canvas with 1 to ``max_garments`` garments pasted at a
random scale and position, later garments occluding earlier ones, and then
rendered in one of :data:`IMAGE_TYPES`. A garment's mask is its resized
Fashion-MNIST intensity above :data:`MASK_THRESHOLD`; what stays visible of
it after occlusion is its instance mask.
"""
from dataclasses import dataclass, field
from typing import List

import cv2
import numpy as np

from .fashion_mnist import Split

#: How a scene is rendered; one per scene, part of the multi-label space.
IMAGE_TYPES = ('photo', 'inverted', 'sketch', 'noisy', 'blurred')
IMAGE_TYPE_HELP = {
    'photo': 'the composed canvas as is',
    'inverted': 'colours inverted (255 - value)',
    'sketch': 'dark Sobel edges of the luminance on light paper',
    'noisy': 'Gaussian noise, sigma 0.15 of the range, added',
    'blurred': 'Gaussian blur, sigma 1.5 px at 64 px (scales with size)',
}
#: A garment pixel belongs to the mask when its resized intensity exceeds it.
MASK_THRESHOLD = 40
#: Garment height as a fraction of the canvas side.
SCALE_RANGE = (0.4, 0.8)
#: Garment height as a fraction of the canvas side, object-centric images.
OBJECT_SCALE_RANGE = (0.7, 0.95)


@dataclass
class Garment:
    """One pasted garment.

    Args:
        source_index (int): Index in its Fashion-MNIST split.
        label (int): Fashion-MNIST class index (0..9).
        visible_pixels (int): Mask pixels left after occlusion; 0 means fully
            occluded (the garment then is no instance and no label).
    """
    source_index: int
    label: int
    visible_pixels: int = 0


@dataclass
class Scene:
    """A rendered scene.

    Args:
        image (np.ndarray): HxWx3 uint8, RGB.
        image_type (int): Index into :data:`IMAGE_TYPES`.
        instance_map (np.ndarray): HxW uint8; 0 is background, ``k + 1`` is
            where garment ``k`` (in paste order) is visible.
        garments (list[Garment]): Every pasted garment, in paste order.
    """
    image: np.ndarray
    image_type: int
    instance_map: np.ndarray
    garments: List[Garment] = field(default_factory=list)

    def visible(self) -> List[int]:
        """Paste-order indices of the garments that are at least partly
        visible."""
        return [k for k, g in enumerate(self.garments) if g.visible_pixels]

    def labels(self) -> List[int]:
        """Multi-label targets: visible garment classes, then the image type
        as class ``10 + image_type``."""
        garment_labels = {self.garments[k].label for k in self.visible()}
        return sorted(garment_labels) + [10 + self.image_type]

    def class_map(self) -> np.ndarray:
        """HxW uint8 semantic map: 0 background, ``label + 1`` garments."""
        lut = np.zeros(256, np.uint8)
        for k, garment in enumerate(self.garments):
            lut[k + 1] = garment.label + 1
        return lut[self.instance_map]


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    c1, c2 = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    kind = rng.integers(4)
    if kind == 0:  # plain
        return np.broadcast_to(c1, (size, size, 3)).astype(np.float32)
    if kind == 3:  # soft blotches: a coarse random grid, upsampled
        coarse = rng.uniform(0, 1, (4, 4, 3)).astype(np.float32)
        return np.clip(cv2.resize(coarse, (size, size),
                                  interpolation=cv2.INTER_CUBIC), 0, 1)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    angle = rng.uniform(0, np.pi)
    t = np.cos(angle) * xx + np.sin(angle) * yy
    if kind == 1:  # linear gradient
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    else:  # stripes
        t = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2, 6) * t +
                               rng.uniform(0, 2 * np.pi))
    t = t[:, :, None]
    return (c1 * (1 - t) + c2 * t).astype(np.float32)


def _render_type(canvas: np.ndarray, image_type: str,
                 rng: np.random.Generator) -> np.ndarray:
    size = canvas.shape[0]
    if image_type == 'photo':
        out = canvas
    elif image_type == 'inverted':
        out = 1 - canvas
    elif image_type == 'sketch':
        gray = canvas @ np.array([0.299, 0.587, 0.114], np.float32)
        gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
        edges = np.sqrt(gx * gx + gy * gy)
        edges = np.clip(edges / (0.6 * float(edges.max()) + 1e-6), 0, 1)
        paper = np.array([0.97, 0.95, 0.90], np.float32)
        out = (1 - edges)[:, :, None] * paper
    elif image_type == 'noisy':
        out = canvas + rng.normal(0, 0.15, canvas.shape).astype(np.float32)
    elif image_type == 'blurred':
        out = cv2.GaussianBlur(canvas, (0, 0), sigmaX=1.5 * size / 64)
    else:
        raise ValueError(f'unknown image type {image_type!r}')
    return np.rint(np.clip(out, 0, 1) * 255).astype(np.uint8)


def render_scene(rng: np.random.Generator, source: Split, size: int = 64,
                 max_garments: int = 4) -> Scene:
    """Compose one scene from garments of ``source``.

    Args:
        rng (np.random.Generator): The only source of randomness.
        source (Split): The Fashion-MNIST split the garments come from.
        size (int): Canvas side in pixels. Defaults to 64.
        max_garments (int): At most this many garments (at least one).
            Defaults to 4.

    Returns:
        Scene: Image, image type, instance map and garment record.
    """
    canvas = _background(rng, size).copy()
    instance_map = np.zeros((size, size), np.uint8)
    garments: List[Garment] = []
    for _ in range(int(rng.integers(1, max_garments + 1))):
        index = int(rng.integers(len(source.labels)))
        if _paste(rng, canvas, instance_map, source.images[index],
                  len(garments) + 1, SCALE_RANGE):
            garments.append(Garment(index, int(source.labels[index])))
    return _finish(rng, canvas, instance_map, garments)


def render_object(rng: np.random.Generator, source: Split, index: int,
                  size: int = 64) -> Scene:
    """One garment, ``source.images[index]``, filling most of the canvas
    (height :data:`OBJECT_SCALE_RANGE` of the side), tinted, on a black
    backdrop (as Fashion-MNIST's own images), rendered in a random image type:
    an object-centric, ImageNet-like product photo. (On the scenes' busy
    backgrounds a small Swin from scratch did not learn the garments within the
    benchmark's budget: results/README.md, Diagnostics.)

    Args:
        rng (np.random.Generator): The only source of randomness.
        source (Split): The Fashion-MNIST split the garment comes from.
        index (int): The garment's index in ``source``.
        size (int): Canvas side in pixels. Defaults to 64.

    Returns:
        Scene: Image, image type, instance map and the one garment.
    """
    canvas = np.zeros((size, size, 3), np.float32)
    instance_map = np.zeros((size, size), np.uint8)
    garments: List[Garment] = []
    if _paste(rng, canvas, instance_map, source.images[index], 1,
              OBJECT_SCALE_RANGE):
        garments.append(Garment(index, int(source.labels[index])))
    return _finish(rng, canvas, instance_map, garments)


def _paste(rng: np.random.Generator, canvas: np.ndarray,
           instance_map: np.ndarray, glyph: np.ndarray, instance_id: int,
           scale_range: tuple) -> bool:
    """Paste ``glyph`` (flipped at random, resized to a height of
    ``scale_range`` of the side, tinted) at a random position; mark its pixels
    ``instance_id`` in ``instance_map``. False when nothing of it would show."""
    size = canvas.shape[0]
    if rng.random() < 0.5:
        glyph = glyph[:, ::-1]
    h = int(round(rng.uniform(*scale_range) * size))
    w = int(np.clip(round(h * rng.uniform(0.8, 1.25)), 4, size))
    glyph = cv2.resize(np.ascontiguousarray(glyph), (w, h),
                       interpolation=cv2.INTER_LINEAR)
    mask = glyph > MASK_THRESHOLD
    y0 = int(rng.integers(size - h + 1))
    x0 = int(rng.integers(size - w + 1))
    tint = rng.uniform(0.1, 1.0, 3).astype(np.float32)
    if not mask.any():
        return False  # nothing of it would show: not pasted, not recorded
    shade = (0.3 + 0.7 * glyph.astype(np.float32) / 255)[:, :, None]
    region = canvas[y0:y0 + h, x0:x0 + w]
    region[mask] = (shade * tint)[mask]
    instance_map[y0:y0 + h, x0:x0 + w][mask] = instance_id
    return True


def _finish(rng: np.random.Generator, canvas: np.ndarray,
            instance_map: np.ndarray, garments: List[Garment]) -> Scene:
    """Count what stays visible of each garment; render a random type."""
    counts = np.bincount(instance_map.ravel(), minlength=len(garments) + 1)
    for k, garment in enumerate(garments):
        garment.visible_pixels = int(counts[k + 1])
    image_type = int(rng.integers(len(IMAGE_TYPES)))
    image = _render_type(canvas, IMAGE_TYPES[image_type], rng)
    return Scene(image, image_type, instance_map, garments)
