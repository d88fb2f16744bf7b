"""Compose one scene: Fashion-MNIST garments, tinted, on a varied background.

A scene is a square RGB canvas with 1 to ``max_garments`` garments pasted at a
random scale and position, later garments occluding earlier ones, and then
rendered in one of :data:`IMAGE_TYPES`. A garment's mask is its resized
Fashion-MNIST intensity above :data:`MASK_THRESHOLD`; what stays visible of
it after occlusion is its instance mask.
"""
from dataclasses import dataclass, field
from typing import List, Optional

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
        box (tuple, optional): ``(x0, y0, x1, y1)`` (exclusive ends) of the
            garment's whole mask, before occlusion; recorded by
            :func:`render_dense_scene` only.
    """
    source_index: int
    label: int
    visible_pixels: int = 0
    box: Optional[tuple] = None


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


@dataclass(frozen=True)
class SceneStyle:
    """How the scenes of a dense scene set (``scenes_<name>/``) are composed.

    The scenes of ``scenes/`` (what pre-training reads, and the dense protocol
    of 2026-11-29/30) are :func:`render_scene`'s; a named style is a second scene
    set for the dense tasks (Mask R-CNN, UperNet) built alongside them, in the
    same label space (10 garments, then the image types).

    Args:
        size (int): Canvas side in pixels.
        min_garments (int): Garments drawn per scene, at least.
        max_garments (int): Garments drawn per scene, at most. A garment whose
            placement cannot meet ``max_overlap`` is left out, so a scene may
            hold fewer than ``min_garments`` (never none).
        scale_range (tuple): Garment glyph height as a fraction of the side.
        max_overlap (float): Largest IoU allowed between the boxes of any two
            garments' full masks (before occlusion); 1.0 allows any overlap,
            0.0 keeps the garments apart (no occlusion at all).
        background (str): ``'busy'`` (plain, gradient, stripes or blotches, as
            ``scenes/``) or ``'plain'`` (one colour).
        image_types (tuple): The :data:`IMAGE_TYPES` a scene may be rendered in.
        num_train (int): Training scenes (Fashion-MNIST train garments).
        num_val (int): Validation scenes (Fashion-MNIST train garments).
        num_test (int): Test scenes (Fashion-MNIST test garments).
        placement_tries (int): Positions / scales tried per garment.
    """
    size: int = 64
    min_garments: int = 1
    max_garments: int = 2
    scale_range: tuple = (0.5, 0.85)
    max_overlap: float = 0.1
    background: str = 'plain'
    image_types: tuple = IMAGE_TYPES
    num_train: int = 4000
    num_val: int = 500
    num_test: int = 500
    placement_tries: int = 20

    def check(self) -> None:
        problems = []
        if self.size < 16:
            problems.append(f'size must be >= 16, got {self.size}')
        if not 1 <= self.min_garments <= self.max_garments:
            problems.append('need 1 <= min_garments <= max_garments')
        if not 0 < self.scale_range[0] <= self.scale_range[1] <= 1:
            problems.append('scale_range must be within (0, 1]')
        if not 0 <= self.max_overlap <= 1:
            problems.append('max_overlap must be in [0, 1]')
        if self.background not in ('busy', 'plain'):
            problems.append(f'unknown background {self.background!r}')
        if not self.image_types or set(self.image_types) - set(IMAGE_TYPES):
            problems.append(f'image_types must be among {IMAGE_TYPES}')
        if min(self.num_train, self.num_val, self.num_test) < 1:
            problems.append('num_train, num_val and num_test must be >= 1')
        if problems:
            raise ValueError('; '.join(problems))


#: Named dense scene sets, built into ``scenes_<name>/`` by
#: ``DemoParams(dense_scenes='<name>,...')``. 'v2' is the measured choice
#: (results/dense_scenes.md); 'v2busy', 'v2many' and 'v2at96' are the variants
#: it was measured against, kept so that the table's rows can be rebuilt; 'v3' is
#: v2 with larger evaluation splits (the benchmark's dense protocol v3).
DENSE_SCENE_STYLES = {
    # 1-2 large garments, boxes IoU <= 0.1, one-colour backgrounds
    'v2': SceneStyle(),
    # v2 on scenes/'s busy backgrounds
    'v2busy': SceneStyle(background='busy'),
    # 1-3 smaller garments (0.35-0.65 of the side), boxes IoU <= 0.1
    'v2many': SceneStyle(max_garments=3, scale_range=(0.35, 0.65)),
    # v2 at 96 px
    'v2at96': SceneStyle(size=96),
    # v2 with 4000 validation and 4000 test scenes (the first 500 of each and
    # every train scene are v2's): the dense protocol v3's evaluation splits
    'v3': SceneStyle(num_val=4000, num_test=4000),
}


def _box(mask: np.ndarray, y0: int, x0: int) -> tuple:
    ys, xs = np.nonzero(mask)
    return (x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()) + 1,
            y0 + int(ys.max()) + 1)


def box_iou(a: tuple, b: tuple) -> float:
    """IoU of two ``(x0, y0, x1, y1)`` boxes (exclusive ends)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0) * max(h, 0)
    union = ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) -
             inter)
    return inter / union if union else 0.0


