"""load_pretrained_backbone: every backbone key loaded or declared new, else an error
naming the keys; other window sizes resized and reported."""
import pytest
import torch
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from mmpretrain.models.backbones import ResNet
from mmpretrain.models.selfsup.simmim import SimMIMSwinTransformer
from mmpretrain.models.utils import resize_pos_embed
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS

from mmhybrid.downstream import (MissingBackboneKeysError, extract_backbone,
                                 load_pretrained_backbone)
from tests.test_downstream.pretrain_checkpoints import (DEMO_ARCH,
                                                        pretrain_state_dict,
                                                        simmim_swin)

NEW_NORMS = ['norm0.weight', 'norm0.bias', 'norm1.weight', 'norm1.bias',
             'norm2.weight', 'norm2.bias']


@pytest.fixture(scope='module')
def backbone():
    return simmim_swin()


def save_backbone(path, backbone, keep_mask_token=False, drop=()):
    out, _ = extract_backbone(dict(state_dict=pretrain_state_dict(backbone)),
                              keep_mask_token=keep_mask_token)
    for key in [k for k in out['state_dict'] if k.startswith(tuple(drop))]:
        del out['state_dict'][key]
    torch.save(out, path)
    return str(path)


def mmdet_swin(window_size=4, embed_dims=48):
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MMDET_MODELS.build(dict(
            type='HybridSwinTransformer', embed_dims=embed_dims, depths=[2, 2, 2, 2],
            num_heads=[3, 6, 12, 24], window_size=window_size))


def test_loads_all_but_the_declared_new_keys(backbone, tmp_path):
    path = save_backbone(tmp_path / 'b.pth', backbone)
    model = mmdet_swin()
    report = load_pretrained_backbone(model, path, expected_new_keys=NEW_NORMS)
    assert report.missing == [] and report.unexpected == [] and report.resized == []
    assert report.expected_new == NEW_NORMS
    assert len(report.loaded) == 119  # 125 non-derived keys - 6 new norms
    assert len(report.derived_buffers) == 8
    ours = backbone.state_dict()
    for key in report.loaded:
        assert torch.equal(model.state_dict()[key], ours[key]), key


def test_a_missing_stage_is_an_error_naming_its_keys(backbone, tmp_path):
    path = save_backbone(tmp_path / 'b.pth', backbone, drop=['backbone.stages.3.'])
    with pytest.raises(MissingBackboneKeysError) as error:
        load_pretrained_backbone(mmdet_swin(), path, expected_new_keys=NEW_NORMS)
    message = str(error.value)
    assert '26 of 125 backbone keys are not in' in message
    assert 'stages.3.blocks.1.ffn.layers.1.weight' in message
    assert 'stages.2.' not in message


def test_undeclared_new_keys_are_an_error(backbone, tmp_path):
    path = save_backbone(tmp_path / 'b.pth', backbone)
    with pytest.raises(MissingBackboneKeysError, match='norm0.weight'):
        load_pretrained_backbone(mmdet_swin(), path)


def test_a_resnet_checkpoint_is_an_error(tmp_path):
    resnet = ResNet(depth=18)
    path = tmp_path / 'resnet.pth'
    torch.save(dict(state_dict={'backbone.' + k: v
                                for k, v in resnet.state_dict().items()}), path)
    with pytest.raises(MissingBackboneKeysError) as error:
        load_pretrained_backbone(mmdet_swin(), str(path), expected_new_keys=NEW_NORMS)
    assert 'patch_embed.projection.weight' in str(error.value)
    assert '119 of 125 backbone keys' in str(error.value)


def test_a_checkpoint_without_the_prefix_says_so(backbone, tmp_path):
    path = tmp_path / 'plain.pth'
    torch.save(backbone.state_dict(), path)
    with pytest.raises(MissingBackboneKeysError,
                       match="no key in the checkpoint starts with 'backbone.'"):
        load_pretrained_backbone(mmdet_swin(), str(path), expected_new_keys=NEW_NORMS)
    # the same weights load with prefix=''
    report = load_pretrained_backbone(mmdet_swin(), str(path), prefix='',
                                      expected_new_keys=NEW_NORMS)
    assert report.unexpected == ['mask_token']


