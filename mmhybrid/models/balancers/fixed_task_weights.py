"""Constant per-task loss weights."""
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmpretrain.registry import MODELS
from torch import nn


@MODELS.register_module()
class FixedTaskWeights(nn.Module):
    """Combine task losses with constant weights: ``sum_t w_t * L_t``.

    Args:
        tasks (Sequence[str]): The enabled tasks (filled in by the algorithm).
        weights (dict, optional): Weight per task; tasks not named get 1.0.
    """

    def __init__(self, tasks: Sequence[str],
                 weights: Optional[Dict[str, float]] = None) -> None:
        super().__init__()
        weights = dict(weights or {})
        unknown = set(weights) - set(tasks)
        if unknown:
            raise ValueError(f'weights for tasks that are not enabled: '
                             f'{sorted(unknown)} (enabled: {list(tasks)})')
        self.tasks = tuple(tasks)
        self.weights = {t: float(weights.get(t, 1.0)) for t in self.tasks}

    def forward(self, losses: Dict[str, torch.Tensor]
                ) -> Tuple[Dict[str, torch.Tensor], Dict[str, torch.Tensor]]:
        """Return (weighted loss per task, weight per task)."""
        weights = {t: losses[t].new_tensor(self.weights[t]) for t in self.tasks}
        return {t: weights[t] * losses[t] for t in self.tasks}, weights
