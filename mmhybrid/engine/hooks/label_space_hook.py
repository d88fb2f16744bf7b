"""Refuse checkpoints whose label names differ from the data's."""
from typing import List, Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop
from mmpretrain.registry import HOOKS


def _loop_classes(loop) -> Optional[List[str]]:
    if not isinstance(loop, BaseLoop):
        return None  # not built: this run does not use it
    classes = getattr(loop.dataloader.dataset, 'metainfo', {}).get('classes')
    return list(classes) if classes is not None else None


@HOOKS.register_module()
class LabelSpaceHook(Hook):
    """Check that a loaded checkpoint was trained on the same label list.

    mmengine writes the training set's ``metainfo`` (its ``classes``, the label
    names of the multi-label head, in order) into every checkpoint's
    ``meta.dataset_meta``. When a checkpoint is loaded for resuming, fine-tuning
    or evaluation, this hook compares those names with the current data's, and
    raises instead of letting a reordered or different label list silently
    mis-map the head's outputs. Before training it also checks that the
    multi-label head has one output per class name.
    """

    priority = 'VERY_HIGH'

    @staticmethod
    def current_classes(runner) -> Optional[List[str]]:
        for loop in (runner._train_loop, runner._val_loop, runner._test_loop):
            classes = _loop_classes(loop)
            if classes is not None:
                return classes
        return None

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = ((checkpoint.get('meta') or {}).get('dataset_meta') or {}).get('classes')
        current = self.current_classes(runner)
        if saved is None or current is None:
            return
        saved = list(saved)
        if saved != current:
            raise ValueError(
                'label space mismatch: the checkpoint was trained on '
                f'{len(saved)} classes, this run\'s data has {len(current)}; '
                + _first_difference(saved, current)
                + '. Rebuild the annotation with the checkpoint\'s class list '
                '(meta.dataset_meta.classes) or train a new head.')

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        head = getattr(model, 'cls_head', None)
        classes = _loop_classes(runner._train_loop)
        if head is None or classes is None or not hasattr(head, 'num_classes'):
            return
        if head.num_classes != len(classes):
            raise ValueError(
                f'the multi-label head has {head.num_classes} outputs but the '
                f'training data names {len(classes)} classes: set '
                f'num_classes={len(classes)} in the config')


def _first_difference(saved: List[str], current: List[str]) -> str:
    for i, (a, b) in enumerate(zip(saved, current)):
        if a != b:
            return f'first difference at index {i}: checkpoint {a!r}, data {b!r}'
    longer, name = (saved, 'checkpoint') if len(saved) > len(current) else (current, 'data')
    return f'the {name} has extra classes from index {min(len(saved), len(current))}: ' \
           f'{longer[min(len(saved), len(current)):][:5]}'
