"""Train / validation / test splits of the demo world for the benchmark.

Hyper-parameters are chosen on a validation split carved out of the training data;
results are reported on the demo world's held-out test split, whose garments come
from Fashion-MNIST's test set and never appear in pre-training:

- ``cls``: Fashion-MNIST train (10000) -> ``cls_val.txt`` (2000, class-balanced)
  and the rest (8000), from which ``cls_train_<p>pct.txt`` holds p% of all train
  labels (class-balanced) for low-label fine-tuning and ``cls_train_pool.txt`` all
  8000 for the frozen probes. Test: ``cls/meta/test.txt``.
- ``scenes``: train (4000) -> ``scenes_val`` (500 scenes) and ``scenes_train``
  (3500) as COCO JSON and mmseg name lists, ``scenes_val_multilabel.json`` (all
  labels of the validation scenes); pre-training reads ``pretrain_partial.json``,
  the demo's partial-label list without the validation scenes. Test: ``scenes/val`` (the demo world's own val split).
- ``objects`` (the pre-training's labelled pool) at a label budget ``L < 1``
  (:func:`label_budget_splits`): ``objects_<pct>pct.json`` lists every object
  image, labels kept on a class-balanced (by garment) share ``L`` and
  ``gt_label: []`` (unlabelled) on the rest; ``objects_labelled_<pct>pct.json``
  lists only the labelled ones, ``objects_unlabelled_<pct>pct.json`` only the
  others (for a sampler that gives the labelled ones their own batch share).
  The labelled sets are nested: a smaller budget keeps a subset of a larger
  one's labels.
- ``objects`` with garment classes held out of the label space
  (:func:`held_out_splits`, tag e.g. ``heldout-5-6-7-8-9``):
  ``objects_known_<tag>.json`` lists every object image, those of the held-out
  garments with ``gt_label: []`` (unlabelled: their image-type labels go
  too, the label head never meets them); ``objects_known_labelled_<tag>.json``
  lists only the labelled ones (the known garments, all their labels) and
  ``objects_known_unlabelled_<tag>.json`` only the others. At a label budget
  as well (``objects_known_<tag>_<pct>pct.json`` and its labelled / unlabelled
  pair) the known garments keep the budget's labels only: the labelled images
  are the budget's minus the held-out garments', so the run is nested in both
  the budget's and the held-out classes' runs.

Everything is a pure function of the demo build and ``seed``: rebuilt files are
identical, so every method and seed sees the same splits.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np

from mmhybrid.datasets.fashion_demo import CLASSES as GARMENTS

SPLITS_DIR = 'splits'
OBJECTS = 'objects/meta/train.json'


def _read_lines(path: str) -> List[str]:
    with open(path) as f:
        return [line.rstrip('\n') for line in f if line.strip()]


def _write(path: str, text: str) -> None:
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


def _balanced(labels: np.ndarray, count: int, rng: np.random.Generator,
              exclude: np.ndarray = None) -> np.ndarray:
    """``count`` indices, as equal per class as possible, none in ``exclude``."""
    classes = np.unique(labels)
    chosen = []
    for i, c in enumerate(classes):
        pool = np.flatnonzero(labels == c)
        if exclude is not None:
            pool = np.setdiff1d(pool, exclude)
        quota = count // len(classes) + (i < count % len(classes))
        if quota > len(pool):
            raise ValueError(f'class {c}: {quota} images wanted, {len(pool)} available')
        chosen.append(rng.choice(pool, quota, replace=False))
    return np.sort(np.concatenate(chosen))


def make_splits(data_root: str, low_label_percents=(10, ), cls_val_fraction: float = 0.2,
                scene_val_fraction: float = 0.125, seed: int = 0) -> Dict[str, str]:
    """Write the benchmark splits under ``<data_root>/splits/``; return name -> path
    (relative to ``data_root``). ``scene_val_fraction=0.125``: 500 of the 4000
    train scenes, as many as the test split."""
    out = osp.join(data_root, SPLITS_DIR)
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = {}

    # --- classification (mmpretrain CustomDataset lists: "train/00000.png 3")
    lines = _read_lines(osp.join(data_root, 'cls', 'meta', 'train.txt'))
    labels = np.array([int(line.split()[1]) for line in lines])
    val = _balanced(labels, int(round(cls_val_fraction * len(lines))), rng)
    pool = np.setdiff1d(np.arange(len(lines)), val)
    subsets = {'cls_val': val, 'cls_train_pool': pool}
    for pct in low_label_percents:
        count = int(round(pct / 100 * len(lines)))
        subsets[f'cls_train_{pct}pct'] = _balanced(labels, count, rng, exclude=val)
    for name, idx in subsets.items():
        _write(osp.join(out, f'{name}.txt'), ''.join(lines[i] + '\n' for i in idx))
        paths[name] = f'{SPLITS_DIR}/{name}.txt'

    # --- scenes: COCO JSON + mmseg name lists + the pre-training label list
    with open(osp.join(data_root, 'scenes', 'annotations', 'instances_train.json')) as f:
        coco = json.load(f)
    images = sorted(coco['images'], key=lambda im: im['id'])
    n_val = max(1, int(round(scene_val_fraction * len(images))))
    val_ids = set(int(i) for i in rng.choice([im['id'] for im in images], n_val,
                                             replace=False))
    for name, keep in (('scenes_val', lambda i: i in val_ids),
                       ('scenes_train', lambda i: i not in val_ids)):
        subset = dict(coco, images=[im for im in images if keep(im['id'])],
                      annotations=[a for a in coco['annotations'] if keep(a['image_id'])])
        _write(osp.join(out, f'{name}.json'), json.dumps(subset))
        _write(osp.join(out, f'{name}.txt'),
               ''.join(osp.splitext(im['file_name'])[0] + '\n'
                       for im in subset['images']))
        paths[name] = f'{SPLITS_DIR}/{name}.json'
        paths[name + '_seg'] = f'{SPLITS_DIR}/{name}.txt'
    val_files = {im['file_name'] for im in images if im['id'] in val_ids}
    with open(osp.join(data_root, 'scenes', 'meta', 'train_partial.json')) as f:
        partial = json.load(f)
    kept = [d for d in partial['data_list']
            if osp.basename(d['img_path']) not in val_files]
    if len(kept) != len(partial['data_list']) - len(val_files):
        raise ValueError(f'{data_root}/scenes/meta/train_partial.json does not list '
                         f'every train scene once ({len(partial["data_list"])} '
                         f'entries, {len(images)} scenes)')
    _write(osp.join(out, 'pretrain_partial.json'),
           json.dumps(dict(partial, data_list=kept)))
    paths['pretrain_partial'] = f'{SPLITS_DIR}/pretrain_partial.json'
    # every label of the validation scenes, for the label head's own mAP
    with open(osp.join(data_root, 'scenes', 'meta', 'train_multilabel.json')) as f:
        full = json.load(f)
    _write(osp.join(out, 'scenes_val_multilabel.json'), json.dumps(dict(
        full, data_list=[d for d in full['data_list']
                         if osp.basename(d['img_path']) in val_files])))
    paths['scenes_val_multilabel'] = f'{SPLITS_DIR}/scenes_val_multilabel.json'
    return paths


def budget_name(fraction: float) -> str:
    """``fraction`` as the split files name it: ``0.1`` -> ``'10pct'``."""
    return f'{100 * fraction:g}pct'


def label_budget_files(fraction: float) -> Dict[str, str]:
    """The object lists of a label budget, relative to the data root:
    ``mixed`` (every object, the unlabelled ones with ``gt_label: []``),
    ``labelled`` (the labelled ones only) and ``unlabelled`` (the others, with
    ``gt_label: []``): ``labelled`` and ``unlabelled`` partition ``mixed``."""
    name = budget_name(fraction)
    return dict(mixed=f'{SPLITS_DIR}/objects_{name}.json',
                labelled=f'{SPLITS_DIR}/objects_labelled_{name}.json',
                unlabelled=f'{SPLITS_DIR}/objects_unlabelled_{name}.json')


def _object_garments(data_root: str, objects: dict) -> np.ndarray:
    """The garment class of each object entry (an object image names one)."""
    classes = objects['metainfo']['classes']
    garments = []
    for i, entry in enumerate(objects['data_list']):
        named = [c for c in entry['gt_label'] if classes[c] in GARMENTS]
        if len(named) != 1:
            raise ValueError(f'{data_root}/{OBJECTS} entry {i} names {len(named)} '
                             'garments; an object image holds one')
        garments.append(named[0])
    return np.array(garments, dtype=int)


def _write_object_lists(data_root: str, objects: dict, kept: set,
                        files: Dict[str, str]) -> None:
    """``files['mixed']`` (every entry, those not in ``kept`` unlabelled),
    ``files['labelled']`` (the ``kept`` ones) and ``files['unlabelled']``."""
    entries = objects['data_list']
    mixed = [e if i in kept else dict(e, gt_label=[]) for i, e in enumerate(entries)]
    os.makedirs(osp.join(data_root, SPLITS_DIR), exist_ok=True)
    _write(osp.join(data_root, files['mixed']),
           json.dumps(dict(objects, data_list=mixed)))
    _write(osp.join(data_root, files['labelled']),
           json.dumps(dict(objects, data_list=[entries[i] for i in sorted(kept)])))
    _write(osp.join(data_root, files['unlabelled']),
           json.dumps(dict(objects, data_list=[
               e for i, e in enumerate(mixed) if i not in kept])))


def label_budget_splits(data_root: str, fraction: float,
                        seed: int = 0) -> Dict[str, str]:
    """Write the object lists of label budget ``fraction`` (module docstring)
    under ``<data_root>/splits/``; return :func:`label_budget_files`.

    Each garment class keeps the labels of an equal share (the first images of
    a permutation drawn per class from ``seed``, the same at every budget);
    the other images stay listed, unlabelled.

    Args:
        data_root (str): The demo world.
        fraction (float): Share of the object images that keep their labels,
            in ``(0, 1)``.
        seed (int): Seed of the per-class permutations.
    """
    with open(osp.join(data_root, OBJECTS)) as f:
        objects = json.load(f)
    kept = _budget_kept(_object_garments(data_root, objects), fraction, seed)
    files = label_budget_files(fraction)
    _write_object_lists(data_root, objects, kept, files)
    return files


def _budget_kept(garments: np.ndarray, fraction: float, seed: int) -> set:
    """Indices of the objects (garment class each) that keep their labels at
    budget ``fraction``: an equal share of each garment, the first images of a
    permutation drawn per class from ``seed`` (so budgets nest)."""
    if not 0 < fraction < 1:
        raise ValueError(f'a label budget is a fraction in (0, 1), got {fraction}')
    rng = np.random.default_rng(seed)
    count = int(round(fraction * len(garments)))
    kept, present = [], np.unique(garments)
    for i, c in enumerate(present):
        order = rng.permutation(np.flatnonzero(garments == c))
        quota = count // len(present) + (i < count % len(present))
        if not 0 < quota <= len(order):
            raise ValueError(f'label budget {fraction}: garment {c} would keep '
                             f'{quota} of its {len(order)} images')
        kept.append(order[:quota])
    return set(np.concatenate(kept).tolist())


def held_out_tag(classes: Sequence[int]) -> str:
    """Held-out garment classes as the split files name them: ``(5, 6, 7, 8,
    9)`` -> ``'heldout-5-6-7-8-9'`` (sorted)."""
    return 'heldout-' + '-'.join(str(int(c)) for c in sorted(classes))


def held_out_files(classes: Sequence[int], fraction: float = 1.0) -> Dict[str, str]:
    """The object lists with garment ``classes`` held out of the label space,
    relative to the data root: ``mixed`` (every object, the held-out garments
    with ``gt_label: []``), ``labelled`` (the known garments only) and
    ``unlabelled`` (the held-out ones, ``gt_label: []``); the same keys as
    :func:`label_budget_files`. Below a ``fraction`` of one, the lists of that
    label budget as well (only its share of the known garments labelled)."""
    tag = held_out_tag(classes)
    if fraction < 1:
        tag += '_' + budget_name(fraction)
    return dict(mixed=f'{SPLITS_DIR}/objects_known_{tag}.json',
                labelled=f'{SPLITS_DIR}/objects_known_labelled_{tag}.json',
                unlabelled=f'{SPLITS_DIR}/objects_known_unlabelled_{tag}.json')


def held_out_splits(data_root: str, classes: Sequence[int], fraction: float = 1.0,
                    seed: int = 0) -> Dict[str, str]:
    """Write the object lists with garment ``classes`` held out of the label
    space (module docstring) under ``<data_root>/splits/``; return
    :func:`held_out_files`.

    An object image of a held-out garment keeps its place in the lists with no
    label at all (its image-type label goes too: the label head never meets
    the image); the others keep all their labels, or below a ``fraction`` of
    one those that label budget keeps (:func:`label_budget_splits`' images,
    less the held-out garments'). A pure function of the demo build,
    ``classes``, ``fraction`` and ``seed``.

    Args:
        data_root (str): The demo world.
        classes (Sequence[int]): Garment class indices (of the objects'
            ``metainfo.classes``) to hold out; at least one, not all.
        fraction (float): The label budget, in ``(0, 1]``.
        seed (int): Seed of the budget's per-class permutations.
    """
    path = osp.join(data_root, OBJECTS)
    with open(path) as f:
        objects = json.load(f)
    names = objects['metainfo']['classes']
    garment_ids = [i for i, name in enumerate(names) if name in GARMENTS]
    held = sorted(set(int(c) for c in classes))
    bad = [c for c in held if c not in garment_ids]
    if bad:
        raise ValueError(f'held-out classes {bad} are no garment of {path} (its '
                         f'garments are the classes {garment_ids})')
    if len(held) != len(list(classes)):
        raise ValueError(f'held-out classes {list(classes)} name a class twice')
    if not 0 < len(held) < len(garment_ids):
        raise ValueError(f'held-out classes {held}: hold out some of the '
                         f'{len(garment_ids)} garments of {path}, not none or all')
    garments = _object_garments(data_root, objects)
    kept = set(np.flatnonzero(~np.isin(garments, held)).tolist())
    if fraction < 1:
        kept &= _budget_kept(garments, fraction, seed)
    files = held_out_files(held, fraction)
    _write_object_lists(data_root, objects, kept, files)
    return files
