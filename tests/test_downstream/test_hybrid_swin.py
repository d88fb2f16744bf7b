"""HybridSwinTransformer: each library's Swin, loading our checkpoint with a report."""
import pytest
import torch
from mmdet.models.backbones import SwinTransformer as MMDetSwin
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from mmpretrain.models.backbones import SwinTransformer as MMPretrainSwin
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmseg.models.backbones import SwinTransformer as MMSegSwin
from mmseg.registry import MODELS as MMSEG_MODELS

from mmhybrid.downstream import MissingBackboneKeysError, extract_backbone
from mmhybrid.downstream.pretrained_loader import resize_rel_pos_bias_table
from tests.test_downstream.pretrain_checkpoints import (DEMO_ARCH,
                                                        pretrain_state_dict,
                                                        simmim_swin)

NEW_NORMS = ['norm0.weight', 'norm0.bias', 'norm1.weight', 'norm1.bias',
             'norm2.weight', 'norm2.bias']
LIBRARIES = [(MMPRETRAIN_MODELS, MMPretrainSwin), (MMDET_MODELS, MMDetSwin),
             (MMSEG_MODELS, MMSegSwin)]


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory):
    backbone = simmim_swin()
    out, _ = extract_backbone(dict(state_dict=pretrain_state_dict(backbone)))
    path = tmp_path_factory.mktemp('hybrid_swin') / 'backbone.pth'
    torch.save(out, path)
    return backbone, str(path)


def build(registry, init_cfg=None, **kwargs):
    if registry is MMPRETRAIN_MODELS:
        args = dict(arch=DEMO_ARCH, img_size=64, pad_small_map=True,
                    stage_cfgs=dict(block_cfgs=dict(window_size=4)))
    else:
        args = dict(embed_dims=48, depths=[2, 2, 2, 2], num_heads=[3, 6, 12, 24],
                    window_size=4)
    args.update(kwargs)
    with DefaultScope.overwrite_default_scope(registry.scope):
        return registry.build(dict(type='HybridSwinTransformer', init_cfg=init_cfg,
                                   **args))


@pytest.mark.parametrize('registry,swin_cls', LIBRARIES)
def test_registered_as_each_librarys_swin(registry, swin_cls):
    model = build(registry)
    assert isinstance(model, swin_cls)
    model.init_weights()  # without a checkpoint: the library's own init
    assert model.load_report is None


@pytest.mark.parametrize('registry,swin_cls', LIBRARIES)
def test_loads_with_a_report(registry, swin_cls, pretrained):
    backbone, path = pretrained
    new = [] if registry is MMPRETRAIN_MODELS else NEW_NORMS
    model = build(registry, dict(type='HybridPretrained', checkpoint=path,
                                 expected_new_keys=new))
    model.init_weights()
    report = model.load_report
    assert report.missing == [] and report.expected_new == new
    assert len(report.loaded) == 119
    # the stock 'Pretrained' type cannot bypass the report either
    stock = build(registry, dict(type='Pretrained', checkpoint=path,
                                 expected_new_keys=new))
    stock.init_weights()
    assert stock.load_report.loaded == report.loaded


def test_same_features_as_the_pretraining_backbone(pretrained):
    backbone, path = pretrained
    x = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        expected = backbone(x, None)[0]
    for registry, _ in LIBRARIES:
        new = [] if registry is MMPRETRAIN_MODELS else NEW_NORMS
        model = build(registry, dict(type='HybridPretrained', checkpoint=path,
                                     expected_new_keys=new))
        model.init_weights()
        model.eval()
        with torch.no_grad():
            out = model(x)[-1]
        assert torch.allclose(out, expected, atol=1e-5), registry.scope


def test_missing_keys_stop_the_build(pretrained):
    _, path = pretrained
    model = build(MMSEG_MODELS, dict(type='HybridPretrained', checkpoint=path))
    with pytest.raises(MissingBackboneKeysError, match='norm2.bias'):
        model.init_weights()


def test_init_cfg_mistakes_are_named(pretrained):
    _, path = pretrained
    with pytest.raises(ValueError, match='needs a checkpoint path'):
        build(MMDET_MODELS, dict(type='HybridPretrained', checkpoint='')).init_weights()
    with pytest.raises(TypeError, match='expected_new_key'):
        build(MMDET_MODELS, dict(type='HybridPretrained', checkpoint=path,
                                 expected_new_key=NEW_NORMS)).init_weights()


def test_mmpretrain_at_another_window_size(pretrained, tmp_path):
    """Pre-trained at window 4, fine-tuned with mmpretrain's Swin at window 7: the
    relative position bias tables are resized by the loader (bicubic, as for mmdet
    and mmseg; mmpretrain's own load hook, which interpolates differently, is not
    reached) and listed in the report and the log."""
    backbone, path = pretrained
    log_file = tmp_path / 'load.log'
    MMLogger.get_instance('test_mmpretrain_window_7', log_file=str(log_file))
    model = build(MMPRETRAIN_MODELS, dict(type='HybridPretrained', checkpoint=path),
                  stage_cfgs=dict(block_cfgs=dict(window_size=7)))
    model.init_weights()
    report = model.load_report
    assert report.missing == [] and report.unexpected == []
    assert len(report.loaded) == 119
    tables = sorted(r[0] for r in report.resized)
    assert tables == sorted(k for k in model.state_dict()
                            if k.endswith('relative_position_bias_table'))
    assert len(tables) == 8
    source = backbone.state_dict()
    for key, old, new, note in report.resized:
        heads = source[key].shape[1]
        assert (old, new, note) == ((49, heads), (169, heads), 'window 4 -> 7, bicubic')
        loaded = model.state_dict()[key]
        assert torch.allclose(loaded, resize_rel_pos_bias_table(source[key], 169))
        # relative offset 0 keeps its value (bicubic at a source sample point)
        assert torch.allclose(loaded.reshape(13, 13, heads)[6, 6],
                              source[key].reshape(7, 7, heads)[3, 3], atol=1e-5)
    # the other weights are the pre-trained ones, and the window is 7
    assert torch.equal(model.state_dict()['stages.2.blocks.1.ffn.layers.1.weight'],
                       source['stages.2.blocks.1.ffn.layers.1.weight'])
    assert model.stages[0].blocks[0].attn.w_msa.window_size == (7, 7)
    assert model.stages[0].blocks[0].attn.w_msa.relative_position_index.shape == \
        (49, 49)
    logged = log_file.read_text()
    assert 'resized 8' in logged
    assert ('resized stages.3.blocks.1.attn.w_msa.relative_position_bias_table: '
            '(49, 24) -> (169, 24) (window 4 -> 7, bicubic)') in logged
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 112, 112))
    assert out[-1].shape == (2, 384, 4, 4)
    assert torch.isfinite(out[-1]).all()
