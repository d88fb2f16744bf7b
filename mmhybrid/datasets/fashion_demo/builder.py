"""Build the Fashion-MNIST demo world (classification, scenes, detection and
segmentation annotations) into one folder, once."""
import json
import os
import os.path as osp
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Optional

import cv2
import numpy as np

from .annotations import CocoWriter, dump_json, label_list_text, multilabel_json
from .fashion_mnist import CLASSES, Split, load_split, source_fingerprint
from .preview import preview_grid
from .readme import readme_text
from .scenes import (DENSE_SCENE_STYLES, IMAGE_TYPES, render_dense_scene,
                     render_object, render_scene)

#: Bump when the output for given parameters changes: forces a rebuild.
BUILDER_VERSION = 2
#: The multi-label space of the scenes: garments, then image types.
SCENE_CLASSES = CLASSES + IMAGE_TYPES
#: Seed stream per scene split (and per other random choice).
_STREAMS = dict(train=0, val=1, unlabelled=2, cls_train=3, cls_test=4,
                partial=5, objects=6, objects_pick=7, dense_train=8,
                dense_val=9, dense_test=10)
_PREVIEW_SCENES = 16
_PNG = [cv2.IMWRITE_PNG_COMPRESSION, 6]


@dataclass(frozen=True)
class DemoParams:
    """What a demo build is made from; recorded in ``build_info.json``.

    Args:
        seed (int): Seed of every random choice. Defaults to 0.
        size (int): Side of scene and classification images. Defaults to 64.
        num_train (int): Labelled training scenes. Defaults to 4000.
        num_val (int): Validation scenes. Defaults to 500.
        num_unlabelled (int): Extra training scenes without annotations.
            Defaults to 2000.
        num_cls_train (int): Classification training images (class-balanced
            subset of the 60000). Defaults to 10000.
        num_cls_test (int): Classification test images (of the 10000).
            Defaults to 2000.
        unlabelled_fraction (float): Share of ``train_partial.json`` entries
            with ``"gt_label": []``. Defaults to 0.5.
        max_garments (int): Garments per scene, at most. Defaults to 4.
        num_objects (int): Labelled object-centric training images, one
            garment each (class-balanced, from Fashion-MNIST train images that
            are not in ``cls/train``): the ImageNet-like labelled source of
            pre-training. Defaults to 20000.
        dense_scenes (str): Comma-separated names of
            :data:`~.scenes.DENSE_SCENE_STYLES` to build as well, each into
            ``scenes_<name>/`` (train / val / test scenes for the dense tasks,
            COCO instances and class maps; ``scenes/``, which pre-training
            reads, is the same with or without them). Defaults to '' (none;
            then not recorded in ``build_info.json``, whose earlier builds stay
            up to date).
    """
    seed: int = 0
    size: int = 64
    num_train: int = 4000
    num_val: int = 500
    num_unlabelled: int = 2000
    num_cls_train: int = 10000
    num_cls_test: int = 2000
    unlabelled_fraction: float = 0.5
    max_garments: int = 4
    num_objects: int = 20000
    dense_scenes: str = ''

    def dense_styles(self) -> List[str]:
        """The names in ``dense_scenes``, in order."""
        return [n.strip() for n in self.dense_scenes.split(',') if n.strip()]

    def check(self) -> None:
        """Raise ``ValueError`` for parameters that cannot be built."""
        problems = []
        if self.size < 16:
            problems.append(f'size must be >= 16, got {self.size}')
        for name in ('num_train', 'num_val', 'num_unlabelled',
                     'num_cls_train', 'num_cls_test', 'max_garments',
                     'num_objects'):
            if getattr(self, name) < 1:
                problems.append(f'{name} must be >= 1')
        if self.num_cls_train > 60000 or self.num_cls_test > 10000:
            problems.append('Fashion-MNIST has 60000 train and 10000 test '
                            'images')
        if self.num_cls_train + self.num_objects > 60000:
            problems.append('num_cls_train + num_objects must be <= 60000 '
                            '(objects use train images cls/train does not)')
        if not 0 <= self.unlabelled_fraction <= 1:
            problems.append('unlabelled_fraction must be in [0, 1]')
        for name in self.dense_styles():
            if name not in DENSE_SCENE_STYLES:
                problems.append(f'unknown dense scene style {name!r} (known: '
                                f'{", ".join(DENSE_SCENE_STYLES)})')
            else:
                DENSE_SCENE_STYLES[name].check()
        if problems:
            raise ValueError('; '.join(problems))


