"""TaskGradientHook measures per-task backbone gradients without side effects."""
import copy
import math

import pytest
import torch
from mmpretrain.registry import MODELS

from mmhybrid.engine.hooks import TaskGradientHook
from tests.test_models import tiny_models as tm


def three_task_model_and_batch():
    model = MODELS.build(dict(type='HybridPretrain', backbone=tm.swin(), mim=tm.mim(),
                              contrastive=tm.contrastive(), multilabel=tm.multilabel(),
                              loss_balancer=dict(type='FixedTaskWeights',
                                                 weights=dict(mim=2., multilabel=.5))))
    inputs, samples = tm.batch(views=2)  # shared view mode reads these two
    for s in samples:
        s.set_metainfo(dict(view_names=('masked', 'view1')))
    return model, dict(inputs=inputs, data_samples=samples)


def reference_gradients(model, data_batch):
    """Each task's weighted-loss gradient on the backbone, by plain backward()
    on a copy of the model (a fresh forward pass per task)."""
    grads = {}
    for task in model.tasks:
        clone = copy.deepcopy(model)
        data = clone.data_preprocessor(data_batch, True)
        weighted, _ = clone.balancer(clone.task_losses(data['inputs'],
                                                       data['data_samples']))
        weighted[task].backward()
        grads[task] = torch.cat([
            (p.grad if p.grad is not None else torch.zeros_like(p)).flatten().double()
            for p in clone.backbone.parameters() if p.requires_grad])
    return grads


def test_measures_norms_and_cosines_without_changing_state(max_iters):
    model, data_batch = three_task_model_and_batch()
    before = copy.deepcopy(model.state_dict())
    stats = TaskGradientHook.measure(model, data_batch)
    assert set(stats) == {'grad_norm/mim', 'grad_norm/contrastive', 'grad_norm/multilabel',
                          'grad_cos/mim-contrastive', 'grad_cos/mim-multilabel',
                          'grad_cos/contrastive-multilabel'}
    # no gradients left behind, momentum encoder untouched
    assert all(p.grad is None for p in model.parameters())
    after = model.state_dict()
    assert int(after['momentum_encoder.steps']) == int(before['momentum_encoder.steps'])
    assert torch.equal(after['momentum_encoder.module.0.patch_embed.projection.weight'],
                       before['momentum_encoder.module.0.patch_embed.projection.weight'])

    # the values: norms and cosines of gradients computed independently
    # (backward() of each weighted task loss, the balancer's weights included).
    # The same float32 gradients, reduced in float64 here and in the hook
    ref = reference_gradients(model, data_batch)
    for task, g in ref.items():
        assert stats[f'grad_norm/{task}'] == pytest.approx(g.norm().item(), rel=1e-9)
    for a, b in (('mim', 'contrastive'), ('mim', 'multilabel'),
                 ('contrastive', 'multilabel')):
        cos = (ref[a] @ ref[b] / (ref[a].norm() * ref[b].norm())).item()
        assert stats[f'grad_cos/{a}-{b}'] == pytest.approx(cos, abs=1e-9), (a, b)


class _SignedCopies(torch.nn.Module):
    """Balancer whose three task terms are w * L_mim with w = 1, 3, -2: their
    backbone gradients are parallel (cos 1), or opposite (cos -1), with norms
    in ratio 1 : 3 : 2."""
    weights = dict(mim=1., contrastive=3., multilabel=-2.)

    def forward(self, losses):
        return {t: w * losses['mim'] for t, w in self.weights.items()}, {}


def test_parallel_and_opposite_gradients_give_cosine_plus_and_minus_one(max_iters):
    model, data_batch = three_task_model_and_batch()
    model.balancer = _SignedCopies()
    stats = TaskGradientHook.measure(model, data_batch)
    # float32 torch.cosine_similarity gave 1.0001 here; float64 sums: 1e-14
    assert stats['grad_cos/mim-contrastive'] == pytest.approx(1, abs=1e-9)
    assert stats['grad_cos/mim-multilabel'] == pytest.approx(-1, abs=1e-9)
    assert stats['grad_cos/contrastive-multilabel'] == pytest.approx(-1, abs=1e-9)
    norm = stats['grad_norm/mim']
    assert norm > 0
    # backward() of 3 * L rounds each element (measured: 3e-7 off the ratio)
    assert stats['grad_norm/contrastive'] == pytest.approx(3 * norm, rel=1e-5)
    assert stats['grad_norm/multilabel'] == pytest.approx(2 * norm, rel=1e-5)


def test_single_task_gives_a_norm_and_no_cosines(max_iters):
    model = MODELS.build(dict(type='HybridPretrain', backbone=tm.swin(), mim=tm.mim(),
                              loss_balancer=dict(type='FixedTaskWeights')))
    inputs, samples = tm.batch(views=1)
    stats = TaskGradientHook.measure(model, dict(inputs=inputs, data_samples=samples))
    assert list(stats) == ['grad_norm/mim']
    assert math.isfinite(stats['grad_norm/mim']) and stats['grad_norm/mim'] > 0
