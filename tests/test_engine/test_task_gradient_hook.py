"""TaskGradientHook measures per-task backbone gradients without side effects."""
import copy
import math

import pytest
import torch
from mmpretrain.registry import MODELS

from mmhybrid.engine.hooks import TaskGradientHook
from tests.test_models import tiny_models as tm


WEIGHTS = dict(mim=2., contrastive=1., multilabel=.5)  # FixedTaskWeights below


def three_task_model_and_batch(**backbone):
    model = MODELS.build(dict(type='HybridPretrain', backbone=dict(tm.swin(), **backbone),
                              mim=tm.mim(), contrastive=tm.contrastive(),
                              multilabel=tm.multilabel(),
                              loss_balancer=dict(type='FixedTaskWeights',
                                                 weights=dict(mim=2., multilabel=.5))))
    inputs, samples = tm.batch(views=2)  # shared view mode reads these two
    for s in samples:
        s.set_metainfo(dict(view_names=('masked', 'view1')))
    return model, dict(inputs=inputs, data_samples=samples)


def reference_gradients(model, data_batch):
    """Each task's weighted-loss gradient on the backbone, built by hand from
    the model's mmpretrain modules as mmpretrain's own algorithms call them
    (``SimMIM.loss``, ``MoCoV3.loss``, ``ImageClassifier`` via ``cls_head.loss``),
    not through ``task_losses`` or the balancer: in the shared view mode one
    masked pass of the online backbone feeds the three heads, and the
    momentum encoder keys ``view1``."""
    model = copy.deepcopy(model)
    data = model.data_preprocessor(data_batch, True)
    masked, view1 = data['inputs']
    samples = data['data_samples']
    mask = torch.stack([s.mask for s in samples])
    feats = model.backbone(masked, mask)
    with torch.no_grad():
        backbone, projector = model.momentum_encoder.module
        key = projector(backbone(view1, None))[0]
    losses = dict(
        mim=model.mim_head.loss(model.mim_neck(feats[0]), masked, mask),
        contrastive=model.con_head.loss(model.con_neck(feats)[0], key),
        multilabel=model.cls_head.loss(model.cls_neck(feats), samples)['loss'])
    params = [p for p in model.backbone.parameters() if p.requires_grad]
    grads = {}
    for task, loss in losses.items():
        g = torch.autograd.grad(WEIGHTS[task] * loss, params, retain_graph=True,
                                allow_unused=True)
        grads[task] = torch.cat([(gi if gi is not None else torch.zeros_like(p))
                                 .flatten().double() for gi, p in zip(g, params)])
    return grads


def test_measures_norms_and_cosines_without_changing_state(max_iters):
    model, data_batch = three_task_model_and_batch()
    ref = reference_gradients(model, data_batch)  # before the hook's pass
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

    # the values: norms and cosines of the gradients built by hand above (the
    # same float32 operations, reduced in float64 here and in the hook)
    for task, g in ref.items():
        assert stats[f'grad_norm/{task}'] == pytest.approx(g.norm().item(), rel=1e-9)
    for a, b in (('mim', 'contrastive'), ('mim', 'multilabel'),
                 ('contrastive', 'multilabel')):
        cos = (ref[a] @ ref[b] / (ref[a].norm() * ref[b].norm())).item()
        assert stats[f'grad_cos/{a}-{b}'] == pytest.approx(cos, abs=1e-9), (a, b)


def test_leaves_the_cpu_random_stream_as_it_was(max_iters):
    # with stochastic depth the hook's extra pass draws random numbers
    model, data_batch = three_task_model_and_batch(drop_path_rate=0.5)
    torch.manual_seed(1)
    expected = torch.rand(8)
    torch.manual_seed(1)
    TaskGradientHook.measure(model, data_batch)
    assert torch.equal(torch.rand(8), expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_leaves_the_cuda_random_stream_as_it_was(max_iters):
    model, data_batch = three_task_model_and_batch(drop_path_rate=0.5)
    model.cuda()
    state = torch.cuda.get_rng_state()
    TaskGradientHook.measure(model, data_batch)
    assert torch.equal(torch.cuda.get_rng_state(), state)


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
