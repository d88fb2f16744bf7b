from collections import Counter

import pytest
from torch.utils.data import ConcatDataset, DataLoader

from mmhybrid.datasets.samplers import RatioSampler, split_by_ratio
from mmhybrid.datasets.samplers import ratio_sampler as ratio_sampler_module
from mmpretrain.registry import DATA_SAMPLERS

SIZES = (100, 30, 7)


def mixed(sizes=SIZES):
    """Sources as ranges of integers; index i of the concat returns i."""
    return ConcatDataset([list(range(0, n)) for n in sizes])


def source_of(index, sizes=SIZES):
    for s, end in enumerate(sum(sizes[:k + 1]) for k in range(len(sizes))):
        if index < end:
            return s
    raise IndexError(index)


def on_rank(monkeypatch, rank, world_size):
    monkeypatch.setattr(ratio_sampler_module, 'get_dist_info',
                        lambda: (rank, world_size))


def test_split_by_ratio_is_exact_and_sums_to_total():
    assert split_by_ratio(10, [0.5, 0.5]) == [5, 5]
    assert split_by_ratio(10, [1, 1, 1]) == [4, 3, 3]
    assert split_by_ratio(7, [0.2, 0, 0.8]) == [1, 0, 6]
    assert sum(split_by_ratio(1001, [0.3, 0.3, 0.4])) == 1001


def test_epoch_achieves_the_ratio_whatever_the_source_sizes():
    sampler = RatioSampler(mixed(), ratios=[0.5, 0.25, 0.25], seed=0)
    indices = list(sampler)
    assert len(indices) == len(sampler) == sum(SIZES)
    counts = Counter(source_of(i) for i in indices)
    # 137 samples: 68.5 / 34.25 / 34.25 -> largest remainder 69 / 34 / 34
    assert counts == {0: 69, 1: 34, 2: 34}


def test_every_batch_is_close_to_the_ratio():
    sampler = RatioSampler(mixed(), ratios=[0.75, 0.25, 0], seed=3,
                           epoch_length=400)
    indices = list(sampler)
    for start in range(0, 400, 8):
        batch = Counter(source_of(i) for i in indices[start:start + 8])
        assert abs(batch[1] - 2) <= 1 and batch[2] == 0


def test_small_source_is_cycled_without_replacement():
    sampler = RatioSampler(mixed(), ratios=[0, 0, 1], seed=0, epoch_length=21)
    counts = Counter(sampler)
    assert set(counts) == set(range(130, 137))  # all of source 2, only it
    assert set(counts.values()) == {3}  # each exactly three times


def test_deterministic_given_seed_and_epoch():
    a = RatioSampler(mixed(), ratios=[1, 1, 1], seed=7)
    b = RatioSampler(mixed(), ratios=[1, 1, 1], seed=7)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first
    b.set_epoch(1)  # a resumed run sets the epoch and sees the same order
    assert list(a) == list(b)
    a.set_epoch(0)
    assert list(a) == first


def test_without_shuffle_sources_are_read_in_order():
    sampler = RatioSampler(mixed((4, 4)), ratios=[1, 1], shuffle=False)
    assert list(sampler) == [0, 4, 1, 5, 2, 6, 3, 7]


def test_ranks_split_the_epoch_between_them(monkeypatch):
    per_rank = []
    for rank in range(3):
        on_rank(monkeypatch, rank, 3)
        sampler = RatioSampler(mixed(), ratios=[0.5, 0.5, 0], seed=1,
                               epoch_length=100)
        per_rank.append(list(sampler))
        assert len(per_rank[-1]) == len(sampler) == 34  # ceil(100 / 3)
    assert per_rank == sampler.epoch_indices()  # the same plan on every rank
    together = Counter(source_of(i) for i in sum(per_rank, []))
    assert together == {0: 51, 1: 51}  # 102 = 3 x 34, half and half
    for indices in per_rank:  # each rank, and each of its batches, is mixed
        assert abs(sum(source_of(i) == 0 for i in indices) - 17) <= 1
        for start in range(0, 32, 8):
            batch = indices[start:start + 8]
            assert abs(sum(source_of(i) == 0 for i in batch) - 4) <= 1


def test_two_ranks_without_shuffle_both_get_both_sources(monkeypatch):
    on_rank(monkeypatch, 1, 2)
    sampler = RatioSampler(mixed((4, 4)), ratios=[1, 1], shuffle=False)
    assert list(sampler) == [1, 5, 3, 7]


def test_built_from_the_registry_like_the_runner_does():
    sampler = DATA_SAMPLERS.build(
        dict(type='RatioSampler', ratios=[1, 3]),
        default_args=dict(dataset=mixed((10, 10)), seed=5))
    loader = DataLoader(mixed((10, 10)), batch_size=4, sampler=sampler)
    values = [int(v) for batch in loader for v in batch]
    assert len(values) == 20
    # source 0 holds 0..9 and source 1 holds 0..9 again: look at indices
    counts = Counter(source_of(i, (10, 10)) for i in sampler)
    assert counts == {0: 5, 1: 15}


@pytest.mark.parametrize('ratios, message', [
    ([1, 1], '2 ratios for 3 datasets'),
    ([1, -1, 1], 'ratios must be >= 0'),
    ([0, 0, 0], 'ratios must be >= 0'),
])
def test_bad_ratios_are_rejected(ratios, message):
    with pytest.raises(ValueError, match=message):
        RatioSampler(mixed(), ratios=ratios, seed=0)


def test_empty_source_with_a_ratio_is_rejected():
    with pytest.raises(ValueError, match='dataset 1 is empty'):
        RatioSampler(mixed((5, 0)), ratios=[1, 1], seed=0)


def test_needs_a_concat_dataset():
    with pytest.raises(TypeError, match='needs a ConcatDataset'):
        RatioSampler(list(range(5)), ratios=[1], seed=0)