def _rng(params: DemoParams, stream: str, index: int = 0):
    return np.random.default_rng([params.seed, _STREAMS[stream], index])


def _balanced_subset(labels: np.ndarray, count: int,
                     rng: np.random.Generator,
                     exclude: Optional[np.ndarray] = None) -> np.ndarray:
    """``count`` indices, as equal per class as possible, none in
    ``exclude``, sorted."""
    num_classes = len(CLASSES)
    picked = []
    for c in range(num_classes):
        quota = count // num_classes + (c < count % num_classes)
        pool = np.flatnonzero(labels == c)
        if exclude is not None:
            pool = np.setdiff1d(pool, exclude)
        picked.append(rng.choice(pool, quota, replace=False))
    return np.sort(np.concatenate(picked))


def _write_cls(out: str, params: DemoParams, splits: Dict[str, Split]) -> dict:
    os.makedirs(osp.join(out, 'meta'))
    with open(osp.join(out, 'meta', 'classes.txt'), 'w') as f:
        f.write(''.join(name + '\n' for name in CLASSES))
    record = {}
    for name, source, count in (('train', splits['train'], params.num_cls_train),
                                ('test', splits['test'], params.num_cls_test)):
        os.makedirs(osp.join(out, name))
        chosen = _balanced_subset(source.labels, count,
                                  _rng(params, f'cls_{name}'))
        lines = []
        for i, index in enumerate(chosen):
            image = cv2.resize(source.images[index], (params.size, ) * 2,
                               interpolation=cv2.INTER_LINEAR)
            cv2.imwrite(osp.join(out, name, f'{i:05d}.png'), image, _PNG)
            lines.append(f'{name}/{i:05d}.png {source.labels[index]}\n')
        with open(osp.join(out, 'meta', f'{name}.txt'), 'w') as f:
            f.write(''.join(lines))
        record[name] = dict(source_split=name,
                            source_indices=chosen.tolist())
    return record


def _write_scene_split(out: str, split: str, source: Split, count: int,
                       params: DemoParams, annotated: bool):
    """Render and write ``count`` scenes of ``split``; returns the labels, the
    COCO writer (annotated splits only), garment records and preview
    scenes."""
    os.makedirs(osp.join(out, split))
    if annotated:
        os.makedirs(osp.join(out, 'seg', split))
    coco = CocoWriter(CLASSES) if annotated else None
    labels, garments, previews = [], [], []
    for i in range(count):
        scene = render_scene(_rng(params, split, i), source, params.size,
                             params.max_garments)
        name = f'{i:06d}.png'
        cv2.imwrite(osp.join(out, split, name), scene.image[:, :, ::-1], _PNG)
        if annotated:
            cv2.imwrite(osp.join(out, 'seg', split, name), scene.class_map(),
                        _PNG)
            coco.add(i, name, scene)
        labels.append(scene.labels())
        garments.append([[g.source_index, g.label, g.visible_pixels]
                         for g in scene.garments])
        if len(previews) < _PREVIEW_SCENES:
            previews.append(scene)
    return labels, coco, garments, previews


