"""HybridPretrain against mmpretrain's single-task models, and its own contract."""
import copy

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmpretrain.registry import MODELS

from tests.test_models import tiny_models as tm


def build_hybrid(**kwargs):
    cfg = dict(type='HybridPretrain', backbone=tm.swin())
    cfg.update(kwargs)
    return MODELS.build(cfg)


def load_renamed(dst, src, mapping):
    """Copy ``src``'s state into ``dst`` with key prefixes renamed; all of ``dst``
    except the explicitly allowed keys must be covered."""
    state = {}
    for key, value in src.state_dict().items():
        for old, new in mapping.items():
            if key.startswith(old):
                key = new + key[len(old):]
                break
        state[key] = value
    missing, unexpected = dst.load_state_dict(state, strict=False)
    assert not unexpected, unexpected
    return [k for k in missing if k != 'num_skipped_steps']  # ours only


def test_mim_only_equals_simmim():
    simmim = MODELS.build(dict(type='SimMIM', backbone=tm.swin(), **tm.mim()))
    hybrid = build_hybrid(mim=tm.mim())
    missing = load_renamed(hybrid, simmim, {'neck.': 'mim_neck.', 'head.': 'mim_head.'})
    assert missing == []
    inputs, samples = tm.batch(views=1)
    ref = simmim.loss(inputs[0], samples)['loss']
    out = hybrid.loss(inputs, samples)
    assert torch.allclose(out['loss_mim'], ref, atol=1e-6)
    assert torch.allclose(out['raw_mim'], ref, atol=1e-6)
    assert set(out) == {'loss_mim', 'raw_mim', 'weight_mim'}


@pytest.mark.parametrize('view_mode', ['separate'])
def test_contrastive_only_equals_mocov3(max_iters, view_mode):
    con = tm.contrastive()
    mocov3 = MODELS.build(dict(type='MoCoV3', backbone=tm.swin('SwinTransformer'),
                               neck=con['neck'], head=con['head'],
                               base_momentum=con['base_momentum']))
    hybrid = build_hybrid(contrastive=con, view_mode=view_mode)
    missing = load_renamed(hybrid, mocov3, {'neck.': 'con_neck.', 'head.': 'con_head.'})
    # SimMIM's mask token exists only in ours (online and momentum copies).
    assert sorted(missing) == ['backbone.mask_token',
                               'momentum_encoder.module.0.mask_token']
    (v1, v2), samples = tm.batch(views=2)
    mocov3.train(), hybrid.train()
    ref = mocov3.loss([v1, v2], samples)['loss']
    out = hybrid.loss([v1, v2], [s.set_metainfo(dict(view_names=('view1', 'view2')))
                                 or s for s in samples])
    assert torch.allclose(out['loss_contrastive'], ref, atol=1e-6)
    # the momentum encoders moved identically
    for (k, a), b in zip(mocov3.momentum_encoder.state_dict().items(),
                         [v for k2, v in hybrid.momentum_encoder.state_dict().items()
                          if 'mask_token' not in k2]):
        assert torch.allclose(a, b, atol=1e-6), k


def test_multilabel_only_equals_image_classifier():
    ml = tm.multilabel('MultiLabelLinearClsHead')
    classifier = MODELS.build(dict(type='ImageClassifier', backbone=tm.swin('SwinTransformer'),
                                   neck=ml['neck'], head=ml['head']))
    hybrid = build_hybrid(multilabel=tm.multilabel())
    missing = load_renamed(hybrid, classifier, {'head.': 'cls_head.'})
    assert missing == ['backbone.mask_token']
    inputs, samples = tm.batch(views=1)
    ref = classifier.loss(inputs[0], samples)['loss']
    out = hybrid.loss(inputs, samples)
    assert torch.allclose(out['loss_multilabel'], ref, atol=1e-6)


def all_tasks(**kwargs):
    return build_hybrid(mim=tm.mim(), contrastive=tm.contrastive(),
                        multilabel=tm.multilabel(), **kwargs)


def named(samples, names):
    for s in samples:
        s.set_metainfo(dict(view_names=names))
    return samples


