"""Diagnostics: how the tasks' gradients on the shared backbone relate."""
import itertools
import math
from typing import List, Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class TaskGradientHook(Hook):
    """Every ``interval`` iterations, log each task's gradient norm on the
    shared backbone and the pairwise cosine similarity of those gradients.

    Scalars: ``grad_norm/<task>`` and ``grad_cos/<task_a>-<task_b>``. Each task's
    gradient is that of its *weighted* loss term (what actually trains the
    backbone), taken on the batch just trained on, with one extra forward pass
    (the CPU RNG and the CUDA RNG of the model's GPUs are restored afterwards,
    so training draws the same random numbers with or without the hook; the
    momentum encoder is not updated; batch norm running statistics of the
    heads do see the extra pass). Off unless added to ``custom_hooks``:
    ``dict(type='TaskGradientHook', interval=50)``.

    Args:
        interval (int): Iterations between measurements. Defaults to 50.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 50) -> None:
        self.interval = interval

    def after_train_iter(self, runner, batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        if data_batch is None or not self.every_n_train_iters(runner, self.interval):
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        stats = self.measure(model, data_batch)
        for key, value in stats.items():
            runner.message_hub.update_scalar(f'train/{key}', value)

    @staticmethod
    def measure(model, data_batch: dict) -> dict:
        """Per-task gradient norms and pairwise cosines on ``model.backbone``."""
        params = [p for p in model.backbone.parameters() if p.requires_grad]
        # the extra pass may draw random numbers (drop path) on the model's
        # device: fork the CPU generator and those of the model's GPUs
        cuda = sorted({p.device.index or 0 for p in model.parameters()
                       if p.device.type == 'cuda'})
        with torch.random.fork_rng(devices=cuda, device_type='cuda'):
            data = model.data_preprocessor(data_batch, True)
            raw = model.task_losses(data['inputs'], data['data_samples'],
                                    update_momentum=False)
            weighted, _ = model.balancer(raw)
            grads = {}
            for task in model.tasks:
                g = torch.autograd.grad(weighted[task], params, retain_graph=True,
                                        allow_unused=True)
                grads[task] = [gi if gi is not None else torch.zeros_like(p)
                               for gi, p in zip(g, params)]
        # float64 sums, parameter by parameter: float32 torch.norm and
        # cosine_similarity over the whole concatenated gradient are off by
        # ~1e-4 (a cosine of 1.0001 for parallel gradients)
        dots = {(a, b): _dot(grads[a], grads[b])
                for a, b in itertools.combinations_with_replacement(model.tasks, 2)}
        norms = {t: math.sqrt(dots[(t, t)]) for t in model.tasks}
        stats = {f'grad_norm/{t}': norms[t] for t in model.tasks}
        for a, b in itertools.combinations(model.tasks, 2):
            stats[f'grad_cos/{a}-{b}'] = dots[(a, b)] / max(norms[a] * norms[b], 1e-16)
        return stats


def _dot(a: List[torch.Tensor], b: List[torch.Tensor]) -> float:
    """Dot product of two gradients given as lists of per-parameter tensors."""
    return float(sum(torch.sum(x.double() * y.double()) for x, y in zip(a, b)))
