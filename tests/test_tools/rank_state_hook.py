"""Test-only hook: each rank saves its model state at the end of training."""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class DumpRankStateHook(Hook):

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()},
                   osp.join(runner.work_dir, f'rank{get_rank()}_state.pth'))


@HOOKS.register_module()
class InjectNaNHook(Hook):
    """Test-only: from iteration ``at`` (1-based) on, the MIM decoder outputs NaN."""

    def __init__(self, at: int) -> None:
        self.at = at

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if runner.iter + 1 == self.at:
            model = runner.model.module if is_model_wrapper(runner.model) else runner.model
            model.mim_neck.register_forward_hook(lambda m, i, out: out * float('nan'))
