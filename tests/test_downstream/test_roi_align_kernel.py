"""The demo Mask R-CNN configs run RoIAlign on torchvision's kernel, which gives
mmcv's outputs and gradients at a fraction of its CPU time
(tools/benchmarks/roi_align_cost.py)."""
from pathlib import Path

import pytest
import torch
from mmcv.ops import RoIAlign
from mmengine.config import Config

DEMO = Path(__file__).resolve().parents[2] / 'configs' / 'benchmarks' / 'demo'


@pytest.mark.parametrize('output_size,sampling_ratio', [(7, 2), (14, 2), (7, 0)])
def test_torchvision_kernel_matches_mmcv(output_size, sampling_ratio):
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(2, 8, 16, 16, generator=gen)
    xy = torch.rand(40, 2, generator=gen) * 40
    rois = torch.cat([torch.randint(0, 2, (40, 1), generator=gen).float(), xy,
                      xy + torch.rand(40, 2, generator=gen) * 20 + 1], 1)
    results = []
    for torchvision in (False, True):
        x = feats.clone().requires_grad_()
        out = RoIAlign(output_size, spatial_scale=0.25, sampling_ratio=sampling_ratio,
                       aligned=True,
                       use_torchvision=torchvision)(x, rois)
        weight = torch.arange(out.numel(), dtype=out.dtype).reshape(out.shape) % 7 - 3
        (out * weight).sum().backward()
        results.append((out.detach(), x.grad))
    (out_mmcv, grad_mmcv), (out_tv, grad_tv) = results
    assert out_mmcv.abs().sum() > 0 and grad_mmcv.abs().sum() > 0
    torch.testing.assert_close(out_tv, out_mmcv, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad_tv, grad_mmcv, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('name', sorted(p.name for p in DEMO.glob('mask-rcnn_*.py')))
def test_demo_mask_rcnn_configs_use_the_torchvision_kernel(name):
    roi_head = Config.fromfile(str(DEMO / name)).model.roi_head
    for extractor in (roi_head.bbox_roi_extractor, roi_head.mask_roi_extractor):
        assert extractor.roi_layer.type == 'RoIAlign'
        assert extractor.roi_layer.use_torchvision is True