def _scene_counts(labels: List[List[int]], garments: List[list]) -> dict:
    visible = [g for scene in garments for g in scene if g[2] > 0]
    return dict(
        scenes=len(labels),
        instances=len(visible),
        fully_occluded_dropped=sum(g[2] == 0 for s in garments for g in s),
        instances_per_class={
            name: sum(g[1] == c for g in visible)
            for c, name in enumerate(CLASSES)
        },
        scenes_per_image_type={
            name: sum(lab[-1] == 10 + t for lab in labels)
            for t, name in enumerate(IMAGE_TYPES)
        })


def _write_scenes(out: str, params: DemoParams,
                  splits: Dict[str, Split]) -> tuple:
    meta, ann_dir = osp.join(out, 'meta'), osp.join(out, 'annotations')
    os.makedirs(meta)
    os.makedirs(ann_dir)
    with open(osp.join(meta, 'classes.txt'), 'w') as f:
        f.write(''.join(name + '\n' for name in SCENE_CLASSES))
    counts, provenance, preview = {}, {}, []
    plan = (('train', 'train', params.num_train, True),
            ('val', 'test', params.num_val, True),
            ('unlabelled', 'train', params.num_unlabelled, False))
    for split, source_split, count, annotated in plan:
        labels, coco, garments, previews = _write_scene_split(
            out, split, splits[source_split], count, params, annotated)
        provenance[split] = dict(
            source_split=source_split,
            fields=['source_index', 'label', 'visible_pixels'],
            garments=garments)
        counts[split] = _scene_counts(labels, garments)
        if split == 'train':
            preview = previews
        if not annotated:
            continue
        paths = [f'{split}/{i:06d}.png' for i in range(count)]
        with open(osp.join(meta, f'{split}_multilabel.json'), 'w') as f:
            f.write(multilabel_json(SCENE_CLASSES, paths, labels))
        dump_json(coco.to_dict(f'Fashion-MNIST demo scenes, {split}'),
                  osp.join(ann_dir, f'instances_{split}.json'))
        if split == 'train':
            with open(osp.join(meta, 'train_list.txt'), 'w') as f:
                f.write(label_list_text(paths, labels))
            hidden = _rng(params, 'partial').permutation(count)[:int(
                round(params.unlabelled_fraction * count))]
            partial = list(labels)
            for i in hidden:
                partial[i] = None
            with open(osp.join(meta, 'train_partial.json'), 'w') as f:
                f.write(multilabel_json(SCENE_CLASSES, paths, partial))
            counts['train_partial'] = dict(labelled=count - len(hidden),
                                           unlabelled=len(hidden))
    return counts, provenance, preview


def _write_dense_scenes(out: str, params: DemoParams, name: str,
                        splits: Dict[str, Split]) -> tuple:
    """Render the dense scene set ``name`` into ``out`` (``scenes_<name>/``):
    train and val scenes of Fashion-MNIST train garments, test scenes of test
    garments, each with class maps, COCO instances and multi-label JSON."""
    style = DENSE_SCENE_STYLES[name]
    meta, ann_dir = osp.join(out, 'meta'), osp.join(out, 'annotations')
    os.makedirs(meta)
    os.makedirs(ann_dir)
    with open(osp.join(meta, 'classes.txt'), 'w') as f:
        f.write(''.join(n + '\n' for n in SCENE_CLASSES))
    counts, provenance, preview = {}, {}, []
    for split, source_split, count in (('train', 'train', style.num_train),
                                       ('val', 'train', style.num_val),
                                       ('test', 'test', style.num_test)):
        os.makedirs(osp.join(out, split))
        os.makedirs(osp.join(out, 'seg', split))
        coco = CocoWriter(CLASSES)
        labels, garments = [], []
        for i in range(count):
            scene = render_dense_scene(_rng(params, f'dense_{split}', i),
                                       splits[source_split], style)
            file_name = f'{i:06d}.png'
            cv2.imwrite(osp.join(out, split, file_name),
                        scene.image[:, :, ::-1], _PNG)
            cv2.imwrite(osp.join(out, 'seg', split, file_name),
                        scene.class_map(), _PNG)
            coco.add(i, file_name, scene)
            labels.append(scene.labels())
            garments.append([[g.source_index, g.label, g.visible_pixels]
                             for g in scene.garments])
            if split == 'train' and len(preview) < _PREVIEW_SCENES:
                preview.append(scene)
        paths = [f'{split}/{i:06d}.png' for i in range(count)]
        with open(osp.join(meta, f'{split}_multilabel.json'), 'w') as f:
            f.write(multilabel_json(SCENE_CLASSES, paths, labels))
        dump_json(coco.to_dict(f'Fashion-MNIST demo scenes {name}, {split}'),
                  osp.join(ann_dir, f'instances_{split}.json'))
        provenance[split] = dict(
            source_split=source_split,
            fields=['source_index', 'label', 'visible_pixels'],
            garments=garments)
        counts[split] = _scene_counts(labels, garments)
    cv2.imwrite(osp.join(out, 'preview.png'),
                preview_grid(preview)[:, :, ::-1], _PNG)
    return counts, provenance


