"""The OpenMMLab stack installed by `make install` imports and works together."""
import numpy as np
import pytest
import torch


def test_versions():
    import mmcv
    import mmdet
    import mmengine
    import mmpretrain
    import mmseg
    assert mmengine.__version__ == '0.10.7'
    assert mmcv.__version__ == '2.1.0'
    assert mmpretrain.__version__ == '1.2.0'
    assert mmdet.__version__ == '3.3.0'
    assert mmseg.__version__ == '1.2.2'
    assert np.__version__.startswith('2.')
    import timm  # noqa: F401
    import pycocotools  # noqa: F401


def test_mmcv_nms_known_case():
    from mmcv.ops import nms
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    dets, keep = nms(boxes, scores, iou_threshold=0.5)
    # box 1 overlaps box 0 with IoU 81/100 > 0.5 and is suppressed
    assert keep.tolist() == [0, 2]
    assert torch.allclose(dets[:, 4], torch.tensor([0.9, 0.7]))


def test_mmcv_roi_align_matches_torchvision():
    from mmcv.ops import roi_align
    from torchvision.ops import roi_align as tv_roi_align
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(2, 4, 16, 16, generator=g)
    rois = torch.tensor([[0, 1.0, 1.0, 9.0, 9.0], [1, 2.5, 3.0, 14.0, 12.5]])
    ours = roi_align(feats, rois, (5, 5), 0.5, 2, 'avg', True)
    ref = tv_roi_align(feats, rois, (5, 5), 0.5, 2, aligned=True)
    assert torch.allclose(ours, ref, atol=1e-5)
    # on a constant map every bin averages to the constant
    const = roi_align(torch.full((1, 1, 8, 8), 3.0), rois[:1] * torch.tensor([0, .5, .5, .5, .5]),
                      (2, 2), 1.0, 2, 'avg', True)
    assert torch.allclose(const, torch.full_like(const, 3.0))


def test_numpy2_hue_patch_in_mmcv():
    """mmcv's adjust_hue overflowed under numpy 2 for negative hue factors."""
    import mmcv
    img = np.random.default_rng(0).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    out = mmcv.adjust_hue(img, -0.1)
    assert out.shape == img.shape and out.dtype == np.uint8


def test_modules_registered_in_mmpretrain_registries():
    import mmhybrid  # noqa: F401
    from mmpretrain.registry import DATA_SAMPLERS, DATASETS, MODELS, TRANSFORMS
    assert MODELS.get('HybridPretrain') is not None
    assert MODELS.get('PartialMultiLabelLinearClsHead') is not None
    assert MODELS.get('UncertaintyTaskWeights') is not None
    assert TRANSFORMS.get('HybridViews') is not None
    assert TRANSFORMS.get('LoadImageRobust') is not None
    assert DATASETS.get('PartialMultiLabelDataset') is not None
    assert DATA_SAMPLERS.get('RatioSampler') is not None
    # found from mmpretrain's scope, as configs with default_scope='mmpretrain' do
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        assert MODELS.build(dict(type='FixedTaskWeights', tasks=['mim'])).tasks == ('mim', )


def test_patch_script_fails_loudly_on_unknown_sdist(tmp_path):
    import subprocess
    import sys
    (tmp_path / 'setup.py').write_text("extra_compile_args = ['-std=c++14']\n")
    (tmp_path / 'mmcv' / 'image').mkdir(parents=True)
    (tmp_path / 'mmcv' / 'image' / 'photometric.py').write_text('x = 1\n')
    proc = subprocess.run([sys.executable, 'tools/install/patch_mmcv_sdist.py', str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert 'setup.py' in proc.stderr and '-std=c++17' in proc.stderr


def test_patch_script_patches_and_is_idempotent(tmp_path):
    import subprocess
    import sys
    (tmp_path / 'setup.py').write_text("args = ['-std=c++17']\n")
    (tmp_path / 'mmcv' / 'image').mkdir(parents=True)
    photometric = tmp_path / 'mmcv' / 'image' / 'photometric.py'
    photometric.write_text('h += np.uint8(hue_factor * 255)\n')
    for _ in range(2):
        proc = subprocess.run([sys.executable, 'tools/install/patch_mmcv_sdist.py', str(tmp_path)],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    assert '-std=c++20' in (tmp_path / 'setup.py').read_text()
    assert 'np.uint8(int(hue_factor * 255) % 256)' in photometric.read_text()


def test_local_checkpoints_load_on_new_torch(tmp_path):
    """mmengine checkpoints hold HistoryBuffer etc.; torch>=2.6 refuses them by
    default, also with mmhybrid imported; inside safe_mmengine_checkpoints()
    mmengine's own loader accepts them, with weights_only still on."""
    from mmengine.logging import HistoryBuffer
    from mmengine.runner.checkpoint import _load_checkpoint

    from mmhybrid.utils.checkpoint_loading import safe_mmengine_checkpoints
    path = tmp_path / 'ckpt.pth'
    torch.save({'meta': {'hist': HistoryBuffer([1.0, 2.0], [1, 1]), 'np': np.float64(1.5)},
                'state_dict': {'w': torch.ones(2)}}, path)
    with pytest.raises(Exception, match='Weights only load failed'):
        _load_checkpoint(str(path), map_location='cpu')
    with safe_mmengine_checkpoints():
        ckpt = _load_checkpoint(str(path), map_location='cpu')
    assert ckpt['meta']['np'] == 1.5 and torch.equal(ckpt['state_dict']['w'], torch.ones(2))
