"""Draw from the parts of a ConcatDataset in fixed proportions."""
import math
from typing import Iterator, List, Optional, Sequence

import torch
from mmengine.dist import get_dist_info, sync_random_seed
from mmpretrain.registry import DATA_SAMPLERS
from torch.utils.data import Sampler


def split_by_ratio(total: int, ratios: Sequence[float]) -> List[int]:
    """Split ``total`` into integer counts proportional to ``ratios`` that sum
    to ``total`` (largest remainder; ties go to the earlier source)."""
    norm = sum(ratios)
    exact = [total * r / norm for r in ratios]
    counts = [math.floor(x) for x in exact]
    order = sorted(range(len(ratios)), key=lambda i: (counts[i] - exact[i], i))
    for i in order[:total - sum(counts)]:
        counts[i] += 1
    return counts


@DATA_SAMPLERS.register_module()
class RatioSampler(Sampler):
    """Sample a ``ConcatDataset``'s sources in given proportions, e.g. half
    labelled and half unlabelled images whatever the sources' sizes.

    mmengine offers ``ConcatDataset`` but its samplers draw in proportion to
    the sources' sizes. An epoch here has ``epoch_length`` samples in total
    (all ranks together); source ``i`` contributes ``ratios[i] / sum(ratios)``
    of them exactly (rounded by largest remainder). Within a source, samples
    are taken without replacement, cycling through fresh permutations when a
    source is smaller than its share.

    Distributed: each source's samples of the epoch are dealt to the ranks in
    turn, so every rank gets each source's share (+-1) and the ranks together
    see the epoch once; every rank yields ``ceil(epoch_length / world_size)``
    indices. Each rank interleaves its sources by jittered stratification: any
    run of consecutive samples (so every batch) holds each source in close to
    its proportion, not just the epoch as a whole.

    Like mmengine's ``DefaultSampler``, the order depends only on ``seed`` and
    the epoch given to :meth:`set_epoch`, so a resumed run sees the same data.

    Not mmdet's ``MultiSourceSampler``: it never returns from a source of ratio 0
    (the demo's ``[2, 0, 1]``) and is infinite (no epochs, ``set_epoch`` ignored).

    Args:
        dataset (ConcatDataset): The concatenated sources (anything with
            ``cumulative_sizes``, like ``torch``'s and mmengine's).
        ratios (Sequence[float]): Non-negative weight per source, in the order
            of ``dataset.datasets``. Normalised to sum to one.
        epoch_length (int, optional): Samples per epoch over all ranks.
            Defaults to ``len(dataset)``.
        shuffle (bool): Random order within sources and random jitter of the
            interleaving. Without it, each source is read in order and the
            interleaving is regular. Defaults to True.
        seed (int, optional): Random seed, identical on all ranks. Defaults to
            None (a random seed shared by all ranks).
    """

    def __init__(self,
                 dataset,
                 ratios: Sequence[float],
                 epoch_length: Optional[int] = None,
                 shuffle: bool = True,
                 seed: Optional[int] = None) -> None:
        self.rank, self.world_size = get_dist_info()
        self.dataset = dataset
        if not hasattr(dataset, 'cumulative_sizes'):
            raise TypeError('RatioSampler needs a ConcatDataset (its ratios '
                            f'are per source), got {type(dataset).__name__}')
        total = len(dataset)  # also fully initialises a lazy ConcatDataset
        sizes = [b - a for a, b in
                 zip([0] + list(dataset.cumulative_sizes[:-1]),
                     dataset.cumulative_sizes)]
        if len(ratios) != len(sizes):
            raise ValueError(f'{len(ratios)} ratios for {len(sizes)} datasets')
        if any(r < 0 for r in ratios) or sum(ratios) <= 0:
            raise ValueError(f'ratios must be >= 0 with a positive sum, got '
                             f'{list(ratios)}')
        for i, (ratio, size) in enumerate(zip(ratios, sizes)):
            if ratio > 0 and size == 0:
                raise ValueError(f'dataset {i} is empty but has ratio {ratio}')
        self.sizes = sizes
        self.offsets = [0] + list(dataset.cumulative_sizes[:-1])
        self.ratios = [r / sum(ratios) for r in ratios]
        self.epoch_length = total if epoch_length is None else epoch_length
        if self.epoch_length <= 0:
            raise ValueError(f'epoch_length must be positive, got '
                             f'{self.epoch_length}')
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0
        self.num_samples = math.ceil(self.epoch_length / self.world_size)
        self.total_size = self.num_samples * self.world_size
        self.counts = split_by_ratio(self.total_size, self.ratios)

    def _source_indices(self, source: int, count: int,
                        generator: torch.Generator) -> torch.Tensor:
        size, chunks, have = self.sizes[source], [torch.arange(0)], 0
        while have < count:
            chunk = (torch.randperm(size, generator=generator)
                     if self.shuffle else torch.arange(size))
            chunks.append(chunk)
            have += size
        return torch.cat(chunks)[:count] + self.offsets[source]

    def epoch_indices(self) -> List[List[int]]:
        """Every rank's indices for the current epoch (rank ``r``'s at
        ``[r]``); the same on every rank."""
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        flat = torch.cat([
            self._source_indices(source, count, generator)
            for source, count in enumerate(self.counts)
        ])
        source_of = torch.cat([
            torch.full((count, ), source)
            for source, count in enumerate(self.counts)
        ])
        per_rank = []
        for rank in range(self.world_size):
            # dealing in turn gives each rank each source's share, +-1
            indices = flat[rank::self.world_size]
            sources = source_of[rank::self.world_size]
            positions = torch.empty(len(indices), dtype=torch.float64)
            for source in range(len(self.counts)):
                where = torch.nonzero(sources == source).flatten()
                n = len(where)
                if n == 0:
                    continue
                jitter = (torch.rand(n, generator=generator,
                                     dtype=torch.float64)
                          if self.shuffle else torch.full(
                              (n, ), 0.5, dtype=torch.float64))
                # sample k of this source sits at a point of its k-th slot
                positions[where] = (torch.arange(n, dtype=torch.float64) +
                                    jitter) / n
            order = torch.argsort(positions, stable=True)
            per_rank.append(indices[order].tolist())
        return per_rank

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_indices()[self.rank])

    def __len__(self) -> int:
        """The number of samples of this rank per epoch."""
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch, which (with the seed) fixes the order."""
        self.epoch = epoch
