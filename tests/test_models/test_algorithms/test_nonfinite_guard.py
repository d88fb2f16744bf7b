"""A NaN/Inf task loss stops training (naming the task) or skips the step."""
import copy

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

from tests.test_models import tiny_models as tm


def build(nonfinite):
    return MODELS.build(dict(type='HybridPretrain', backbone=tm.swin(), mim=tm.mim(),
                             multilabel=tm.multilabel(), nonfinite=nonfinite,
                             loss_balancer=dict(type='UncertaintyTaskWeights')))


def data():
    inputs, samples = tm.batch(views=1)
    for s in samples:
        s.set_metainfo(dict(view_names=('masked', )))
    return dict(inputs=inputs, data_samples=samples)


def poison_mim(model):
    return model.mim_neck.register_forward_hook(lambda m, i, out: out * float('nan'))


def test_raise_names_task_and_iteration_before_the_step():
    model = build('raise')
    wrapper = build_optim_wrapper(model, dict(optimizer=dict(type='AdamW', lr=1e-3)))
    MessageHub.get_current_instance().update_info('iter', 6)  # 0-based, as the Runner
    before = copy.deepcopy(model.state_dict())
    poison_mim(model)
    with pytest.raises(FloatingPointError, match=r"\['mim'\] at iteration 7"):
        model.train_step(data(), wrapper)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_skip_leaves_weights_and_optimizer_state_untouched():
    model = build('skip')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        wrapper = build_optim_wrapper(model, dict(type='SkipNonFiniteOptimWrapper',
                                                  optimizer=dict(type='AdamW', lr=1e-3)))
    model.train_step(data(), wrapper)  # a good step: AdamW has state now
    weights = copy.deepcopy(model.state_dict())
    optim_state = copy.deepcopy(wrapper.optimizer.state_dict())
    hook = poison_mim(model)
    log = model.train_step(data(), wrapper)
    assert log['skipped_steps'] == 1 and int(model.num_skipped_steps) == 1
    for key, value in model.state_dict().items():
        if key != 'num_skipped_steps':
            assert torch.equal(value, weights[key]), key
    after = wrapper.optimizer.state_dict()['state']
    for idx, state in optim_state['state'].items():
        assert torch.equal(after[idx]['exp_avg'], state['exp_avg'])
        assert float(after[idx]['step']) == float(state['step'])
    hook.remove()
    model.train_step(data(), wrapper)  # training goes on
    assert not torch.equal(model.state_dict()['backbone.patch_embed.projection.weight'],
                           weights['backbone.patch_embed.projection.weight'])


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError, match='nonfinite'):
        build('ignore')


# ----------------------------------------------------------------------------
# nonfinite='skip' with the contrastive task, a plain wrapper, AMP, accumulation

def build_all(nonfinite):
    return MODELS.build(dict(type='HybridPretrain', backbone=tm.swin(), mim=tm.mim(),
                             contrastive=tm.contrastive(), multilabel=tm.multilabel(),
                             nonfinite=nonfinite,
                             loss_balancer=dict(type='UncertaintyTaskWeights')))


def data_all(seed=0):
    inputs, samples = tm.batch(views=2, seed=seed)
    for s in samples:
        s.set_metainfo(dict(view_names=('masked', 'view1')))
    return dict(inputs=inputs, data_samples=samples)


def skip_wrapper(model, type_='SkipNonFiniteOptimWrapper', **kwargs):
    return build_optim_wrapper(model, dict(type=type_, **kwargs,
                                           optimizer=dict(type='AdamW', lr=1e-3)))


def poison(module):
    return module.register_forward_hook(lambda m, i, out: out * float('nan'))


def poison_mim_of(model):
    return poison(model.mim_neck)  # online: found before the momentum update


def poison_queries(model):
    # the online projector only (the momentum encoder holds a copy of con_neck)
    return model.con_neck.register_forward_hook(
        lambda m, i, out: [o * float('nan') for o in out])


def poison_contrastive_loss(model):
    # MoCoV3Head's predictor: queries finite, the contrastive loss is not, so
    # the step is found bad only after the momentum update
    return model.con_head.predictor.register_forward_hook(
        lambda m, i, out: tuple(o * float('nan') for o in out))


@pytest.fixture
def hub():
    hub = MessageHub.get_current_instance()
    hub.update_info('max_iters', 100)  # CosineEMA reads it
    hub.update_info('hybrid_skip_step', False)
    hub.update_info('hybrid_skip_ready', False)
    yield hub


def clone_state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize('poison_fn', [poison_mim_of, poison_queries,
                                       poison_contrastive_loss])
