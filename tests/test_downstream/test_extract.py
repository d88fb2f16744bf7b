"""extract_backbone: the online backbone only, in a layout all three libraries load."""
import pytest
import torch
from mmengine.config import ConfigDict
from mmdet.models.backbones import SwinTransformer as MMDetSwin
from mmpretrain.models.backbones import SwinTransformer as MMPretrainSwin
from mmseg.models.backbones import SwinTransformer as MMSegSwin

from mmhybrid.downstream import extract_backbone
from tests.test_downstream.pretrain_checkpoints import (DEMO_ARCH, DEMO_CLASSES,
                                                        pretrain_state_dict,
                                                        simmim_swin)


@pytest.fixture(scope='module')
def backbone():
    return simmim_swin()


@pytest.fixture(scope='module')
def extracted(backbone, tmp_path_factory):
    checkpoint = dict(meta=dict(dataset_meta=dict(classes=tuple(DEMO_CLASSES))),
                      state_dict=pretrain_state_dict(backbone))
    out, dropped = extract_backbone(checkpoint)
    path = tmp_path_factory.mktemp('extract') / 'backbone.pth'
    torch.save(out, path)
    return out, dropped, path


def test_keeps_the_online_backbone_only(backbone, extracted):
    out, dropped, _ = extracted
    sd = out['state_dict']
    expected = {'backbone.' + k for k in backbone.state_dict()
                if k != 'mask_token' and not k.endswith('relative_position_index')}
    assert set(sd) == expected
    for key, value in sd.items():  # the online weights, not the momentum copy
        assert torch.equal(value, backbone.state_dict()[key[len('backbone.'):]]), key
    num_blocks = sum(DEMO_ARCH['depths'])
    assert dropped == {
        'momentum_encoder': len(backbone.state_dict()) + 2,
        'backbone.mask_token': 1,
        'backbone.*.relative_position_index': num_blocks,
        'mim_neck': 1, 'mim_head': 1, 'con_neck': 1, 'con_head': 1, 'cls_head': 1,
        'balancer': 1}


def test_carries_label_names_and_loads_without_pickled_code(extracted):
    _, _, path = extracted
    loaded = torch.load(path, weights_only=True)
    assert loaded['meta']['dataset_meta']['classes'] == DEMO_CLASSES


def test_mask_token_kept_on_request(backbone):
    out, dropped = extract_backbone(dict(state_dict=pretrain_state_dict(backbone)),
                                    keep_mask_token=True)
    assert 'backbone.mask_token' in out['state_dict']
    assert 'backbone.mask_token' not in dropped
    assert 'dataset_meta' not in out['meta']


def test_a_checkpoint_without_backbone_is_refused():
    with pytest.raises(ValueError, match=r"no backbone\.\* keys.*'fc', 'layer1'"):
        extract_backbone(dict(state_dict={'layer1.weight': torch.ones(1),
                                          'fc.bias': torch.ones(1)}))


def _same_weights(model, backbone, skip=()):
    ours = backbone.state_dict()
    for key, value in model.state_dict().items():
        if key in skip or key.endswith('relative_position_index'):
            continue
        assert torch.equal(value, ours[key]), key


def test_stock_mmpretrain_swin_loads_it_with_prefix(backbone, extracted):
    _, _, path = extracted
    model = MMPretrainSwin(
        arch=DEMO_ARCH, img_size=64, pad_small_map=True,
        stage_cfgs=dict(block_cfgs=dict(window_size=4)),
        init_cfg=dict(type='Pretrained', checkpoint=str(path), prefix='backbone.'))
    model.init_weights()
    _same_weights(model, backbone)


@pytest.mark.parametrize('swin_cls', [MMDetSwin, MMSegSwin])
def test_stock_mmdet_and_mmseg_swin_load_it(swin_cls, backbone, extracted):
    _, _, path = extracted
    model = swin_cls(embed_dims=48, depths=[2, 2, 2, 2], num_heads=[3, 6, 12, 24],
                     window_size=4,
                     init_cfg=ConfigDict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    new = {f'norm{i}.{p}' for i in range(3) for p in ('weight', 'bias')}
    _same_weights(model, backbone, skip=new)
