"""tools/visualize.py on tiny real runs: which pictures, and what is in them."""
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mmhybrid.visualization import visualize_run
from mmhybrid.visualization.image_grid import panel_origin
from mmhybrid.visualization.reconstruction import (PANELS, build_pretrain_model,
                                                   find_mask_generator, make_masks)
from mmhybrid.visualization.run_dir import RunDir
from mmhybrid.visualization.visualize_run import _training_images
from tests.test_downstream.conftest import demo_workspace  # noqa: F401  (fixture)
from tests.test_downstream.conftest import run_tool as run_tool_in
from tests.test_tools.train_helpers import REPO, run_tool, write_tiny_config

DEMO = REPO / 'configs' / 'benchmarks' / 'demo'
FAST = ['--no-persistent-workers', '--cfg-options', 'train_dataloader.batch_size=2',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'test_dataloader.num_workers=0', 'default_hooks.logger.interval=1']
PROBE = '''
custom_hooks = [dict(type='OnlineProbeHook', interval=2, data_root=data_root,
                     num_bank=40, num_query=20, k=5)]
'''


def read_png(path):
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, path
    return image[:, :, ::-1]


def assert_not_blank(image, min_colours=50):
    colours = len(np.unique(image.reshape(-1, 3), axis=0))
    assert colours >= min_colours and image.std() > 10, (colours, image.std())


@pytest.fixture(scope='module')
def pretrain_run(tiny_demo, tmp_path_factory):
    tmp = tmp_path_factory.mktemp('pretrain_run')
    cfg = write_tiny_config(tmp / 'tiny.py', tiny_demo, max_iters=4, ckpt_interval=4,
                            extra=PROBE)
    run_tool(['train.py', str(cfg), '--work-dir', str(tmp / 'work')])
    return tmp / 'work'


def test_pretraining_run_pictures(pretrain_run, tmp_path):
    out = tmp_path / 'pictures'
    proc = subprocess.run([sys.executable, str(REPO / 'tools' / 'visualize.py'),
                           str(pretrain_run), '--out-dir', str(out), '--num-images', '3'],
                          cwd=REPO, capture_output=True, text=True, timeout=300,
                          env=dict(__import__('os').environ, CUDA_VISIBLE_DEVICES=''))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ['losses.png', 'probe.png',
                                                    'reconstructions.png']
    # what was skipped, and why
    assert 'skipped detections.png: not an mmdet run (this one: pretrain)' in proc.stdout
    assert 'skipped segmentations.png: not an mmseg run' in proc.stdout
    assert 'raw_mim, raw_contrastive, raw_multilabel, loss, weight_mim' in proc.stdout
    assert 'probe/knn_top1, probe/label_mAP, 2 probes' in proc.stdout
    for name, size in (('losses.png', (440, 1210)), ('probe.png', (440, 1210))):
        image = read_png(out / name)
        assert image.shape[:2] == size
        assert_not_blank(image)
    figure = read_png(out / 'reconstructions.png')
    assert figure.shape[0] > 3 * 64 * 3 and figure.shape[1] > 4 * 64 * 3
    assert_not_blank(figure)


