"""Every picture a run directory has what it takes for."""
import copy
import os
import os.path as osp
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence

import cv2
import numpy as np
from mmengine.registry import DefaultScope

from . import curves, downstream, reconstruction
from .run_dir import RunDir


@dataclass
class Picture:
    """One picture: written (``path``) or skipped, ``note`` saying what it
    shows or why it was skipped."""
    name: str
    path: Optional[str]
    note: str


class Skip(Exception):
    """The run directory lacks what a picture needs (the message says what)."""


def visualize_run(run_dir: str, out_dir: Optional[str] = None, num_images: int = 4,
                  log: Callable[[str], None] = print,
                  pictures: Optional[Sequence[str]] = None) -> List[Picture]:
    """Write into ``out_dir`` (default: ``run_dir``) the pictures of the run:

    - ``losses.png``: each task's ``raw_<task>`` and ``weight_<task>`` over
      iterations (a downstream run: its keys with ``loss`` in the name), from the run's own
      ``vis_data/scalars.json``;
    - ``probe.png``: the ``OnlineProbeHook`` metrics over iterations;
    - ``reconstructions.png`` (pre-training runs): input | masked | SimMIM
      prediction | prediction in the masked patches, for ``num_images`` fixed
      training images, from the run's config and latest checkpoint;
    - ``detections.png`` (mmdet runs) / ``segmentations.png`` (mmseg runs):
      ground truth | prediction on ``num_images`` fixed validation scenes.

    Each picture is made only when the run has what it needs; the others are
    returned (and logged) as skipped, with the reason. ``pictures`` (file names)
    limits which are attempted (default: all).
    """
    run = RunDir(run_dir)
    out_dir = out_dir or run_dir
    os.makedirs(out_dir, exist_ok=True)
    makers = [('losses.png', _losses), ('probe.png', _probe),
              ('reconstructions.png', _reconstructions),
              ('detections.png', _detections), ('segmentations.png', _segmentations)]
    if pictures is not None:
        unknown = set(pictures) - {name for name, _ in makers}
        if unknown:
            raise ValueError(f'unknown pictures {sorted(unknown)}; known: '
                             f'{[name for name, _ in makers]}')
        makers = [(name, make) for name, make in makers if name in pictures]
    written = []
    for name, make in makers:
        path = osp.join(out_dir, name)
        try:
            note = make(run, path, num_images)
            written.append(Picture(name, path, note))
            log(f'wrote {path}: {note}')
        except (Skip, FileNotFoundError) as reason:  # a file the run names is gone
            written.append(Picture(name, None, str(reason)))
            log(f'skipped {name}: {reason}')
    return written


# ----------------------------------------------------------------- curves
def _records(run: RunDir) -> List[dict]:
    records = run.train_records()
    if not records:
        raise Skip(f'no training records in {run.path}/*/vis_data/scalars.json')
    return records


def _losses(run: RunDir, path: str, num_images: int) -> str:
    records = _records(run)
    keys = curves.plot_losses(records, path, title=run.path)
    if not keys:
        os.remove(path)
        raise Skip('no raw_<task>, weight_<task> or *loss* scalars logged')
    return f'{", ".join(keys)} over {len(records)} logged iterations'


def _probe(run: RunDir, path: str, num_images: int) -> str:
    records = _records(run)
    if not any(key for key, _ in curves.PROBE_METRICS
               for r in records if key in r):
        raise Skip('no probe/* scalars (OnlineProbeHook was not on in this run)')
    keys = curves.plot_probe(records, path, title=run.path)
    points = len(curves.series(records, keys[0])[0])
    return f'{", ".join(keys)}, {points} probes'