def test_skip_leaves_momentum_encoder_untouched(hub, poison_fn):
    model = build_all('skip')
    wrapper = skip_wrapper(model)
    model.train_step(data_all(0), wrapper)  # a good step: steps=1, buffers set
    model.train_step(data_all(1), wrapper)  # steps=2, EMA has moved
    momentum = clone_state(model.momentum_encoder)
    assert int(momentum['steps']) == 2
    weights = clone_state(model)
    hook = poison_fn(model)
    log = model.train_step(data_all(2), wrapper)
    hook.remove()
    assert log['skipped_steps'] == 1
    after = model.momentum_encoder.state_dict()
    for key, value in momentum.items():  # params, BN buffers, steps
        assert torch.equal(after[key], value), key
    for key, value in model.state_dict().items():
        if key != 'num_skipped_steps':
            assert torch.equal(value, weights[key]), key
    assert model._momentum_snapshot is None  # freed after the step
    model.train_step(data_all(3), wrapper)  # training goes on from there
    assert int(model.momentum_encoder.steps) == 3


def test_skip_does_not_change_finite_steps(hub):
    """Finite steps with 'skip' (pre-check + snapshot) equal those with 'raise'."""
    skip = build_all('skip')
    raise_ = build_all('raise')
    raise_.load_state_dict(skip.state_dict())
    w_skip = skip_wrapper(skip)
    w_raise = build_optim_wrapper(raise_, dict(optimizer=dict(type='AdamW', lr=1e-3)))
    for seed in range(3):
        a = skip.train_step(data_all(seed), w_skip)
        b = raise_.train_step(data_all(seed), w_raise)
        assert torch.equal(a['loss'], b['loss'])
    s2 = raise_.state_dict()
    for key, value in skip.state_dict().items():
        assert torch.equal(value, s2[key]), key


def test_raise_takes_no_snapshot(hub, monkeypatch):
    model = build_all('raise')
    calls = []
    monkeypatch.setattr(model, '_nonfinite_tasks',
                        lambda values: calls.append(values) or [])
    model.loss(**data_all())
    assert model._momentum_snapshot is None and calls == []  # no pre-check either
    model = build_all('skip')
    model.loss(**data_all())
    assert model._momentum_snapshot is not None


def test_skip_refuses_a_wrapper_that_cannot_skip(hub):
    model = build_all('skip')
    wrapper = build_optim_wrapper(model, dict(optimizer=dict(type='AdamW', lr=1e-3)))
    before = clone_state(model)
    with pytest.raises(RuntimeError, match=r"optim wrapper OptimWrapper.*"
                                           r"SkipNonFiniteOptimWrapper"):
        model.train_step(data_all(), wrapper)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_skip_refuses_a_wrapper_that_cannot_skip_under_ddp(hub):
    """MMDistributedDataParallel.train_step calls the wrapper and the module's
    forward / parse_losses directly, bypassing HybridPretrain.train_step."""
    model = build_all('skip')
    wrapper = build_optim_wrapper(model, dict(optimizer=dict(type='AdamW', lr=1e-3)))
    with wrapper.optim_context(model):  # the DDP wrapper's steps, in order
        data = model.data_preprocessor(data_all(), training=True)
        losses = model(**data, mode='loss')
    with pytest.raises(RuntimeError, match='SkipNonFiniteOptimWrapper'):
        model.parse_losses(losses)
    wrapper = skip_wrapper(model)  # a skip-capable wrapper announces itself
    with wrapper.optim_context(model):
        data = model.data_preprocessor(data_all(), training=True)
        losses = model(**data, mode='loss')
    loss, _ = model.parse_losses(losses)
    wrapper.update_params(loss)


def test_skip_with_gradient_accumulation_keeps_the_other_micro_batches(hub):
    """Window of 3: good, good, skipped. The skipped micro-batch adds nothing to
    the accumulated gradients and the optimizer steps once, at the boundary,
    with the two good micro-batches' gradients."""
    model = build('skip')
    wrapper = skip_wrapper(model, accumulative_counts=3)
    steps = []
    step = wrapper.optimizer.step

    def spy(*args, **kwargs):
        steps.append({n: p.grad.clone() for n, p in model.named_parameters()
                      if p.grad is not None})
        return step(*args, **kwargs)

    wrapper.optimizer.step = spy
    model.train_step(data(), wrapper)
    model.train_step(data(), wrapper)
    assert steps == []
    accumulated = {n: p.grad.clone() for n, p in model.named_parameters()
                   if p.grad is not None}
    assert any(g.abs().sum() > 0 for g in accumulated.values())
    weights = clone_state(model)
    hook = poison_mim(model)
    log = model.train_step(data(), wrapper)  # the window's last micro-batch
    hook.remove()
    assert log['skipped_steps'] == 1
    assert len(steps) == 1 and steps[0].keys() == accumulated.keys()
    for name, grad in accumulated.items():
        assert torch.equal(steps[0][name], grad), name
    assert not torch.equal(model.state_dict()['backbone.patch_embed.projection.weight'],
                           weights['backbone.patch_embed.projection.weight'])
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())
    # a window whose micro-batches are all skipped does not step
    state = copy.deepcopy(wrapper.optimizer.state_dict()['state'])
    hook = poison_mim(model)
    for _ in range(3):
        model.train_step(data(), wrapper)
    hook.remove()
    assert len(steps) == 1 and int(model.num_skipped_steps) == 4
    for idx, s in state.items():
        assert float(wrapper.optimizer.state_dict()['state'][idx]['step']) == float(s['step'])


