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
