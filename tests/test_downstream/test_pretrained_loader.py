"""load_pretrained_backbone: every backbone key loaded or declared new, else an error
naming the keys; other window sizes resized and reported."""
import pytest
import torch
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from mmpretrain.models.backbones import ResNet

from mmhybrid.downstream import (MissingBackboneKeysError, extract_backbone,
                                 load_pretrained_backbone)
from tests.test_downstream.pretrain_checkpoints import pretrain_state_dict, simmim_swin

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