def test_expected_new_keys_must_exist(backbone, tmp_path):
    path = save_backbone(tmp_path / 'b.pth', backbone)
    with pytest.raises(ValueError, match=r"\['norm9.weight'\]"):
        load_pretrained_backbone(mmdet_swin(), path,
                                 expected_new_keys=NEW_NORMS + ['norm9.weight'])


def test_other_window_size_is_resized_and_logged(backbone, tmp_path):
    path = save_backbone(tmp_path / 'b.pth', backbone)
    log_file = tmp_path / 'load.log'
    MMLogger.get_instance('test_window_resize', log_file=str(log_file))
    model = mmdet_swin(window_size=7)
    report = load_pretrained_backbone(model, path, expected_new_keys=NEW_NORMS)
    assert report.missing == []
    tables = [r for r in report.resized if r[0].endswith('bias_table')]
    assert len(tables) == 8
    key, old, new, note = tables[0]
    assert key == 'stages.0.blocks.0.attn.w_msa.relative_position_bias_table'
    assert (old, new) == ((49, 3), (169, 3)) and note == 'window 4 -> 7, bicubic'
    # the centre of the table (relative offset 0) keeps its value
    ours = backbone.state_dict()[key].reshape(7, 7, 3)[3, 3]
    assert torch.allclose(model.state_dict()[key].reshape(13, 13, 3)[6, 6], ours)
    logged = log_file.read_text()
    assert ('resized stages.3.blocks.1.attn.w_msa.relative_position_bias_table: '
            '(49, 24) -> (169, 24) (window 4 -> 7, bicubic)') in logged
    assert 'missing 0' in logged and 'resized 8' in logged
    out = model(torch.randn(1, 3, 112, 112))  # and the model runs at window 7
    assert out[3].shape == (1, 384, 4, 4)


def test_an_unexpected_mask_token_is_reported(backbone, tmp_path):
    path = save_backbone(tmp_path / 'b.pth', backbone, keep_mask_token=True)
    report = load_pretrained_backbone(mmdet_swin(), path, expected_new_keys=NEW_NORMS)
    assert report.unexpected == ['mask_token']
    assert 'unexpected (in checkpoint, not in backbone, ignored): mask_token' in \
        report.summary()


def test_shape_mismatch_is_an_error(tmp_path):
    wide = simmim_swin(arch=dict(embed_dims=96, depths=[2, 2, 2, 2],
                                 num_heads=[3, 6, 12, 24]))
    path = save_backbone(tmp_path / 'b.pth', wide)
    with pytest.raises(ValueError, match=r'patch_embed.projection.weight: checkpoint '
                       r'\(96, 3, 4, 4\), backbone \(48, 3, 4, 4\)'):
        load_pretrained_backbone(mmdet_swin(), path, expected_new_keys=NEW_NORMS)


# ---- absolute position embedding at another image size ----------------------


@pytest.fixture(scope='module')
def abs_pos_checkpoint(tmp_path_factory):
    """A pre-training Swin with ``use_abs_pos_embed=True`` at 64 px (16x16 tokens)
    whose embedding holds its own grid position: channel 0 the row, channel 1 the
    column, the rest random."""
    backbone = SimMIMSwinTransformer(
        arch=DEMO_ARCH, img_size=64, use_abs_pos_embed=True, drop_path_rate=0.,
        stage_cfgs=dict(block_cfgs=dict(window_size=4)))
    rows, cols = torch.meshgrid(torch.arange(16.), torch.arange(16.), indexing='ij')
    with torch.no_grad():
        embed = torch.randn(1, 16, 16, 48)
        embed[..., 0], embed[..., 1] = rows, cols
        backbone.absolute_pos_embed.copy_(embed.reshape(1, 256, 48))
    path = tmp_path_factory.mktemp('abs_pos') / 'backbone.pth'
    return backbone.absolute_pos_embed.detach().clone(), save_backbone(path, backbone)


def mmpretrain_swin(img_size, **kwargs):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MMPRETRAIN_MODELS.build(dict(
            type='HybridSwinTransformer', arch=DEMO_ARCH, img_size=img_size,
            use_abs_pos_embed=True, pad_small_map=True,
            stage_cfgs=dict(block_cfgs=dict(window_size=4)),
            **kwargs))


