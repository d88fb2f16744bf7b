"""tools/model_converters: extract_backbone.py and to_timm.py on a checkpoint with
HybridPretrain's layout (the demo Swin), as trained and fitted to another window
(``--window-size``) or image size (``--img-size``). The stock configs' side is in
tests/test_downstream/test_stock_configs.py."""
import re
import runpy
import sys
from pathlib import Path

import pytest
import torch
from mmdet.models.backbones.swin import WindowMSA as MMDetWindowMSA
from mmengine.registry import DefaultScope
from mmpretrain.models.selfsup.simmim import SimMIMSwinTransformer
from mmpretrain.models.utils.attention import WindowMSA as MMPretrainWindowMSA
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmseg.models.backbones.swin import WindowMSA as MMSegWindowMSA
from timm.models.swin_transformer import SwinTransformer as TimmSwin
from timm.models.swin_transformer import \
    checkpoint_filter_fn as timm_checkpoint_filter_fn

from mmhybrid.downstream import load_pretrained_backbone, relative_position_index
from mmhybrid.downstream.pretrained_loader import resize_rel_pos_bias_table
from tests.test_downstream.pretrain_checkpoints import (DEMO_ARCH, DEMO_CLASSES,
                                                        save_pretrain_checkpoint,
                                                        simmim_swin)

TOOLS = Path(__file__).resolve().parents[2] / 'tools' / 'model_converters'


def run_converter(tool, args, monkeypatch, capsys):
    monkeypatch.setattr(sys, 'argv', [tool] + [str(a) for a in args])
    runpy.run_path(str(TOOLS / tool), run_name='__main__')
    return capsys.readouterr().out


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory):
    backbone = simmim_swin()  # 64 px, window 4, pad_small_map=True: the demo Swin
    path = tmp_path_factory.mktemp('converters') / 'iter_2.pth'
    return backbone, save_pretrain_checkpoint(path, backbone)


def test_extract_backbone_prints_counts_and_keeps_labels(pretrained, tmp_path,
                                                         monkeypatch, capsys):
    backbone, checkpoint = pretrained
    out = tmp_path / 'sub' / 'backbone.pth'
    printed = run_converter('extract_backbone.py', [checkpoint, out], monkeypatch,
                            capsys)
    num_backbone = len(backbone.state_dict())  # 128: incl. mask token, 8 index buffers
    assert f'kept {num_backbone - 9} backbone keys, dropped ' in printed
    assert re.search(rf'dropped\s+{num_backbone + 2} momentum_encoder', printed)
    assert re.search(r'dropped\s+1 backbone.mask_token', printed)
    assert 'label names: 10' in printed
    saved = torch.load(out, weights_only=True)
    assert len(saved['state_dict']) == num_backbone - 9
    assert all(k.startswith('backbone.') for k in saved['state_dict'])
    assert saved['meta']['dataset_meta']['classes'] == DEMO_CLASSES

    printed = run_converter('extract_backbone.py',
                            [checkpoint, tmp_path / 'with_token.pth',
                             '--keep-mask-token'], monkeypatch, capsys)
    assert f'kept {num_backbone - 8} backbone keys' in printed
    assert 'mask_token' not in printed


def test_to_timm_gives_the_same_features(pretrained, tmp_path, monkeypatch, capsys):
    backbone, checkpoint = pretrained
    out = tmp_path / 'timm.pth'
    printed = run_converter('to_timm.py', [checkpoint, out], monkeypatch, capsys)
    assert ('timm arguments: embed_dim=48, depths=(2, 2, 2, 2), '
            'num_heads=(3, 6, 12, 24), window_size=4, patch_size=4') in printed
    # pad_small_map=True (the 2x2 last stage padded to the window) is timm's
    # always_partition=True
    model = TimmSwin(img_size=64, num_classes=0, always_partition=True, embed_dim=48,
                     depths=(2, 2, 2, 2), num_heads=(3, 6, 12, 24), window_size=4)
    model.load_state_dict(torch.load(out, weights_only=True), strict=True)
    model.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ours = backbone(x, None)[0]  # NCHW after norm3
        theirs = model.forward_features(x).permute(0, 3, 1, 2)  # NHWC after norm
    assert ours.shape == theirs.shape == (2, 384, 2, 2)
    assert (ours - theirs).abs().max() < 1e-4


def test_extract_backbone_window_size(pretrained, tmp_path, monkeypatch, capsys):
    """``--window-size 7``: the 8 tables of the demo Swin (window 4) resized by the
    loader's function and printed, an index buffer for window 7 beside each, the
    rest as trained; a plain dict of tensors and simple meta."""
    backbone, checkpoint = pretrained
    out = tmp_path / 'backbone_w7.pth'
    printed = run_converter('extract_backbone.py',
                            [checkpoint, out, '--window-size', '7'], monkeypatch,
                            capsys)
    assert ('window 7: resized 8 relative_position_bias_tables, wrote 8 '
            'relative_position_index buffers for window 7') in printed
    assert printed.count('(window 4 -> 7, bicubic)') == 8
    assert ('  resized backbone.stages.3.blocks.1.attn.w_msa.relative_position_bias'
            '_table: (49, 24) -> (169, 24) (window 4 -> 7, bicubic)') in printed
    saved = torch.load(out, weights_only=True)
    assert saved['meta']['window_size'] == 7
    source = backbone.state_dict()
    for key, value in saved['state_dict'].items():
        key = key[len('backbone.'):]
        if key.endswith('relative_position_bias_table'):
            assert torch.equal(value, resize_rel_pos_bias_table(source[key], 169))
        elif key.endswith('relative_position_index'):
            assert torch.equal(value, relative_position_index(7))
        else:
            assert torch.equal(value, source[key]), key
    # the same window as trained: no table resized, index buffers still written
    printed = run_converter('extract_backbone.py', [checkpoint, tmp_path / 'w4.pth',
                                                    '--window-size', '4'],
                            monkeypatch, capsys)
    assert 'resized 0 relative_position_bias_tables, wrote 8' in printed
    assert 'resized backbone.' not in printed