# ---------------------------------------------------------- reconstructions
def _reconstructions(run: RunDir, path: str, num_images: int) -> str:
    cfg, checkpoint = _config_and_checkpoint(run, 'pretrain', 'a HybridPretrain')
    if not cfg.model.get('mim'):
        raise Skip('the model has no mim task')
    generator = reconstruction.find_mask_generator(cfg)
    if generator is None:
        raise Skip('no HybridViews mask_generator in the training pipeline')
    paths = _training_images(run, cfg, num_images)
    model = reconstruction.build_pretrain_model(cfg, checkpoint)
    images = reconstruction.load_images(paths, generator['input_size'])
    masks = reconstruction.make_masks(generator, len(paths))
    panels = reconstruction.reconstruction_panels(model, images, masks,
                                                  generator['model_patch_size'])
    _write_rgb(path, reconstruction.reconstruction_figure(panels))
    return (f'{len(paths)} training images, {checkpoint}, masks of its '
            f'SimMIMMaskGenerator (ratio {generator.get("mask_ratio")}, seed 0)')


def _training_images(run: RunDir, cfg, count: int) -> List[str]:
    """``count`` fixed images of the run's training set (spread over it)."""
    from mmpretrain.registry import DATASETS
    import mmhybrid  # noqa: F401  (the datasets)
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset.to_dict())
    _strip_pipelines(run, dataset_cfg)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = DATASETS.build(dataset_cfg)
    return [dataset.get_data_info(i)['img_path']
            for i in downstream._fixed(len(dataset), count)]


def _strip_pipelines(run: RunDir, node) -> None:
    """No transforms (only the image paths are read); data roots resolved."""
    if isinstance(node, dict):
        if 'pipeline' in node:
            node['pipeline'] = []
        if isinstance(node.get('data_root'), str):
            root = run.resolve(node['data_root'])
            if root is None:
                raise Skip(f'data_root {node["data_root"]!r} of the run not found '
                           '(from here or above the run directory)')
            node['data_root'] = root
        for child in node.values():
            _strip_pipelines(run, child)
    elif isinstance(node, list):
        for child in node:
            _strip_pipelines(run, child)


# --------------------------------------------------------------- downstream
def _detections(run: RunDir, path: str, num_images: int) -> str:
    cfg, checkpoint = _config_and_checkpoint(run, 'detection', 'an mmdet')
    rows, drawn = downstream.detection_rows(cfg, checkpoint, _data_root(run, cfg),
                                            num_images)
    _write_rgb(path, downstream.figure(rows, 'prediction (score >= 0.3)'))
    return (f'{len(rows)} validation scenes, {drawn} predicted instances drawn, '
            f'{checkpoint}')


def _segmentations(run: RunDir, path: str, num_images: int) -> str:
    cfg, checkpoint = _config_and_checkpoint(run, 'segmentation', 'an mmseg')
    rows = downstream.segmentation_rows(cfg, checkpoint, _data_root(run, cfg), num_images)
    _write_rgb(path, downstream.figure(rows, 'prediction'))
    return f'{len(rows)} validation scenes, {checkpoint}'


# ------------------------------------------------------------------ helpers
def _config_and_checkpoint(run: RunDir, kind: str, what: str):
    cfg = run.config()
    if cfg is None:
        raise Skip(f'no config in {run.path}/*/vis_data/config.py')
    if run.kind != kind:
        raise Skip(f'not {what} run (this one: {run.kind})')
    checkpoint = run.checkpoint()
    if checkpoint is None:
        raise Skip(f'no checkpoint in {run.path}')
    return cfg, checkpoint


def _data_root(run: RunDir, cfg) -> str:
    loader = cfg.get('val_dataloader') or cfg.get('test_dataloader') or {}
    root = loader.get('dataset', {}).get('data_root') or cfg.get('data_root')
    resolved = run.resolve(root) if root else None
    if resolved is None:
        raise Skip(f'validation data_root {root!r} of the run not found')
    return resolved


def _write_rgb(path: str, image: np.ndarray) -> None:
    if not cv2.imwrite(path, np.ascontiguousarray(image[:, :, ::-1])):
        raise OSError(f'could not write {path}')
