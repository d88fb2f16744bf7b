"""swin_to_timm: our Swin's weights in timm's SwinTransformer, same features."""
import pytest
import timm
import torch
from timm.models.swin_transformer import SwinTransformer as TimmSwin
from timm.models.swin_transformer import checkpoint_filter_fn

from mmhybrid.downstream import swin_to_timm, timm_swin_kwargs
from tests.test_downstream.pretrain_checkpoints import simmim_swin


def test_same_features_without_padding():
    # 128 px: stage maps 32, 16, 8, 4, all multiples of the window (no padding)
    backbone = simmim_swin(img_size=128, pad_small_map=False)
    kwargs = timm_swin_kwargs(backbone.state_dict())
    assert kwargs == dict(embed_dim=48, depths=(2, 2, 2, 2), num_heads=(3, 6, 12, 24),
                          window_size=4, patch_size=4)
    model = TimmSwin(img_size=128, num_classes=0, **kwargs).eval()
    model.load_state_dict(swin_to_timm(backbone.state_dict()), strict=True)
    x = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        ours = backbone(x, None)[0]
        theirs = model.forward_features(x).permute(0, 3, 1, 2)  # NHWC -> NCHW
    assert (ours - theirs).abs().max() < 1e-4


def test_timm_takes_the_headless_export_for_its_own_layout():
    """What requirements/runtime.txt pins timm for: the export has no classifier,
    and timm's Swin loader must still not take it for the original Swin layout
    (it would move every ``layers.i.downsample`` to ``layers.(i+1)``)."""
    backbone = simmim_swin(img_size=128)  # every stage map >= the window
    exported = swin_to_timm(backbone.state_dict())
    assert not [k for k in exported if k.startswith('head.')]
    model = TimmSwin(img_size=128, num_classes=0,
                     **timm_swin_kwargs(backbone.state_dict()))
    filtered = checkpoint_filter_fn(exported, model)
    assert list(filtered) == list(exported)
    for key, value in exported.items():
        assert torch.equal(filtered[key], value), key
    model.load_state_dict(filtered, strict=True)


def test_unmappable_keys_are_refused():
    backbone = simmim_swin()
    state_dict = dict(backbone.state_dict(), absolute_pos_embed=torch.zeros(1, 256, 48))
    with pytest.raises(ValueError, match="absolute_pos_embed"):
        swin_to_timm(state_dict)


def test_swin_b_loads_into_timms_named_model(swin_b_checkpoint, tmp_path):
    state_dict = torch.load(swin_b_checkpoint, weights_only=True)['state_dict']
    path = tmp_path / 'swin_b_timm.pth'
    torch.save(swin_to_timm(state_dict), path)
    # timm has no window-6 Swin-B entry: the window-7 one at 192 px with window 6
    model = timm.create_model('swin_base_patch4_window7_224', pretrained=True,
                              pretrained_cfg_overlay=dict(file=str(path)),
                              img_size=192, window_size=6, num_classes=0)
    key = 'layers.3.downsample.reduction.weight'
    assert torch.equal(model.state_dict()[key], torch.load(path)[key])
    assert torch.equal(model.state_dict()['norm.weight'],
                       state_dict['backbone.norm3.weight'])
