"""HybridPretrain with MIM on an earlier backbone stage (``out_indices`` with two
stages): MIM's decoder reads the first, the other tasks the last."""
import pytest
import torch
from mmpretrain.registry import MODELS

from tests.test_models import tiny_models as tm

STAGE3 = tm.EMBED * 4  # channels after the third stage (stride 16)


def build(out_indices, mim=True, backbone_type='HybridSimMIMSwinTransformer',
          **tasks):
    backbone = dict(tm.swin(backbone_type), out_indices=out_indices)
    if mim:
        neck = (dict(type='SimMIMLinearDecoder', in_channels=STAGE3, encoder_stride=16)
                if len(out_indices) == 2 else tm.mim()['neck'])
        tasks['mim'] = dict(tm.mim(), neck=neck)
    inputs = dict(label_input='unmasked' if 'multilabel' in tasks else None,
                  query_input='unmasked' if 'contrastive' in tasks else None)
    return MODELS.build(dict(type='HybridPretrain', backbone=backbone, **inputs,
                             **tasks))


def named_batch(model):
    inputs, samples = tm.batch(views=len(model.required_views))
    for s in samples:
        s.set_metainfo(dict(view_names=model.required_views))
    return inputs, samples


def test_mim_gradient_stops_at_its_stage():
    torch.manual_seed(0)
    model = build((2, 3))
    inputs, samples = named_batch(model)
    model.task_losses(inputs, samples)['mim'].backward()
    grads = {n: p.grad for n, p in model.backbone.named_parameters()}
    assert grads['stages.2.blocks.0.attn.w_msa.qkv.weight'].abs().sum() > 0
    assert grads['norm2.weight'].abs().sum() > 0
    # the last stage and its norm get nothing from MIM
    assert all(g is None or not g.any() for n, g in grads.items()
               if n.startswith(('stages.3.', 'norm3.')))


def test_other_tasks_read_the_last_stage_as_before():
    """Same weights: the contrastive and label losses with MIM on stage 3 equal
    those of the one-output backbone (MIM reading stage 4)."""
    tasks = dict(contrastive=tm.contrastive(), multilabel=tm.multilabel())
    torch.manual_seed(0)
    last_only = build((3, ), **tasks)
    torch.manual_seed(0)
    both = build((2, 3), **tasks)
    state = {k: v for k, v in last_only.state_dict().items()
             if not k.startswith('mim_neck.')}  # a decoder for another stage
    missing, unexpected = both.load_state_dict(state, strict=False)
    assert not unexpected
    # only the earlier stage's output norm and MIM's decoder are new
    assert {k.split('.')[0] if not k.startswith('backbone') else k for k in missing} \
        == {'backbone.norm2.weight', 'backbone.norm2.bias', 'mim_neck',
            'momentum_encoder'}
    both.momentum_encoder.load_state_dict(last_only.momentum_encoder.state_dict(),
                                          strict=False)
    inputs, samples = named_batch(both)
    last_only.train(), both.train()
    a = last_only.task_losses(inputs, samples)
    b = both.task_losses(inputs, samples)
    for task in ('contrastive', 'multilabel'):
        assert torch.allclose(a[task], b[task], atol=1e-6), task
    # and MIM differs: it reads another stage through another decoder
    assert not torch.allclose(a['mim'], b['mim'])
    assert both.predict(inputs[0], samples)[0].pred_score.shape == (tm.NUM_CLASSES, )


def test_plan_names_the_mim_stage(logged):
    build((2, 3), contrastive=tm.contrastive())
    assert any(m.endswith('momentum 1: view1 -> key, MIM reads backbone stage 3')
               for m in logged), logged


@pytest.mark.parametrize('out_indices, mim', [((1, 2, 3), True), ((2, 3), False)])
def test_earlier_outputs_without_a_reader_are_refused(out_indices, mim):
    with pytest.raises(ValueError, match=r'only MIM may read an earlier one'):
        build(out_indices, mim=mim, contrastive=tm.contrastive())


def test_mmpretrains_masked_pass_is_refused_for_two_stages():
    with pytest.raises(ValueError, match="needs type='HybridSimMIMSwinTransformer'"):
        build((2, 3), backbone_type='SimMIMSwinTransformer',
              contrastive=tm.contrastive())


def test_masked_pass_returns_each_stage_as_the_unmasked_pass_does():
    from mmpretrain.models.selfsup import SimMIMSwinTransformer
    torch.manual_seed(0)
    ours = MODELS.build(dict(tm.swin('HybridSimMIMSwinTransformer'),
                             out_indices=(2, 3)))
    x = torch.randn(2, 3, tm.IMG, tm.IMG)
    none = torch.zeros(2, tm.IMG // 4, tm.IMG // 4)
    masked, unmasked = ours(x, none), ours(x, None)
    assert [f.shape[1] for f in masked] == [STAGE3, tm.FINAL]
    for a, b in zip(masked, unmasked):  # an empty mask changes nothing
        assert torch.allclose(a, b, atol=1e-6)
    # one output (the recipes'): the same as mmpretrain's own masked pass
    theirs = MODELS.build(dict(tm.swin('SimMIMSwinTransformer')))
    last = MODELS.build(dict(tm.swin('HybridSimMIMSwinTransformer')))
    last.load_state_dict(theirs.state_dict())
    mask = tm.batch(n=2)[1]
    mask = torch.stack([s.mask for s in mask])
    assert isinstance(theirs, SimMIMSwinTransformer)
    assert torch.allclose(last(x, mask)[0], theirs(x, mask)[0], atol=1e-6)
