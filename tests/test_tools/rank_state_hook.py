"""Test-only hooks: each rank saves its model state before and after training,
kills itself, injects NaN, dumps per-step losses."""
import os
import os.path as osp
import signal

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class DumpRankStateHook(Hook):
    """Saves ``rank{r}_state_start.pth`` (the weights training starts from) and
    ``rank{r}_state.pth`` (after training) in the work dir."""

    @staticmethod
    def _dump(runner, suffix: str) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        torch.save({k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
                   osp.join(runner.work_dir, f'rank{get_rank()}_state{suffix}.pth'))

    def before_train(self, runner) -> None:
        self._dump(runner, '_start')

    def after_train(self, runner) -> None:
        self._dump(runner, '')


@HOOKS.register_module()
class InjectNaNHook(Hook):
    """Test-only: from iteration ``at`` (1-based) on, the MIM decoder outputs NaN."""

    def __init__(self, at: int) -> None:
        self.at = at

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if runner.iter + 1 == self.at:
            model = runner.model.module if is_model_wrapper(runner.model) else runner.model
            model.mim_neck.register_forward_hook(lambda m, i, out: out * float('nan'))


@HOOKS.register_module()
class SigkillHook(Hook):
    """Test-only: the process kills itself (SIGKILL) after iteration ``at``
    (1-based), or while saving the checkpoint of that iteration."""

    def __init__(self, at: int, during_save: bool = False) -> None:
        self.at = at
        self.during_save = during_save

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if not self.during_save and runner.iter + 1 == self.at:
            os.kill(os.getpid(), signal.SIGKILL)

    def before_save_checkpoint(self, runner, checkpoint) -> None:
        if self.during_save and runner.iter + 1 == self.at:
            # die after the bytes are written, before the rename
            os.replace = lambda *args: os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class DumpStepLossesHook(Hook):
    """Test-only: per iteration, the log variables averaged over ranks (the
    loss DDP optimises is the mean of the ranks' losses), each rank's image
    paths and number of labelled samples; saved by every rank after training
    to ``rank{r}_steps.pth``."""

    def before_train(self, runner) -> None:
        self.steps = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        from mmengine.dist import all_reduce, is_distributed
        keys = sorted(outputs)
        values = torch.stack([torch.as_tensor(outputs[k]).detach().double().reshape(())
                              for k in keys])
        if is_distributed():
            all_reduce(values, op='mean')
        samples = data_batch['data_samples']
        self.steps.append(dict(
            log_vars=dict(zip(keys, values.tolist())),
            img_paths=[ds.img_path for ds in samples],
            num_labelled=sum('gt_label' in ds or 'gt_score' in ds for ds in samples)))

    def after_train(self, runner) -> None:
        torch.save(self.steps, osp.join(runner.work_dir, f'rank{get_rank()}_steps.pth'))