def test_skip_in_the_middle_of_a_window(hub):
    """good, skipped, good == good, zero-loss, good with a plain OptimWrapper."""
    model = build('skip')
    ref = copy.deepcopy(model)
    ref.nonfinite = 'raise'
    wrapper = skip_wrapper(model, accumulative_counts=3)
    ref_wrapper = build_optim_wrapper(ref, dict(
        accumulative_counts=3, optimizer=dict(type='AdamW', lr=1e-3)))
    model.train_step(data(), wrapper)
    hook = poison_mim(model)
    model.train_step(data(), wrapper)
    hook.remove()
    model.train_step(data(), wrapper)
    ref.train_step(data(), ref_wrapper)
    ref_wrapper.update_params(sum(p.sum() * 0. for p in ref.parameters()
                                  if p.requires_grad))
    ref.train_step(data(), ref_wrapper)
    theirs = ref.state_dict()
    for key, value in model.state_dict().items():
        if key != 'num_skipped_steps':
            assert torch.equal(value, theirs[key]), key


def test_amp_skip_wrapper_is_registered_and_skips(hub, monkeypatch):
    """On CPU, with AmpOptimWrapper's CUDA assertion patched: the GradScaler
    disables itself without CUDA (no loss scaling) and autocast is CPU bf16.
    This checks the skip logic and the wrapper's plumbing; fp16 loss scaling
    and the scaler's state on a skipped step (loss scale unchanged) only run
    on a GPU (``test_amp_skip_on_gpu``)."""
    import mmengine.optim.optimizer.amp_optimizer_wrapper as amp
    from mmengine.optim import AmpOptimWrapper
    monkeypatch.setattr(amp, 'is_cuda_available', lambda: True)
    model = build('skip')
    wrapper = skip_wrapper(model, 'SkipNonFiniteAmpOptimWrapper')
    assert isinstance(wrapper, AmpOptimWrapper) and wrapper.supports_nonfinite_skip
    model.train_step(data(), wrapper)
    weights = clone_state(model)
    optim_state = copy.deepcopy(wrapper.optimizer.state_dict()['state'])
    hook = poison_mim(model)
    model.train_step(data(), wrapper)
    hook.remove()
    for key, value in model.state_dict().items():
        if key != 'num_skipped_steps':
            assert torch.equal(value, weights[key]), key
    after = wrapper.optimizer.state_dict()['state']
    for idx, s in optim_state.items():
        assert float(after[idx]['step']) == float(s['step'])


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_amp_skip_on_gpu(hub):
    """fp16 AMP on a GPU: a skipped step leaves the weights, AdamW's state and
    the GradScaler's scale untouched; a good step after it trains."""
    model = build_all('skip').cuda()
    wrapper = skip_wrapper(model, 'SkipNonFiniteAmpOptimWrapper',
                           loss_scale='dynamic', dtype='float16')

    def cuda_data(seed):
        d = data_all(seed)
        d['inputs'] = [x.cuda() for x in d['inputs']]
        return d

    model.train_step(cuda_data(0), wrapper)
    weights = clone_state(model)
    momentum = clone_state(model.momentum_encoder)
    scale = wrapper.loss_scaler.get_scale()
    optim_state = copy.deepcopy(wrapper.optimizer.state_dict()['state'])
    for poison_fn in (poison_mim_of, poison_contrastive_loss):
        hook = poison_fn(model)
        model.train_step(cuda_data(1), wrapper)
        hook.remove()
        for key, value in model.state_dict().items():
            if key != 'num_skipped_steps':
                assert torch.equal(value, weights[key]), key
        for key, value in model.momentum_encoder.state_dict().items():
            assert torch.equal(value, momentum[key]), key
        assert wrapper.loss_scaler.get_scale() == scale
        after = wrapper.optimizer.state_dict()['state']
        for idx, s in optim_state.items():
            assert torch.equal(after[idx]['exp_avg'], s['exp_avg'])
    model.train_step(cuda_data(2), wrapper)
    assert int(model.num_skipped_steps) == 2
    assert not torch.equal(model.state_dict()['backbone.patch_embed.projection.weight'],
                           weights['backbone.patch_embed.projection.weight'])
