"""knn_top1: cosine similarity, k nearest, exp(sim / T) weighted votes."""
import pytest
import torch

from mmhybrid.evaluation import knn_top1

# One query at (1, 0). Its nearest neighbour is class 1 (cosine 0.999); the
# next two, class 0 (cosine 0.707, 0.673), outvote it unless the votes are
# weighted sharply: at T=0.07 exp(0.999/T) >> exp(0.707/T) + exp(0.673/T),
# at T=10 the weights are near 1 each and the majority (class 0) wins.
BANK = torch.tensor([[1., 0.05], [1., 1.], [1., 1.1], [-1., 0.]])
BANK_LABELS = torch.tensor([1, 0, 0, 1])
QUERY = torch.tensor([[1., 0.]])


@pytest.mark.parametrize('k, temperature, label', [
    (3, 0.07, 1),  # the nearest neighbour's weight decides
    (3, 10., 0),   # near-uniform weights: the majority of the 3 nearest
    (1, 10., 1),   # only the nearest votes
    # all four: class 1 exp(0.0999) + exp(-0.1) = 2.010 (the far point at
    # cosine -1 weighs less), class 0 exp(0.0707) + exp(0.0673) = 2.143
    (4, 10., 0),
])
def test_votes_are_the_k_nearest_weighted_by_exp_sim_over_t(k, temperature, label):
    for answer in (0, 1):
        got = knn_top1(BANK, BANK_LABELS, QUERY, torch.tensor([answer]),
                       k=k, temperature=temperature)
        assert got == (100. if answer == label else 0.)


def test_similarity_is_cosine_and_accuracy_is_a_percentage():
    # scaling features changes nothing; 2 of 3 queries right -> 66.67%
    queries = torch.tensor([[1., 0.], [0.5, 0.6], [-1., 0.1]])
    labels = torch.tensor([1, 1, 1])  # right, wrong (class 0 region), right
    for scale in (1., 100.):
        got = knn_top1(BANK * scale, BANK_LABELS, queries, labels, k=1)
        assert got == pytest.approx(200. / 3)


def test_query_batches_of_1024_add_up():
    g = torch.Generator().manual_seed(0)
    bank, query = torch.randn(50, 4, generator=g), torch.randn(2500, 4, generator=g)
    bank_labels = torch.arange(50) % 3
    query_labels = torch.randint(0, 3, (2500,), generator=g)
    sim = torch.nn.functional.normalize(query, dim=1) @ torch.nn.functional.normalize(
        bank, dim=1).T
    top, idx = sim.topk(5, dim=1)
    votes = torch.zeros(2500, 3).scatter_add_(1, bank_labels[idx], (top / 0.07).exp())
    want = 100. * (votes.argmax(1) == query_labels).float().mean().item()
    assert knn_top1(bank, bank_labels, query, query_labels, k=5) == pytest.approx(want)
