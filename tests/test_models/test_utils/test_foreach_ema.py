"""ForeachCosineEMA averages exactly as mmpretrain's CosineEMA."""
import copy

import pytest
import torch
from mmengine.logging import MessageHub
from mmpretrain.models.utils import CosineEMA
from mmpretrain.registry import MODELS
from torch import nn

from mmhybrid.models.utils import ForeachCosineEMA


def source():
    """Parameters, BN buffers (float and long) and a frozen parameter."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.Linear(8, 3))
    model[2].bias.requires_grad_(False)
    return model


def perturb(model, step):
    gen = torch.Generator().manual_seed(step)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen))
        model[1].running_mean.add_(torch.randn(8, generator=gen))
        model[1].num_batches_tracked += 1


@pytest.mark.parametrize('kwargs', [
    dict(momentum=0.01), dict(momentum=0.2, end_momentum=0.05, interval=2),
    dict(momentum=0.1, update_buffers=True)])
def test_bit_identical_to_cosine_ema(kwargs):
    MessageHub.get_current_instance().update_info('max_iters', 10)
    model = source()
    ref, fast = CosineEMA(model, **kwargs), ForeachCosineEMA(model, **kwargs)
    for step in range(7):
        perturb(model, step)
        ref.update_parameters(model)
        fast.update_parameters(model)
        a, b = ref.state_dict(), fast.state_dict()
        assert a.keys() == b.keys()
        for k in a:
            assert torch.equal(a[k], b[k]), (step, k)
    # the averages moved away from the source and from their start
    assert not torch.equal(fast.module[0].weight, model[0].weight)
    assert int(fast.steps) == 7


def test_builds_from_config_like_cosine_ema():
    model = source()
    ema = MODELS.build(dict(type='ForeachCosineEMA', model=model, momentum=0.01))
    assert isinstance(ema, CosineEMA)
    assert ema.state_dict().keys() == CosineEMA(copy.deepcopy(model)).state_dict().keys()


def test_hybrid_pretrain_selects_it_by_config(max_iters):
    """``contrastive.ema_type`` picks the momentum encoder's class; a three-task
    step with it equals the CosineEMA step (losses, then the averaged weights)."""
    from tests.test_models import tiny_models as tm

    def build(**ema):
        torch.manual_seed(0)
        return MODELS.build(dict(type='HybridPretrain', backbone=tm.swin(), mim=tm.mim(),
                                 contrastive=dict(tm.contrastive(), **ema),
                                 multilabel=tm.multilabel()))

    ref, fast = build(), build(ema_type='ForeachCosineEMA')
    assert type(ref.momentum_encoder) is CosineEMA
    assert type(fast.momentum_encoder) is ForeachCosineEMA
    inputs, samples = tm.batch(views=2)
    for s in samples:
        s.set_metainfo(dict(view_names=('masked', 'view1')))
    a = ref.task_losses(copy.deepcopy(inputs), samples, update_momentum=True)
    b = fast.task_losses(copy.deepcopy(inputs), samples, update_momentum=True)
    for task in a:
        assert torch.equal(a[task], b[task]), task
    sa, sb = ref.momentum_encoder.state_dict(), fast.momentum_encoder.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    with pytest.raises(KeyError, match='NoSuchEMA'):
        build(ema_type='NoSuchEMA')