def test_abs_pos_embed_same_grid_loads_unchanged(abs_pos_checkpoint):
    embed, path = abs_pos_checkpoint
    model = mmpretrain_swin(64)
    report = load_pretrained_backbone(model, path)
    assert report.resized == [] and 'absolute_pos_embed' in report.loaded
    assert torch.equal(model.absolute_pos_embed, embed)


@pytest.mark.parametrize('img_size,grid', [(128, (32, 32)), ((64, 96), (16, 24)),
                                           ((32, 128), (8, 32))])
def test_abs_pos_embed_is_resized_to_the_backbone_grid(abs_pos_checkpoint, img_size,
                                                       grid):
    """As mmpretrain's ``resize_pos_embed`` would, to ``patch_resolution``: also a
    non-square grid, and also 8x32, which has as many tokens as 16x16 (the shapes
    match, the layouts do not)."""
    embed, path = abs_pos_checkpoint
    model = mmpretrain_swin(img_size)
    assert model.patch_resolution == grid
    report = load_pretrained_backbone(model, path)
    num_tokens = grid[0] * grid[1]
    assert report.resized == [('absolute_pos_embed', (1, 256, 48), (1, num_tokens, 48),
                               f'grid 16x16 -> {grid[0]}x{grid[1]}, bicubic')]
    loaded = model.absolute_pos_embed.detach()
    expected = resize_pos_embed(embed, (16, 16), grid, 'bicubic', num_extra_tokens=0)
    assert torch.allclose(loaded, expected, atol=1e-6)
    # the layout: the row channel is constant along each row and grows downwards,
    # the column channel the other way round
    loaded = loaded.reshape(*grid, 48)
    assert torch.allclose(loaded[:, :, 0], loaded[:, :1, 0].expand(grid), atol=1e-5)
    assert torch.allclose(loaded[:, :, 1], loaded[:1, :, 1].expand(grid), atol=1e-5)
    assert (loaded[1:, 0, 0] > loaded[:-1, 0, 0]).all()
    assert (loaded[0, 1:, 1] > loaded[0, :-1, 1]).all()
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, grid[0] * 4, grid[1] * 4))
    assert out[-1].shape == (1, 384, grid[0] // 8, grid[1] // 8)
    assert torch.isfinite(out[-1]).all()


def test_abs_pos_embed_resized_for_mmdet(abs_pos_checkpoint):
    """mmdet's Swin adds the embedding unresized: it has to be loaded at the grid
    of ``pretrain_img_size``, here 128 px."""
    embed, path = abs_pos_checkpoint
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MMDET_MODELS.build(dict(
            type='HybridSwinTransformer', embed_dims=48, depths=[2, 2, 2, 2],
            num_heads=[3, 6, 12, 24], window_size=4, pretrain_img_size=128,
            use_abs_pos_embed=True))
    report = load_pretrained_backbone(model, path, expected_new_keys=NEW_NORMS)
    assert [r[0] for r in report.resized] == ['absolute_pos_embed']
    assert report.resized[0][3] == 'grid 16x16 -> 32x32, bicubic'
    expected = resize_pos_embed(embed, (16, 16), (32, 32), 'bicubic', 0)
    assert torch.allclose(model.absolute_pos_embed, expected, atol=1e-6)
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 128, 128))
    assert torch.isfinite(out[-1]).all()


def test_abs_pos_embed_of_an_unknown_grid_is_an_error(abs_pos_checkpoint):
    """mmdet's Swin keeps no grid: 16x24 tokens cannot be told from 24x16."""
    _, path = abs_pos_checkpoint
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MMDET_MODELS.build(dict(
            type='HybridSwinTransformer', embed_dims=48, depths=[2, 2, 2, 2],
            num_heads=[3, 6, 12, 24], window_size=4, pretrain_img_size=(64, 96),
            use_abs_pos_embed=True))
    with pytest.raises(ValueError, match=r'absolute_pos_embed: checkpoint '
                       r'\(1, 256, 48\), backbone \(1, 384, 48\); the backbone '
                       r'token count is not a square grid'):
        load_pretrained_backbone(model, path, expected_new_keys=NEW_NORMS)
