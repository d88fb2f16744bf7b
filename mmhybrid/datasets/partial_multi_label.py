"""Multi-label annotations with unlabelled images and per-class partial
labels (positives, verified negatives, unknown classes)."""
import json
import logging
import os.path as osp
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

from mmengine.fileio import get_text, join_path
from mmengine.logging import print_log
from mmpretrain.datasets import MultiLabelDataset
from mmpretrain.registry import DATASETS

#: Entry keys that carry labels; every other key of an entry is kept as is.
LABEL_KEYS = ('gt_label', 'gt_negative', 'known_set')


class AnnotationError(ValueError):
    """An annotation file is malformed or inconsistent. The message names the
    file and the entry (or line) at fault."""


class LabelledEntry(NamedTuple):
    """One validated annotation entry, before its known set is expanded.

    ``positives`` is None for an unlabelled entry. ``negatives`` is None for a
    fully labelled one (every class that is not positive is negative);
    otherwise the entry is *partial*: only ``negatives`` and the classes of
    ``known_set`` that are not positive are negatives, every other class is
    unknown.
    """
    img_path: str
    positives: Optional[List[int]]
    negatives: Optional[List[int]]
    known_set: Optional[str]
    extra: Dict[str, Any]  # the entry's other keys


def _check_indices(values: Any, where: str, key: str,
                   num_classes: int) -> List[int]:
    if isinstance(values, int) and not isinstance(values, bool):
        values = [values]
    if not isinstance(values, (list, tuple)):
        raise AnnotationError(
            f'{where}: {key} must be a list of class indices, got {values!r}')
    for label in values:
        if not isinstance(label, int) or isinstance(label, bool):
            raise AnnotationError(
                f'{where}: {"label" if key == "gt_label" else key} {label!r} '
                'is not an integer class index')
        if label < 0 or label >= num_classes:
            raise AnnotationError(
                f'{where}: {"label" if key == "gt_label" else key} {label} is '
                f'out of range [0, {num_classes - 1}] ({num_classes} classes)')
    return sorted(set(values))


def check_class_sets(class_sets: Any, where: str,
                     num_classes: int) -> Dict[str, List[int]]:
    """Validate ``metainfo.class_sets``: a JSON object mapping a set name to
    a list of class indices (sorted and de-duplicated on return)."""
    if class_sets is None:
        return {}
    if not isinstance(class_sets, dict):
        raise AnnotationError(
            f'{where}: metainfo.class_sets must be an object mapping a name '
            f'to a list of class indices, got {type(class_sets).__name__}')
    return {
        str(name): _check_indices(indices,
                                  f'{where}, metainfo.class_sets[{name!r}]',
                                  'class index', num_classes)
        for name, indices in class_sets.items()
    }


def check_entry(raw: Any, where: str, num_classes: int,
                class_sets: Dict[str, List[int]],
                classes: Optional[Sequence[str]] = None) -> LabelledEntry:
    """Validate one annotation entry (see :class:`PartialMultiLabelDataset`
    for the keys). ``where`` names the file and the entry in error messages.

    Raises:
        AnnotationError: on any malformed or inconsistent field.
    """
    if not isinstance(raw, dict) or not isinstance(
            raw.get('img_path'), str) or not raw['img_path']:
        raise AnnotationError(
            f'{where}: an entry must be an object with a non-empty string '
            f'"img_path", got {raw!r}')
    positives = raw.get('gt_label')
    if positives is not None:
        positives = _check_indices(positives, where, 'gt_label', num_classes)
    negatives = raw.get('gt_negative')
    if negatives is not None:
        negatives = _check_indices(negatives, where, 'gt_negative',
                                   num_classes)
    known_set = raw.get('known_set')
    if known_set is not None:
        if not isinstance(known_set, str) or known_set not in class_sets:
            raise AnnotationError(
                f'{where}: known_set {known_set!r} is not one of the file\'s '
                f'metainfo.class_sets {sorted(class_sets)}')
    if positives and negatives:
        both = sorted(set(positives) & set(negatives))
        if both:
            named = ', '.join(
                f'{c} ({classes[c]!r})' if classes else str(c) for c in both)
            raise AnnotationError(
                f'{where}: class(es) {named} in both gt_label and '
                'gt_negative')
    if not positives and not negatives and known_set is None:
        # no information at all: unlabelled, as before partial labels
        positives = negatives = None
    else:
        positives = positives or []
        if negatives is None and known_set is not None:
            negatives = []
    extra = {
        k: v
        for k, v in raw.items() if k not in LABEL_KEYS and k != 'img_path'
    }
    return LabelledEntry(raw['img_path'], positives, negatives, known_set,
                         extra)