def count_passes(model, inputs, samples):
    """Number of (online, momentum) backbone forward passes in one loss call."""
    calls = {'online': 0, 'momentum': 0}
    h1 = model.backbone.register_forward_hook(
        lambda *a: calls.__setitem__('online', calls['online'] + 1))
    h2 = model.momentum_encoder.module[0].register_forward_hook(
        lambda *a: calls.__setitem__('momentum', calls['momentum'] + 1))
    model.loss(inputs, samples)
    h1.remove(), h2.remove()
    return calls['online'], calls['momentum']


@pytest.mark.parametrize('view_mode,symmetric,passes', [
    ('shared', False, (1, 1)), ('shared', True, (2, 2)), ('separate', False, (3, 2))])
def test_backbone_passes_per_view_mode(max_iters, view_mode, symmetric, passes):
    model = all_tasks(view_mode=view_mode, symmetric=symmetric)
    inputs, samples = tm.batch(views=3)
    samples = named(samples, ('masked', 'view1', 'view2'))
    assert count_passes(model, inputs, samples) == passes


@pytest.mark.parametrize('view_mode', ['shared', 'separate'])
@pytest.mark.parametrize('balancer', ['FixedTaskWeights', 'UncertaintyTaskWeights'])
def test_train_step_updates_all_state(max_iters, view_mode, balancer):
    model = all_tasks(view_mode=view_mode, loss_balancer=dict(type=balancer))
    inputs, samples = tm.batch(views=3)
    data = dict(inputs=inputs, data_samples=named(samples, ('masked', 'view1', 'view2')))
    before = copy.deepcopy(model.state_dict())
    wrapper = build_optim_wrapper(model, dict(optimizer=dict(type='AdamW', lr=1e-3)))
    # step 1 copies the online weights into the momentum encoder (CosineEMA's
    # first update), step 2 moves it towards the updated online weights.
    model.train_step(data, wrapper)
    log = model.train_step(data, wrapper)
    after = model.state_dict()
    for task in ('mim', 'contrastive', 'multilabel'):
        assert torch.isfinite(log[f'raw_{task}']) and f'weight_{task}' in log
    changed = lambda k: not torch.equal(before[k], after[k])  # noqa: E731
    assert changed('backbone.patch_embed.projection.weight')
    assert changed('momentum_encoder.module.0.patch_embed.projection.weight')
    assert int(after['momentum_encoder.steps']) == 2
    assert changed('mim_neck.decoder.0.weight') and changed('cls_head.fc.weight')
    if balancer == 'UncertaintyTaskWeights':
        assert changed('balancer.log_vars')
    # the momentum encoder is an EMA, not a copy of the online weights
    assert not torch.equal(after['backbone.patch_embed.projection.weight'],
                           after['momentum_encoder.module.0.patch_embed.projection.weight'])


def test_missing_view_is_a_clear_error(max_iters):
    model = all_tasks(view_mode='separate')
    inputs, samples = tm.batch(views=2)
    with pytest.raises(ValueError, match=r"missing \['view2'\]"):
        model.loss(inputs, named(samples, ('masked', 'view1')))


def test_mask_token_frozen_without_mim():
    model = build_hybrid(contrastive=tm.contrastive())
    assert not model.backbone.mask_token.requires_grad


def test_unlabelled_batch_gives_zero_label_loss(max_iters):
    model = all_tasks()
    inputs, samples = tm.batch(views=3, labels=(None, ))
    out = model.loss(inputs, named(samples, ('masked', 'view1', 'view2')))
    assert out['raw_multilabel'].item() == 0.0
    assert all(torch.isfinite(v) for v in out.values())


def test_predict_gives_multilabel_scores():
    model = build_hybrid(mim=tm.mim(), multilabel=tm.multilabel()).eval()
    inputs, samples = tm.batch(views=1)
    with torch.no_grad():
        out = model(inputs, samples, mode='predict')
    assert len(out) == 4 and out[0].pred_score.shape == (tm.NUM_CLASSES, )
    assert ((out[0].pred_score >= 0) & (out[0].pred_score <= 1)).all()  # sigmoid


def test_predict_needs_the_label_head():
    with pytest.raises(RuntimeError, match='multilabel'):
        build_hybrid(mim=tm.mim()).predict(torch.zeros(1, 3, tm.IMG, tm.IMG))
