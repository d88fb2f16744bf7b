"""UncertaintyTaskWeights: exp(-s_t) * L_t + s_t with learned s_t (Kendall et al.)."""
import math

import pytest
import torch
from mmpretrain.registry import MODELS

from mmhybrid.models.balancers import UncertaintyTaskWeights

TASKS = ('mim', 'contrastive', 'multilabel')
RAW = dict(mim=2.0, contrastive=3.0, multilabel=0.25)


def losses(values=RAW):
    return {t: torch.tensor(values[t], requires_grad=True) for t in TASKS}


def with_log_vars(log_vars):
    balancer = UncertaintyTaskWeights(TASKS)
    balancer.load_state_dict(dict(log_vars=torch.tensor(log_vars)))
    return balancer


def test_custom_log_vars_by_hand():
    # s = 0, ln 2, -1  ->  weights exp(-s) = 1, 1/2, e
    balancer = with_log_vars([0.0, math.log(2.0), -1.0])
    raw = losses()
    weighted, weights = balancer(raw)
    assert list(weighted) == list(weights) == list(TASKS)
    assert weights['mim'].item() == pytest.approx(1.0, rel=1e-6)
    assert weights['contrastive'].item() == pytest.approx(0.5, rel=1e-6)
    assert weights['multilabel'].item() == pytest.approx(2.718281828459045, rel=1e-6)
    # weighted = exp(-s) * L + s
    assert weighted['mim'].item() == pytest.approx(2.0, rel=1e-6)  # 1 * 2 + 0
    # 0.5 * 3 + ln 2 = 1.5 + 0.693147...
    assert weighted['contrastive'].item() == pytest.approx(2.1931471805599454,
                                                           rel=1e-6)
    # e * 0.25 - 1
    assert weighted['multilabel'].item() == pytest.approx(-0.32042954288523873,
                                                          rel=1e-5)
    # gradients of the total: d/dL = exp(-s), d/ds = 1 - exp(-s) * L
    sum(weighted.values()).backward()
    assert [raw[t].grad.item() for t in TASKS] == pytest.approx(
        [1.0, 0.5, 2.718281828459045], rel=1e-6)
    assert balancer.log_vars.grad.tolist() == pytest.approx(
        [1 - 2.0, 1 - 1.5, 1 - 0.6795704571147613], rel=1e-5)


def test_init_log_var_sets_every_weight():
    balancer = MODELS.build(dict(type='UncertaintyTaskWeights', tasks=TASKS,
                                 init_log_var=0.5))
    assert balancer.log_vars.tolist() == [0.5, 0.5, 0.5]
    weighted, weights = balancer(losses())
    for task in TASKS:
        # exp(-0.5) = 0.6065306597126334
        assert weights[task].item() == pytest.approx(0.6065306597126334, rel=1e-6)
        assert weighted[task].item() == pytest.approx(
            0.6065306597126334 * RAW[task] + 0.5, rel=1e-6)


def test_the_optimum_is_the_log_of_the_loss():
    """At s_t = ln L_t the gradient of s_t vanishes (weight 1 / L_t)."""
    balancer = with_log_vars([math.log(RAW[t]) for t in TASKS])
    weighted, weights = balancer(losses())
    sum(weighted.values()).backward()
    assert balancer.log_vars.grad.abs().max().item() < 1e-6
    for task in TASKS:
        assert weights[task].item() == pytest.approx(1 / RAW[task], rel=1e-6)


def test_log_vars_are_trained_and_saved():
    balancer = UncertaintyTaskWeights(('mim', 'multilabel'))
    assert [n for n, _ in balancer.named_parameters()] == ['log_vars']
    assert list(balancer.state_dict()) == ['log_vars']
    optimizer = torch.optim.SGD(balancer.parameters(), lr=0.1)
    weighted, _ = balancer(dict(mim=torch.tensor(3.0), multilabel=torch.tensor(0.5)))
    sum(weighted.values()).backward()
    optimizer.step()
    # s <- 0 - 0.1 * (1 - L): the larger loss gets the larger s (smaller weight)
    assert balancer.log_vars.tolist() == pytest.approx([0.2, -0.05], rel=1e-6)