def test_reconstruction_panels_show_the_right_tensors(pretrain_run, tmp_path):
    """Recompute every panel from the checkpoint by hand (own normalisation,
    backbone(x, mask), mim_neck) and find it in the PNG at its place."""
    pictures = visualize_run(str(pretrain_run), str(tmp_path), num_images=2,
                             log=lambda msg: None)
    assert [p.name for p in pictures if p.path] == ['losses.png', 'probe.png',
                                                    'reconstructions.png']
    figure = read_png(tmp_path / 'reconstructions.png')

    run = RunDir(str(pretrain_run))
    cfg = run.config()
    model = build_pretrain_model(cfg, run.checkpoint())
    generator = find_mask_generator(cfg)
    size, patch = generator['input_size'], generator['model_patch_size']
    paths = _training_images(run, cfg, 2)
    masks = make_masks(generator, 2)
    mean = torch.tensor(cfg.model.data_preprocessor.mean).view(3, 1, 1)
    std = torch.tensor(cfg.model.data_preprocessor.std).view(3, 1, 1)
    rows = [[np.zeros((size, size, 3), np.uint8)] * 4] * 2  # for panel_origin
    for i, path in enumerate(paths):
        rgb = cv2.resize(cv2.imread(path), (size, size),
                         interpolation=cv2.INTER_AREA)[:, :, ::-1].copy()
        x = (torch.from_numpy(rgb).permute(2, 0, 1).float() - mean) / std
        with torch.no_grad():
            pred = model.mim_neck(model.backbone(x[None], masks[i:i + 1])[0])[0]
        pred = (pred * std + mean).round().clamp(0, 255).permute(1, 2, 0).numpy()
        masked = np.kron(masks[i].numpy(), np.ones((patch, patch)))[:, :, None] > 0
        want = {'input': rgb, 'masked': np.where(masked, 127, rgb),
                'prediction': pred, 'prediction + visible': np.where(masked, pred, rgb)}
        for j, name in enumerate(PANELS):
            top, left = panel_origin(rows, PANELS, i, j, scale=3)
            shown = figure[top:top + 3 * size:3, left:left + 3 * size:3].astype(float)
            # the same float32 maths in a batch of 2 or of 1: off by one at most
            assert np.abs(shown - want[name]).max() <= 1, (i, name)
        # the panels differ where they should: a wrong panel order would show
        assert 0.3 < masked.mean() < 0.9
        assert np.abs(want['prediction'] - rgb).mean() > 5


def test_downstream_run_pictures(demo_workspace, monkeypatch, tmp_path):  # noqa: F811
    monkeypatch.chdir(demo_workspace)  # the configs' data_root is relative
    det = demo_workspace / 'work_dirs' / 'vis_det'
    seg = demo_workspace / 'work_dirs' / 'vis_seg'
    run_tool_in(['train.py', DEMO / 'mask-rcnn_swin-demo-hybrid_fpn_1xb8-1e_fashion-'
                 'scenes-128px.py', '--work-dir', det] + FAST + ['train_cfg.max_epochs=1'],
                cwd=demo_workspace)
    run_tool_in(['train.py', DEMO / 'upernet_swin-demo-hybrid_1xb8-500it_fashion-'
                 'scenes-128px.py', '--work-dir', seg] + FAST +
                ['train_cfg.max_iters=2', 'train_cfg.val_interval=2'], cwd=demo_workspace)
    scenes = sorted((demo_workspace / 'data/fashion_demo/scenes/val').glob('*.png'))
    scale = 4
    for run, name, other in ((det, 'detections.png', 'segmentations.png'),
                             (seg, 'segmentations.png', 'detections.png')):
        out = tmp_path / run.name
        pictures = {p.name: p for p in visualize_run(str(run), str(out), num_images=4,
                                                     log=lambda msg: None)}
        assert pictures[name].path and pictures['losses.png'].path
        assert pictures[other].path is None and 'not an' in pictures[other].note
        assert 'no probe/* scalars' in pictures['probe.png'].note
        figure = read_png(out / name)
        # one row per validation scene (2 in the tiny world): ground truth |
        # prediction, each the 64 px scene enlarged 4 times
        assert figure.shape[1] == 2 * 64 * scale + 2 * 4
        assert figure.shape[0] >= len(scenes) * 64 * scale
        assert_not_blank(figure)
        # the ground-truth half is the scene with its annotation drawn over it
        # (mmseg colours the background class too)
        top, left = panel_origin([[figure]], ['x'], 0, 0)
        gt = figure[top:top + 64 * scale, left:left + 64 * scale].astype(int)
        raw = read_png(scenes[0]).repeat(scale, 0).repeat(scale, 1).astype(int)
        assert (np.abs(gt - raw).sum(-1) > 30).mean() > 0.05


def test_empty_directory_skips_everything(tmp_path):
    pictures = visualize_run(str(tmp_path), log=lambda msg: None)
    assert [p.path for p in pictures] == [None] * 5
    assert 'no training records' in pictures[0].note
    assert 'no config' in pictures[2].note