def test_relative_position_index_is_the_libraries_own():
    for window in (4, 6, 7, 12):
        ours = relative_position_index(window)
        assert torch.equal(ours, MMPretrainWindowMSA(
            48, (window, window), 3).relative_position_index)
        assert torch.equal(ours, MMDetWindowMSA(48, 3, (window, window))
                           .relative_position_index)
        assert torch.equal(ours, MMSegWindowMSA(48, 3, (window, window))
                           .relative_position_index)


def test_extract_backbone_img_size(tmp_path, monkeypatch, capsys):
    """``--img-size``: an absolute position embedding resized to the token grid as
    the loader resizes it for mmpretrain's Swin at that size."""
    backbone = SimMIMSwinTransformer(
        arch=DEMO_ARCH, img_size=64, use_abs_pos_embed=True, drop_path_rate=0.,
        stage_cfgs=dict(block_cfgs=dict(window_size=4)))
    with torch.no_grad():
        backbone.absolute_pos_embed.normal_()
    checkpoint = save_pretrain_checkpoint(tmp_path / 'abs.pth', backbone)
    out = tmp_path / 'backbone_128.pth'
    printed = run_converter('extract_backbone.py',
                            [checkpoint, out, '--img-size', '128'], monkeypatch,
                            capsys)
    assert ('  resized backbone.absolute_pos_embed: (1, 256, 48) -> (1, 1024, 48) '
            '(grid 16x16 -> 32x32, bicubic)') in printed
    saved = torch.load(out, weights_only=True)['state_dict']
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        ours = MMPRETRAIN_MODELS.build(dict(
            type='HybridSwinTransformer', arch=DEMO_ARCH, img_size=128,
            use_abs_pos_embed=True, stage_cfgs=dict(block_cfgs=dict(window_size=4))))
    load_pretrained_backbone(ours, str(checkpoint))
    assert torch.equal(saved['backbone.absolute_pos_embed'], ours.absolute_pos_embed)
    printed = run_converter('extract_backbone.py', [pretrained_demo(tmp_path),
                                                    tmp_path / 'x.pth', '--img-size',
                                                    '128'], monkeypatch, capsys)
    assert 'no absolute_pos_embed in the checkpoint, nothing to resize' in printed


def pretrained_demo(tmp_path):
    return save_pretrain_checkpoint(tmp_path / 'demo.pth', simmim_swin())


def test_to_timm_window_size(pretrained, tmp_path, monkeypatch, capsys):
    """timm's ``load_state_dict`` does not resize a table of another window, and
    ``create_model``'s filter resizes it its own way: ``--window-size 7`` gives timm
    the tables our loader gives mmpretrain's Swin at window 7, the same features,
    and a filter that leaves them alone."""
    _, checkpoint = pretrained
    # 224 px: stage maps 56, 28, 14, 7, multiples of the window (timm and
    # mmpretrain pad a map that is not in different ways)
    args = dict(img_size=224, num_classes=0, always_partition=True, embed_dim=48,
                depths=(2, 2, 2, 2), num_heads=(3, 6, 12, 24), window_size=7)
    as_trained = tmp_path / 'timm.pth'
    run_converter('to_timm.py', [checkpoint, as_trained], monkeypatch, capsys)
    with pytest.raises(RuntimeError, match='size mismatch for layers.0.blocks.0.'
                       r'attn.relative_position_bias_table.*\[49, 3\].*\[169, 3\]'):
        TimmSwin(**args).load_state_dict(torch.load(as_trained, weights_only=True))
    out = tmp_path / 'timm_w7.pth'
    printed = run_converter('to_timm.py', [checkpoint, out, '--window-size', '7'],
                            monkeypatch, capsys)
    assert 'window 7: resized 8 relative position bias tables' in printed
    assert 'window_size=7, patch_size=4' in printed
    exported = torch.load(out, weights_only=True)
    model = TimmSwin(**args).eval()
    filtered = timm_checkpoint_filter_fn(exported, model)
    assert all(torch.equal(filtered[k], v) for k, v in exported.items())
    model.load_state_dict(exported, strict=True)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        ours = MMPRETRAIN_MODELS.build(dict(
            type='HybridSwinTransformer', arch=DEMO_ARCH, img_size=224,
            pad_small_map=True, stage_cfgs=dict(block_cfgs=dict(window_size=7)),
            init_cfg=dict(type='HybridPretrained', checkpoint=str(checkpoint))))
    ours.init_weights()
    assert len(ours.load_report.resized) == 8
    ours.eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        mine = ours(x)[0]
        theirs = model.forward_features(x).permute(0, 3, 1, 2)
    assert mine.shape == theirs.shape == (1, 384, 7, 7)
    assert (mine - theirs).abs().max() < 1e-4
