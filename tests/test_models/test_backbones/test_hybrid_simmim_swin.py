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