def entry_negatives(entry: LabelledEntry,
                    class_sets: Dict[str, List[int]]) -> Optional[List[int]]:
    """The verified negatives of a partial entry (explicit ones and those of
    its known set), None for a fully labelled or unlabelled entry."""
    if entry.negatives is None:
        return None
    if entry.known_set is None:
        return entry.negatives
    positives = set(entry.positives)
    return sorted(
        set(entry.negatives).union(
            c for c in class_sets[entry.known_set] if c not in positives))


@DATASETS.register_module()
class PartialMultiLabelDataset(MultiLabelDataset):
    """mmpretrain's ``MultiLabelDataset`` with validation, unlabelled entries
    and per-class partial labels.

    The annotation file is mmpretrain's JSON format, with two optional keys
    per entry::

        {"metainfo": {"classes": ["a", "b", "c", ...],
                      "class_sets": {"coco": [0, 1, 2]}},        # optional
         "data_list": [
            {"img_path": "x.png", "gt_label": [0, 3]},           # full
            {"img_path": "y.png", "gt_label": []},               # unlabelled
            {"img_path": "z.png", "gt_label": [1],
             "gt_negative": [0, 4]},                             # partial
            {"img_path": "w.png", "gt_label": [2],
             "known_set": "coco"}, ...]}                         # partial

    Each class of an entry is *positive*, *negative* or *unknown*:

    - ``gt_label``: the positives.
    - no ``gt_negative`` and no ``known_set`` (the format before partial
      labels): a **fully labelled** entry, every other class is negative; an
      empty (or ``null``, or missing) ``gt_label`` then means **unlabelled**:
      the data info has no ``gt_label`` key, so the packed data sample has none
      either (the model reads that as "unlabelled").
    - ``gt_negative``: verified negatives; ``known_set``: the name of a set in
      ``metainfo.class_sets`` whose classes are all known, i.e. negative unless
      positive (a merged data set marks each source's label space this way).
      With either key the entry is **partial**: the classes in neither list
      are unknown. Its data info has ``gt_label`` (possibly empty: only
      negatives verified) and ``gt_negative`` (explicit and known-set
      negatives together), and ``PackInputs(algorithm_keys=['gt_negative'])``
      puts the negatives into the data sample for the label head
      (``PartialMultiLabelLinearClsHead(unknown='ignore')`` trains on known
      classes only).

    Labels are sorted and de-duplicated. Errors (:class:`AnnotationError`),
    each naming the file and the entry:

    - malformed JSON (with the JSON error's line and column);
    - a ``gt_label`` / ``gt_negative`` index that is negative,
      ``>= len(classes)`` or not an integer;
    - a class in both ``gt_label`` and ``gt_negative`` (named with its index
      and class name);
    - a ``known_set`` that ``metainfo.class_sets`` does not define, or a
      malformed ``class_sets``;
    - an entry without a string ``img_path``;
    - the same ``img_path`` twice (both positions named), unless
      ``on_duplicate='skip'``: then later copies are dropped, each logged as a
      warning, and counted in :attr:`num_duplicates_skipped`.

    Class names come from the annotation's ``metainfo``, or ``classes`` /
    ``metainfo`` arguments (which take precedence); they are required.

    A **label index** (a ``.lblidx`` folder written by
    :class:`mmhybrid.datasets.LabelIndex`, e.g. with
    ``tools/dataset_converters/build_label_index.py``) can stand in for the
    JSON file: its arrays are memory-mapped, not parsed, so millions of
    entries load in well under a second and the data loader workers share one
    copy through the page cache. It was validated when it was written; loading
    checks only its structure and that its labels fit the classes.

    Args:
        ann_file (str): Annotation file path (JSON), or a ``.lblidx`` folder.
        on_duplicate (str): ``'error'`` (default) or ``'skip'``. A label index
            holds no duplicates (its writer refuses them).
        **kwargs: Other arguments of :class:`mmpretrain.datasets.BaseDataset`
            (``data_root``, ``data_prefix``, ``classes``, ``pipeline``, ...).
    """

    def __init__(self, ann_file: str, on_duplicate: str = 'error', **kwargs):
        if on_duplicate not in ('error', 'skip'):
            raise ValueError("on_duplicate must be 'error' or 'skip', got "
                             f'{on_duplicate!r}')
        self.on_duplicate = on_duplicate
        self.num_duplicates_skipped = 0
        self.label_index = None
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
        """Validate one entry's positive labels.

        Returns:
            list[int] | None: Sorted unique labels, or None when unlabelled.
        """
        if labels is None:
            return None
        return _check_indices(labels, self._where(position), 'gt_label',
                              num_classes) or None

    def _check_classes(self) -> Tuple[str, ...]:
        classes = self._metainfo.get('classes')
        if not classes:
            raise AnnotationError(
                f"'{self.ann_file}': no class names; give them in the file's "
                'metainfo.classes, or the `classes` / `metainfo` argument')
        # a tuple, as from the `classes` argument: ConcatDataset compares types
        self._metainfo['classes'] = tuple(classes)
        return self._metainfo['classes']

    def load_data_list(self) -> List[dict]:
        entries = self.read_entries()
        classes = self._check_classes()
        num_classes = len(classes)
        class_sets = check_class_sets(
            self._metainfo.get('class_sets'), f"'{self.ann_file}'",
            num_classes)

        data_list, first_seen = [], {}
        self.num_duplicates_skipped = 0
        for position, raw in entries:
            entry = check_entry(raw, self._where(position), num_classes,
                                class_sets, classes)
            info = dict(entry.extra, img_path=entry.img_path)
            if entry.positives is not None:
                info['gt_label'] = entry.positives
            negatives = entry_negatives(entry, class_sets)
            if negatives is not None:
                info['gt_negative'] = negatives

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

    # ---- the memory-mapped label index --------------------------------------

    def full_init(self):
        if self._fully_initialized:
            return
        from .label_index import LabelIndex, is_label_index
        if not is_label_index(self.ann_file):
            return super().full_init()
        if self._indices is not None:
            raise ValueError(
                f"'{self.ann_file}': `indices` is not supported with a label "
                'index; write an index of the subset instead')
        index = LabelIndex.load(self.ann_file)
        for key, value in index.metainfo.items():
            self._metainfo.setdefault(key, value)
        classes = self._check_classes()
        if index.max_label >= len(classes):
            raise AnnotationError(
                f"'{self.ann_file}': label {index.max_label} is out of range "
                f'[0, {len(classes) - 1}] ({len(classes)} classes)')
        self.label_index = index
        self._fully_initialized = True

    def get_data_info(self, idx: int) -> dict:
        if not self._fully_initialized:
            self.full_init()
        if self.label_index is None:
            return super().get_data_info(idx)
        info = self.label_index.data_info(idx)
        info['img_path'] = join_path(self.data_prefix['img_path'],
                                     info['img_path'])
        info['sample_idx'] = idx if idx >= 0 else len(self) + idx
        return info

    def __len__(self) -> int:
        if not self._fully_initialized:
            self.full_init()
        if self.label_index is not None:
            return len(self.label_index)
        return super().__len__()

    # ---- queries that must cope with unlabelled samples --------------------

    def is_labelled(self, idx: int) -> bool:
        """Whether sample ``idx`` has labels (fully or partially)."""
        if self.label_index is not None:
            return self.label_index.is_labelled(idx)
        return 'gt_label' in self.get_data_info(idx)

    def get_cat_ids(self, idx: int) -> List[int]:
        """Positive labels of sample ``idx``; empty for an unlabelled
        sample."""
        if self.label_index is not None:
            return self.label_index.positives(idx)
        return list(self.get_data_info(idx).get('gt_label', []))

    def get_gt_labels(self) -> List[List[int]]:
        """Positive labels of every sample (empty lists for unlabelled
        ones)."""
        return [self.get_cat_ids(i) for i in range(len(self))]

    def extra_repr(self) -> List[str]:
        body = super().extra_repr()
        if self.label_index is not None:
            counts = self.label_index.meta['counts']
            labelled = counts['fully_labelled'] + counts['partial']
        else:
            labelled = sum(self.is_labelled(i) for i in range(len(self)))
        body.append(f'Labelled samples: \t{labelled} of {len(self)}')
        return body
