"""FixedTaskWeights: sum_t w_t * L_t with configured weights, 1.0 for the rest."""
import pytest
import torch
from mmpretrain.registry import MODELS

from mmhybrid.models.balancers import FixedTaskWeights

TASKS = ('mim', 'contrastive', 'multilabel')


def losses(mim=1.2, contrastive=0.7, multilabel=3.0, dtype=torch.float32):
    return {task: torch.tensor(value, dtype=dtype, requires_grad=True)
            for task, value in zip(TASKS, (mim, contrastive, multilabel))}


def test_custom_weights_by_hand():
    balancer = MODELS.build(dict(type='FixedTaskWeights', tasks=TASKS,
                                 weights=dict(mim=0.5, multilabel=2)))
    raw = losses()
    weighted, weights = balancer(raw)
    assert list(weighted) == list(weights) == list(TASKS)
    # reported weights: as configured, 1.0 for the task not named
    assert [weights[t].item() for t in TASKS] == [0.5, 1.0, 2.0]
    # weighted terms: 0.5 * 1.2, 1.0 * 0.7, 2.0 * 3.0
    assert weighted['mim'].item() == pytest.approx(0.6, rel=1e-6)
    assert weighted['contrastive'].item() == pytest.approx(0.7, rel=1e-6)
    assert weighted['multilabel'].item() == pytest.approx(6.0, rel=1e-6)
    # the total mmengine sums, and its gradient per raw loss is the weight
    total = sum(weighted.values())
    assert total.item() == pytest.approx(7.3, rel=1e-6)
    total.backward()
    assert [raw[t].grad.item() for t in TASKS] == [0.5, 1.0, 2.0]
    # the weights are constants, not parameters
    assert list(balancer.parameters()) == []
    assert not any(w.requires_grad for w in weights.values())


def test_default_weights_are_one():
    weighted, weights = FixedTaskWeights(TASKS)(losses(1.5, 2.5, 0.5))
    assert [weights[t].item() for t in TASKS] == [1.0, 1.0, 1.0]
    assert [weighted[t].item() for t in TASKS] == [1.5, 2.5, 0.5]


def test_weights_follow_the_loss_dtype():
    """A weight is made on the loss's dtype and device: 0.1 exactly as float64."""
    raw = losses(dtype=torch.float64)
    weighted, weights = FixedTaskWeights(TASKS, dict(contrastive=0.1))(raw)
    assert weights['contrastive'].dtype == torch.float64
    assert weights['contrastive'].item() == 0.1
    assert weighted['contrastive'].item() == 0.1 * 0.7


def test_a_weight_for_a_disabled_task_is_an_error():
    with pytest.raises(ValueError, match=r"\['multilabel'\]"):
        FixedTaskWeights(('mim', 'contrastive'), dict(mim=1.0, multilabel=0.5))


def test_only_the_enabled_tasks_are_weighted():
    balancer = FixedTaskWeights(('contrastive', ), dict(contrastive=3.0))
    weighted, weights = balancer(losses())  # extra losses are ignored
    assert list(weighted) == ['contrastive']
    assert weighted['contrastive'].item() == pytest.approx(2.1, rel=1e-6)