def render_dense_scene(rng: np.random.Generator, source: Split,
                       style: SceneStyle) -> Scene:
    """Compose one scene of a dense scene set (see :class:`SceneStyle`):
    garments placed where their mask boxes overlap the earlier ones' by at most
    ``style.max_overlap`` IoU (tried ``style.placement_tries`` times, else left
    out), then rendered in one of ``style.image_types``.

    Returns:
        Scene: as :func:`render_scene`'s; ``image_type`` indexes
        :data:`IMAGE_TYPES`.
    """
    size = style.size
    if style.background == 'plain':
        colour = rng.uniform(0, 1, 3)
        canvas = np.broadcast_to(colour, (size, size, 3)).astype(np.float32)
    else:
        canvas = _background(rng, size).copy()
    instance_map = np.zeros((size, size), np.uint8)
    garments: List[Garment] = []
    boxes: List[tuple] = []
    count = int(rng.integers(style.min_garments, style.max_garments + 1))
    for _ in range(count):
        index = int(rng.integers(len(source.labels)))
        for _ in range(style.placement_tries):
            glyph = source.images[index]
            if rng.random() < 0.5:
                glyph = glyph[:, ::-1]
            h = int(round(rng.uniform(*style.scale_range) * size))
            w = int(np.clip(round(h * rng.uniform(0.8, 1.25)), 4, size))
            glyph = cv2.resize(np.ascontiguousarray(glyph), (w, h),
                               interpolation=cv2.INTER_LINEAR)
            mask = glyph > MASK_THRESHOLD
            if not mask.any():
                break
            y0 = int(rng.integers(size - h + 1))
            x0 = int(rng.integers(size - w + 1))
            box = _box(mask, y0, x0)
            if all(box_iou(box, b) <= style.max_overlap for b in boxes):
                break
        else:
            continue  # no placement met max_overlap: left out
        if not mask.any():
            continue
        tint = rng.uniform(0.1, 1.0, 3).astype(np.float32)
        shade = (0.3 + 0.7 * glyph.astype(np.float32) / 255)[:, :, None]
        canvas[y0:y0 + h, x0:x0 + w][mask] = (shade * tint)[mask]
        instance_map[y0:y0 + h, x0:x0 + w][mask] = len(garments) + 1
        garments.append(Garment(index, int(source.labels[index]), box=box))
        boxes.append(box)
    if not garments:  # every placement failed (cannot happen for the first)
        raise RuntimeError('no garment could be placed')
    counts = np.bincount(instance_map.ravel(), minlength=len(garments) + 1)
    for k, garment in enumerate(garments):
        garment.visible_pixels = int(counts[k + 1])
    image_type = IMAGE_TYPES.index(
        style.image_types[int(rng.integers(len(style.image_types)))])
    image = _render_type(canvas, IMAGE_TYPES[image_type], rng)
    return Scene(image, image_type, instance_map, garments)