def _write_objects(out: str, params: DemoParams, source: Split,
                   exclude: np.ndarray) -> tuple:
    """Render the labelled object-centric images: one garment each, from
    ``source`` indices not in ``exclude`` (the classification images)."""
    os.makedirs(osp.join(out, 'train'))
    os.makedirs(osp.join(out, 'meta'))
    with open(osp.join(out, 'meta', 'classes.txt'), 'w') as f:
        f.write(''.join(name + '\n' for name in SCENE_CLASSES))
    chosen = _balanced_subset(source.labels, params.num_objects,
                              _rng(params, 'objects_pick'), exclude=exclude)
    order = _rng(params, 'objects_pick', 1).permutation(len(chosen))
    paths, labels, garments, types = [], [], [], []
    for i, index in enumerate(chosen[order]):
        scene = render_object(_rng(params, 'objects', i), source, int(index),
                              params.size)
        name = f'train/{i:06d}.png'
        cv2.imwrite(osp.join(out, name), scene.image[:, :, ::-1], _PNG)
        paths.append(name)
        labels.append(scene.labels())
        garments.append([[g.source_index, g.label, g.visible_pixels]
                         for g in scene.garments])
        types.append(scene.image_type)
    with open(osp.join(out, 'meta', 'train.json'), 'w') as f:
        f.write(multilabel_json(SCENE_CLASSES, paths, labels))
    counts = dict(
        images=len(paths),
        per_class={name: sum(c in lab for lab in labels)
                   for c, name in enumerate(CLASSES)},
        per_image_type={name: types.count(t)
                        for t, name in enumerate(IMAGE_TYPES)})
    provenance = dict(source_split='train',
                      fields=['source_index', 'label', 'visible_pixels'],
                      garments=garments)
    return counts, provenance


def _requested(params: DemoParams, fingerprint: Dict[str, str]) -> dict:
    recorded = asdict(params)
    if not params.dense_scenes:  # builds from before the option stay current
        del recorded['dense_scenes']
    requested = dict(builder_version=BUILDER_VERSION, params=recorded,
                     source=dict(dataset='Fashion-MNIST', files=fingerprint))
    if params.dense_scenes:  # what each name stands for: a changed style rebuilds
        requested['dense_scene_styles'] = json.loads(json.dumps({
            name: asdict(DENSE_SCENE_STYLES[name])
            for name in params.dense_styles()}))
    return requested


def _is_up_to_date(out: str, requested: dict) -> bool:
    try:
        with open(osp.join(out, 'build_info.json')) as f:
            info = json.load(f)
    except (OSError, ValueError):
        return False
    return all(info.get(k) == v for k, v in requested.items())


