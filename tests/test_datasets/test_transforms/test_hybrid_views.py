"""HybridViews makes the named views HybridPretrain reads, and keeps labels as they are."""
import numpy as np
import pytest
from mmpretrain.registry import TRANSFORMS

CROP = [dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.5, 1.0)),
        dict(type='RandomFlip', prob=0.5)]
MASK = dict(type='SimMIMMaskGenerator', input_size=32, mask_patch_size=8,
            model_patch_size=4, mask_ratio=0.5)


def build(**kwargs):
    cfg = dict(type='HybridViews', view_pipelines=dict(masked=CROP, view1=CROP, view2=CROP),
               mask_generator=MASK)
    cfg.update(kwargs)
    return TRANSFORMS.build(cfg)


def image():
    return np.random.default_rng(0).integers(0, 255, (48, 40, 3), dtype=np.uint8)


def test_three_views_a_mask_and_labels_untouched():
    out = build()(dict(img=image(), gt_label=[1, 4]))
    assert out['view_names'] == ('masked', 'view1', 'view2')
    assert [v.shape for v in out['img']] == [(32, 32, 3)] * 3
    assert out['mask'].shape == (8, 8) and out['mask'].sum() == 32  # 50% of 64
    assert out['gt_label'] == [1, 4]


def test_unlabelled_stays_unlabelled_and_packs_with_view_names():
    out = build()(dict(img=image()))
    assert 'gt_label' not in out
    packed = TRANSFORMS.build(dict(type='PackInputs', meta_keys=('view_names', )))(out)
    assert len(packed['inputs']) == 3 and packed['inputs'][0].shape == (3, 32, 32)
    sample = packed['data_samples']
    assert 'gt_label' not in sample and sample.view_names == ('masked', 'view1', 'view2')
    assert tuple(sample.mask.shape) == (8, 8)


def test_views_subset_without_mask():
    out = build(views=('view1', 'view2'), mask_generator=None)(dict(img=image()))
    assert out['view_names'] == ('view1', 'view2') and 'mask' not in out


def test_masked_view_without_mask_generator_writes_no_mask():
    """The 'masked' crop serves unmasked passes too (multilabel / contrastive
    without MIM): no mask generator, no mask, the crop as usual."""
    out = build(views=('masked', ), mask_generator=None)(dict(img=image(), gt_label=[2]))
    assert out['view_names'] == ('masked', ) and 'mask' not in out
    assert [v.shape for v in out['img']] == [(32, 32, 3)]
    packed = TRANSFORMS.build(dict(type='PackInputs', meta_keys=('view_names', )))(out)
    assert 'mask' not in packed['data_samples']


def test_views_differ_by_their_own_augmentation():
    out = build()(dict(img=image()))
    assert not np.array_equal(out['img'][1], out['img'][2])


@pytest.mark.parametrize('kwargs,message', [
    (dict(views=('masked', 'view3')), 'unknown view names'),
    (dict(view_pipelines=dict(masked=CROP)), 'no pipeline given'),
])
def test_bad_configs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build(**kwargs)
