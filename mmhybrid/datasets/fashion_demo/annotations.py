"""Turn rendered scenes into annotation files: COCO instances, mmpretrain
multi-label JSON and the plain-text list."""
import json
from typing import Dict, List, Optional, Sequence

import numpy as np
from pycocotools import mask as mask_utils

from .scenes import Scene


def scene_instances(scene: Scene) -> List[dict]:
    """COCO annotations (without ``id``/``image_id``) of a scene's visible
    garments, in paste order: exact compressed-RLE mask, tight ``bbox``
    ``[x, y, w, h]`` of the visible pixels, their count as ``area``,
    ``iscrowd=0``, ``category_id = label + 1``."""
    annotations = []
    for k in scene.visible():
        mask = scene.instance_map == k + 1
        rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        ys, xs = np.nonzero(mask)
        x0, y0 = int(xs.min()), int(ys.min())
        annotations.append(
            dict(
                category_id=scene.garments[k].label + 1,
                bbox=[x0, y0, int(xs.max()) - x0 + 1,
                      int(ys.max()) - y0 + 1],
                area=int(mask.sum()),
                segmentation=dict(size=[int(s) for s in rle['size']],
                                  counts=rle['counts'].decode('ascii')),
                iscrowd=0))
    return annotations


class CocoWriter:
    """Accumulate scenes into one COCO instances file.

    Image ids are ``index + 1`` and ``file_name`` is the bare scene file name
    (``'000000.png'``; the split folder is the data prefix, as in COCO).

    Args:
        categories (Sequence[str]): Category names; ids are ``1..len``.
    """

    def __init__(self, categories: Sequence[str]) -> None:
        self.images: List[dict] = []
        self.annotations: List[dict] = []
        self.categories = [dict(id=i + 1, name=name, supercategory='garment')
                           for i, name in enumerate(categories)]

    def add(self, index: int, file_name: str, scene: Scene) -> None:
        height, width = scene.instance_map.shape
        image_id = index + 1
        self.images.append(dict(id=image_id, file_name=file_name,
                                width=int(width), height=int(height)))
        for ann in scene_instances(scene):
            ann.update(id=len(self.annotations) + 1, image_id=image_id)
            self.annotations.append(ann)

    def to_dict(self, description: str) -> dict:
        return dict(info=dict(description=description),
                    licenses=[], images=self.images,
                    annotations=self.annotations, categories=self.categories)


def multilabel_json(classes: Sequence[str], paths: Sequence[str],
                    labels: Sequence[Optional[List[int]]]) -> str:
    """mmpretrain ``MultiLabelDataset`` JSON, one ``data_list`` entry a line;
    ``None`` labels are written as ``"gt_label": []`` (unlabelled)."""
    entries = [
        json.dumps(dict(img_path=path, gt_label=list(label or [])))
        for path, label in zip(paths, labels)
    ]
    head = json.dumps(dict(classes=list(classes)))
    return ('{"metainfo": ' + head + ',\n "data_list": [\n  ' +
            ',\n  '.join(entries) + '\n ]\n}\n')


def label_list_text(paths: Sequence[str],
                    labels: Sequence[Optional[List[int]]]) -> str:
    """The plain-text list format: ``path<TAB>3,17`` per line, empty label
    field for unlabelled images."""
    return ''.join(f"{path}\t{','.join(map(str, label or []))}\n"
                   for path, label in zip(paths, labels))


def dump_json(obj: Dict, path: str) -> None:
    """Write compact, deterministic JSON."""
    with open(path, 'w') as f:
        json.dump(obj, f, separators=(',', ':'))
        f.write('\n')