def build_fashion_demo(out: str,
                       params: DemoParams = DemoParams(),
                       fashion_mnist: Optional[str] = None,
                       log: Callable[[str], None] = print) -> dict:
    """Build the demo world into ``out`` (see the generated README for the
    layout), or do nothing if ``out`` already holds a build of the same
    parameters and source.

    The build goes to a temporary sibling folder that replaces ``out`` only
    when complete, so ``out`` is never half-built. An existing ``out`` that
    is not a demo build (no ``build_info.json``) is refused, not replaced.

    Args:
        out (str): Output folder.
        params (DemoParams): What to build.
        fashion_mnist (str, optional): Folder with the Fashion-MNIST IDX files
            (gzipped or not). Defaults to Debian's install folder.
        log (callable): Where progress lines go. Defaults to ``print``.

    Returns:
        dict: The build record (the content of ``build_info.json``).
    """
    params.check()
    out = osp.abspath(out)
    requested = _requested(params, source_fingerprint(fashion_mnist))
    if _is_up_to_date(out, requested):
        log(f'{out} is up to date')
        with open(osp.join(out, 'build_info.json')) as f:
            return json.load(f)
    if osp.exists(out) and os.listdir(out) and not osp.exists(
            osp.join(out, 'build_info.json')):
        raise FileExistsError(
            f"'{out}' exists and is not a demo build (no build_info.json); "
            'refusing to replace it')

    start = time.perf_counter()
    splits = {s: load_split(s, fashion_mnist) for s in ('train', 'test')}
    os.makedirs(osp.dirname(out), exist_ok=True)
    # unique: two builds started at once must not write into one folder
    tmp = tempfile.mkdtemp(prefix=f'.{osp.basename(out)}.building-',
                           dir=osp.dirname(out))
    os.chmod(tmp, 0o755)  # mkdtemp's 0o700 would become the output's mode
    try:
        log(f'building {out} ({params})')
        cls_record = _write_cls(osp.join(tmp, 'cls'), params, splits)
        log(f'  cls/ written ({time.perf_counter() - start:.1f} s)')
        counts, scene_record, previews = _write_scenes(
            osp.join(tmp, 'scenes'), params, splits)
        log(f'  scenes/ written ({time.perf_counter() - start:.1f} s)')
        cls_train = np.asarray(cls_record['train']['source_indices'])
        counts['objects'], object_record = _write_objects(
            osp.join(tmp, 'objects'), params, splits['train'], cls_train)
        log(f'  objects/ written ({time.perf_counter() - start:.1f} s)')
        counts['cls'] = dict(train=params.num_cls_train,
                             test=params.num_cls_test)
        dense_records = {}
        for name in params.dense_styles():
            folder = f'scenes_{name}'
            counts[folder], dense_records[folder] = _write_dense_scenes(
                osp.join(tmp, folder), params, name, splits)
            log(f'  {folder}/ written ({time.perf_counter() - start:.1f} s)')
        info = dict(requested, counts=counts)
        dump_json(dict(cls=cls_record, scenes=scene_record,
                       objects=object_record, **dense_records),
                  osp.join(tmp, 'provenance.json'))
        cv2.imwrite(osp.join(tmp, 'preview.png'),
                    preview_grid(previews)[:, :, ::-1], _PNG)
        with open(osp.join(tmp, 'README.md'), 'w') as f:
            f.write(readme_text(info, SCENE_CLASSES, CLASSES, IMAGE_TYPES))
        with open(osp.join(tmp, 'build_info.json'), 'w') as f:
            json.dump(info, f, indent=2)
            f.write('\n')
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if osp.exists(out):
        old = tmp + '.old'
        os.rename(out, old)
    try:
        os.rename(tmp, out)
    except OSError:
        # another build of the same folder finished first
        shutil.rmtree(tmp)
        if not _is_up_to_date(out, requested):
            raise
    if old is not None:
        shutil.rmtree(old)
    log(f'built {out} in {time.perf_counter() - start:.1f} s')
    return info
