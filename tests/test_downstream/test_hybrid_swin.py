"""HybridSwinTransformer: each library's Swin, loading our checkpoint with a report."""
import pytest
import torch
from mmdet.models.backbones import SwinTransformer as MMDetSwin
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.registry import DefaultScope
from mmpretrain.models.backbones import SwinTransformer as MMPretrainSwin
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmseg.models.backbones import SwinTransformer as MMSegSwin
from mmseg.registry import MODELS as MMSEG_MODELS

from mmhybrid.downstream import MissingBackboneKeysError, extract_backbone
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
