"""HybridSimMIMSwinTransformer: SimMIM's Swin with the fused-attention switch."""
import copy

import torch
from mmpretrain.models.utils.attention import WindowMSA
from mmpretrain.registry import MODELS

from mmhybrid.models.utils import FusedWindowMSA
from tests.test_models import tiny_models as tm


def build(**kwargs):
    return MODELS.build(dict(tm.swin('HybridSimMIMSwinTransformer'), **kwargs))


def attention_types(model):
    return {type(m) for m in model.modules() if isinstance(m, WindowMSA)}


def test_switch_off_is_simmims_swin_and_on_is_fused():
    assert attention_types(build()) == {WindowMSA}
    assert attention_types(build(fused_attention=True)) == {FusedWindowMSA}


def test_fused_backbone_in_hybrid_pretrain_matches_the_explicit_one(max_iters):
    """The whole three-task step: same losses with the switch on, the momentum
    encoder (a copy of the backbone) fused as well."""
    torch.manual_seed(0)
    explicit = MODELS.build(dict(type='HybridPretrain', backbone=tm.swin(),
                                 mim=tm.mim(), contrastive=tm.contrastive(),
                                 multilabel=tm.multilabel()))
    fused = MODELS.build(dict(
        type='HybridPretrain',
        backbone=dict(tm.swin('HybridSimMIMSwinTransformer'), fused_attention=True),
        mim=tm.mim(), contrastive=tm.contrastive(), multilabel=tm.multilabel()))
    fused.load_state_dict(explicit.state_dict())
    assert attention_types(fused.momentum_encoder) == {FusedWindowMSA}
    inputs, samples = tm.batch(views=2)
    for s in samples:
        s.set_metainfo(dict(view_names=('masked', 'view1')))
    a = explicit.task_losses(copy.deepcopy(inputs), samples)
    b = fused.task_losses(copy.deepcopy(inputs), samples)
    assert a.keys() == b.keys()
    for task in a:
        torch.testing.assert_close(b[task], a[task], rtol=1e-4, atol=1e-5)


class CountingEager:
    """A torch.compile backend that runs the captured graphs as they are and
    counts them."""

    def __init__(self):
        self.graphs = 0

    def __call__(self, gm, example_inputs):
        self.graphs += 1
        return gm.forward

    def __deepcopy__(self, memo):  # the momentum encoder's copy counts here too
        return self


def test_compiled_backbone_in_hybrid_pretrain_matches_the_plain_one(max_iters):
    """The three-task step with the forward compiled: losses and gradients of
    the plain backbone; the masked and unmasked passes each a compiled graph;
    the momentum encoder (a deepcopy) runs its own weights, not the online
    backbone's."""
    torch.manual_seed(0)
    plain = MODELS.build(dict(type='HybridPretrain', backbone=tm.swin(),
                              mim=tm.mim(), contrastive=tm.contrastive(),
                              multilabel=tm.multilabel()))
    backend = CountingEager()
    compiled = MODELS.build(dict(
        type='HybridPretrain',
        backbone=dict(tm.swin('HybridSimMIMSwinTransformer'),
                      compile=dict(backend=backend)),
        mim=tm.mim(), contrastive=tm.contrastive(), multilabel=tm.multilabel()))
    compiled.load_state_dict(plain.state_dict())
    inputs, samples = tm.batch(views=2)
    for s in samples:
        s.set_metainfo(dict(view_names=('masked', 'view1')))
    a = plain.task_losses(copy.deepcopy(inputs), samples)
    b = compiled.task_losses(copy.deepcopy(inputs), samples)
    assert backend.graphs >= 2  # masked (online) and unmasked (momentum) passes
    for task in a:
        torch.testing.assert_close(b[task], a[task], rtol=0, atol=0)
    sum(a.values()).backward()
    sum(b.values()).backward()
    for (name, p), q in zip(plain.named_parameters(), compiled.parameters()):
        if p.grad is not None:
            torch.testing.assert_close(q.grad, p.grad, rtol=0, atol=0, msg=name)
    # move the online weights only: the momentum encoder must not follow
    x = inputs[1][:2]
    for model in (plain, compiled):
        with torch.no_grad():
            for p in model.backbone.parameters():
                p.add_(0.1)
    key_plain = plain.momentum_encoder.module[0](x, None)[0]
    key_compiled = compiled.momentum_encoder.module[0](x, None)[0]
    torch.testing.assert_close(key_compiled, key_plain, rtol=0, atol=0)
    assert not torch.allclose(compiled.backbone(x, None)[0], key_compiled)


def test_compile_switch_off_by_default_and_true_means_torchs_defaults():
    assert build().compile_options is None
    assert build(compile=True).compile_options == dict(dynamic=False)
    assert build(compile=dict(mode='max-autotune')).compile_options == dict(
        mode='max-autotune', dynamic=False)
    assert build(compile=dict(dynamic=None)).compile_options == dict(dynamic=None)
