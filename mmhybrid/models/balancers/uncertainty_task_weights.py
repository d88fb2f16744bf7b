"""Learned homoscedastic-uncertainty task weighting (Kendall et al., CVPR 2018)."""
from typing import Dict, Sequence, Tuple

import torch
from mmpretrain.registry import MODELS
from torch import nn


@MODELS.register_module()
class UncertaintyTaskWeights(nn.Module):
    """Weight each task by a learned log-variance ``s_t``.

    Each task contributes ``exp(-s_t) * L_t + s_t`` to the total (Kendall, Gal and
    Cipolla, "Multi-Task Learning Using Uncertainty to Weigh Losses", 2018, with
    ``s = log sigma^2``; the ``+ s_t`` term keeps the weights from collapsing to
    zero). The ``log_vars`` are parameters: the optimizer trains them with the
    model and they are saved in the checkpoint.

    Args:
        tasks (Sequence[str]): The enabled tasks (filled in by the algorithm).
        init_log_var (float): Initial ``s_t`` of every task (0 = weight 1).
    """

    def __init__(self, tasks: Sequence[str], init_log_var: float = 0.0) -> None:
        super().__init__()
        self.tasks = tuple(tasks)
        self.log_vars = nn.Parameter(
            torch.full((len(self.tasks), ), float(init_log_var)))

    def forward(self, losses: Dict[str, torch.Tensor]
                ) -> Tuple[Dict[str, torch.Tensor], Dict[str, torch.Tensor]]:
        """Return (weighted loss incl. regulariser per task, weight per task)."""
        weighted, weights = {}, {}
        for i, task in enumerate(self.tasks):
            log_var = self.log_vars[i]
            weights[task] = torch.exp(-log_var)
            weighted[task] = weights[task] * losses[task] + log_var
        return weighted, weights
