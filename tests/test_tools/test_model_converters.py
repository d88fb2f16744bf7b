"""tools/model_converters: extract_backbone.py and to_timm.py on a checkpoint with
HybridPretrain's layout (the demo Swin)."""
import re
import runpy
import sys
from pathlib import Path

import pytest
import torch
from timm.models.swin_transformer import SwinTransformer as TimmSwin

from tests.test_downstream.pretrain_checkpoints import (DEMO_CLASSES,
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
