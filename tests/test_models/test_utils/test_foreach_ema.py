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
