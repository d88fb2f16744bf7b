"""TaskGradientHook measures per-task backbone gradients without side effects."""
import copy
import math

import torch
from mmpretrain.registry import MODELS

from mmhybrid.engine.hooks import TaskGradientHook
from tests.test_models import tiny_models as tm


def test_measures_norms_and_cosines_without_changing_state(max_iters):
    model = MODELS.build(dict(type='HybridPretrain', backbone=tm.swin(), mim=tm.mim(),
                              contrastive=tm.contrastive(), multilabel=tm.multilabel()))
    inputs, samples = tm.batch(views=3)
    for s in samples:
        s.set_metainfo(dict(view_names=('masked', 'view1', 'view2')))
    before = copy.deepcopy(model.state_dict())
    stats = TaskGradientHook.measure(model, dict(inputs=inputs, data_samples=samples))
    assert set(stats) == {'grad_norm/mim', 'grad_norm/contrastive', 'grad_norm/multilabel',
                          'grad_cos/mim-contrastive', 'grad_cos/mim-multilabel',
                          'grad_cos/contrastive-multilabel'}
    assert all(stats[f'grad_norm/{t}'] > 0 for t in model.tasks)
    assert all(-1 <= v <= 1 for k, v in stats.items() if k.startswith('grad_cos'))
    # no gradients left behind, momentum encoder untouched
    assert all(p.grad is None for p in model.parameters())
    after = model.state_dict()
    assert int(after['momentum_encoder.steps']) == int(before['momentum_encoder.steps'])
    assert torch.equal(after['momentum_encoder.module.0.patch_embed.projection.weight'],
                       before['momentum_encoder.module.0.patch_embed.projection.weight'])


def test_single_task_gives_a_norm_and_no_cosines(max_iters):
    model = MODELS.build(dict(type='HybridPretrain', backbone=tm.swin(), mim=tm.mim(),
                              loss_balancer=dict(type='FixedTaskWeights')))
    inputs, samples = tm.batch(views=1)
    stats = TaskGradientHook.measure(model, dict(inputs=inputs, data_samples=samples))
    assert list(stats) == ['grad_norm/mim']
    assert math.isfinite(stats['grad_norm/mim']) and stats['grad_norm/mim'] > 0
