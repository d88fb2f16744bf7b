"""Multi-label annotations where some images carry no labels at all."""
import json
import logging
import os.path as osp
from typing import Any, List, Optional, Tuple

from mmengine.fileio import get_text
from mmengine.logging import print_log
from mmpretrain.datasets import MultiLabelDataset
from mmpretrain.registry import DATASETS


class AnnotationError(ValueError):
    """An annotation file is malformed or inconsistent. The message names the
    file and the entry (or line) at fault."""


@DATASETS.register_module()
class PartialMultiLabelDataset(MultiLabelDataset):
    """mmpretrain's ``MultiLabelDataset`` with validation and unlabelled
    entries.

    The annotation file is mmpretrain's JSON format::

        {"metainfo": {"classes": ["a", "b", ...]},
         "data_list": [{"img_path": "x.png", "gt_label": [0, 3]},
                       {"img_path": "y.png", "gt_label": []}, ...]}

    An entry whose ``gt_label`` is an empty list, ``null`` or missing is
    **unlabelled**: its data info has no ``gt_label`` key at all, so the packed
    data sample has none either (which the model reads as "unlabelled"). A
    labelled entry's labels are sorted and de-duplicated.

    Errors (:class:`AnnotationError`), each naming the file and the entry:

    - malformed JSON (with the JSON error's line and column);
    - a label index that is negative, ``>= len(classes)`` or not an integer;
    - an entry without a string ``img_path``;
    - the same ``img_path`` twice (both positions named), unless
      ``on_duplicate='skip'``: then later copies are dropped, each logged as a
      warning, and counted in :attr:`num_duplicates_skipped`.

    Class names come from the annotation's ``metainfo``, or ``classes`` /
    ``metainfo`` arguments (which take precedence); they are required.

    Args:
        ann_file (str): Annotation file path.
        on_duplicate (str): ``'error'`` (default) or ``'skip'``.
        **kwargs: Other arguments of :class:`mmpretrain.datasets.BaseDataset`
            (``data_root``, ``data_prefix``, ``classes``, ``pipeline``, ...).
    """

    def __init__(self, ann_file: str, on_duplicate: str = 'error', **kwargs):
        if on_duplicate not in ('error', 'skip'):
            raise ValueError("on_duplicate must be 'error' or 'skip', got "
                             f'{on_duplicate!r}')
        self.on_duplicate = on_duplicate
        self.num_duplicates_skipped = 0
        super().__init__(ann_file=ann_file, **kwargs)

    # ---- reading: one (position, raw entry) pair per sample ---------------

    def read_entries(self) -> List[Tuple[str, Any]]:
        """Read the annotation file into ``(position, raw_entry)`` pairs, the
        position being how an error message names the entry. Merges the file's
        ``metainfo`` into the dataset's (arguments take precedence)."""
        try:
            text = get_text(self.ann_file)
        except FileNotFoundError:
            raise AnnotationError(
                f"annotation file '{self.ann_file}' not found") from None
        try:
            annotations = json.loads(text)
        except json.JSONDecodeError as e:
            raise AnnotationError(
                f"malformed JSON in '{self.ann_file}': {e.msg} (line "
                f'{e.lineno}, column {e.colno})') from None
        if not isinstance(annotations, dict) or not isinstance(
                annotations.get('data_list'), list):
            raise AnnotationError(
                f"'{self.ann_file}' must hold a JSON object with a "
                '"data_list" list (and a "metainfo" object)')
        metainfo = annotations.get('metainfo', {})
        if not isinstance(metainfo, dict):
            raise AnnotationError(
                f"'{self.ann_file}': \"metainfo\" must be a JSON object")
        for key, value in metainfo.items():
            self._metainfo.setdefault(key, value)
        return [(f'data_list[{i}]', raw)
                for i, raw in enumerate(annotations['data_list'])]

    # ---- validation, shared by every annotation format ---------------------

    def _where(self, position: str) -> str:
        return f"'{self.ann_file}', {position}"

    def check_labels(self, labels: Any, position: str,
                     num_classes: int) -> Optional[List[int]]:
        """Validate one entry's labels.

        Returns:
            list[int] | None: Sorted unique labels, or None when unlabelled.
        """
        if labels is None:
            return None
        if isinstance(labels, int) and not isinstance(labels, bool):
            labels = [labels]
        if not isinstance(labels, (list, tuple)):
            raise AnnotationError(
                f'{self._where(position)}: gt_label must be a list of class '
                f'indices, got {labels!r}')
        for label in labels:
            if not isinstance(label, int) or isinstance(label, bool):
                raise AnnotationError(
                    f'{self._where(position)}: label {label!r} is not an '
                    'integer class index')
            if label < 0 or label >= num_classes:
                raise AnnotationError(
                    f'{self._where(position)}: label {label} is out of range '
                    f'[0, {num_classes - 1}] ({num_classes} classes)')
        return sorted(set(labels)) or None

    def load_data_list(self) -> List[dict]:
        entries = self.read_entries()
        classes = self._metainfo.get('classes')
        if not classes:
            raise AnnotationError(
                f"'{self.ann_file}': no class names; give them in the file's "
                'metainfo.classes, or the `classes` / `metainfo` argument')
        # a tuple, as from the `classes` argument: ConcatDataset compares types
        self._metainfo['classes'] = tuple(classes)
        num_classes = len(classes)

        data_list, first_seen = [], {}
        self.num_duplicates_skipped = 0
        for position, raw in entries:
            if not isinstance(raw, dict) or not isinstance(
                    raw.get('img_path'), str) or not raw['img_path']:
                raise AnnotationError(
                    f'{self._where(position)}: an entry must be an object with '
                    f'a non-empty string "img_path", got {raw!r}')
            info = dict(raw)
            labels = self.check_labels(
                info.pop('gt_label', None), position, num_classes)
            if labels is not None:
                info['gt_label'] = labels

            key = osp.normpath(info['img_path'])
            if key in first_seen:
                message = (f"{self._where(position)}: duplicate img_path "
                           f"'{info['img_path']}', first at "
                           f'{first_seen[key]}')
                if self.on_duplicate == 'error':
                    raise AnnotationError(message)
                self.num_duplicates_skipped += 1
                print_log(f'skipped {message}', logger='current',
                          level=logging.WARNING)
                continue
            first_seen[key] = position
            data_list.append(self.parse_data_info(info))
        if self.num_duplicates_skipped:
            print_log(f"'{self.ann_file}': skipped "
                      f'{self.num_duplicates_skipped} duplicate entries',
                      logger='current', level=logging.WARNING)
        return data_list

    # ---- queries that must cope with unlabelled samples --------------------

    def is_labelled(self, idx: int) -> bool:
        """Whether sample ``idx`` has labels."""
        return 'gt_label' in self.get_data_info(idx)

    def get_cat_ids(self, idx: int) -> List[int]:
        """Labels of sample ``idx``; empty for an unlabelled sample."""
        return list(self.get_data_info(idx).get('gt_label', []))

    def get_gt_labels(self) -> List[List[int]]:
        """Labels of every sample (empty lists for unlabelled ones)."""
        return [self.get_cat_ids(i) for i in range(len(self))]

    def extra_repr(self) -> List[str]:
        body = super().extra_repr()
        labelled = sum(self.is_labelled(i) for i in range(len(self)))
        body.append(f'Labelled samples: \t{labelled} of {len(self)}')
        return body
