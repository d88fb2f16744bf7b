"""Carry the random number generators' state through checkpoints."""
import random
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Save the main process's RNG states in every checkpoint and restore them
    when training resumes, so a resumed run draws the same random numbers
    (drop path, ...) as an uninterrupted one.

    mmengine resumes weights, optimizer, schedulers and the MessageHub, and the
    iteration-based loop replays the data loader up to the resumed iteration,
    but it re-seeds the RNGs instead of restoring them. The states saved after
    iteration N are restored right before iteration N + 1 (after that replay).
    Data augmentation is exact too when it runs in loader workers
    (``num_workers >= 1`` with ``randomness.seed`` set: mmengine seeds each
    worker deterministically); with ``num_workers=0`` the replay itself draws
    from the main process's RNG.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._pending: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['random_state'] = dict(
            python=random.getstate(),
            numpy=np.random.get_state(),
            torch=torch.get_rng_state(),
            cuda=(torch.cuda.get_rng_state_all()
                  if torch.cuda.is_available() else None))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._pending = checkpoint.get('random_state')

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch: Optional[dict] = None) -> None:
        if self._pending is None:
            return
        state, self._pending = self._pending, None
        random.setstate(state['python'])
        np.random.set_state(state['numpy'])
        torch.set_rng_state(state['torch'])
        if state.get('cuda') is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state['cuda'])
