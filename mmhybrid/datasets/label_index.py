"""A compact, memory-mapped multi-label annotation index (``.lblidx``)."""
import json
import os
import os.path as osp
import shutil
from array import array
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from .partial_multi_label import (AnnotationError, LabelledEntry,
                                  check_class_sets, check_entry)

FORMAT = 'mmhybrid-label-index'
VERSION = 1
SUFFIX = '.lblidx'

UNLABELLED, FULL, PARTIAL = 0, 1, 2

# variable-length columns, each with an offsets array
_RAGGED = ('paths', 'positives', 'negatives')


def is_label_index(path: str) -> bool:
    """Whether ``path`` is a label index folder."""
    return osp.isdir(path) and osp.isfile(osp.join(path, 'meta.json'))


def _label_dtype(num_classes: int):
    return np.uint16 if num_classes <= np.iinfo(np.uint16).max else np.int32


def _offset_dtype(total: int):
    return np.uint32 if total <= np.iinfo(np.uint32).max else np.int64


class LabelIndex:
    """Multi-label annotations as flat arrays, memory-mapped from a folder.

    A JSON ``data_list`` of millions of entries costs ~1 KB of Python objects
    per entry in every process and minutes to parse; this index stores the
    same information (see :class:`PartialMultiLabelDataset` for the label
    semantics) in a few flat arrays, one ``.npy`` file each:

    - ``paths`` (UTF-8 bytes of all image paths) + ``paths_offsets``;
    - ``positives`` / ``negatives`` (class indices, ``uint16`` up to 65535
      classes, else ``int32``) + their ``*_offsets`` (``N + 1`` each, entry
      ``i`` owns ``[offsets[i], offsets[i + 1])``);
    - ``state`` (``int8``: 0 unlabelled, 1 fully labelled, 2 partial) and
      ``known_set`` (``int16``, -1 for none; an index into the names of
      ``metainfo.class_sets``), kept unexpanded: a known set of 20k classes
      costs two bytes per entry, not 20k labels;
    - ``meta.json``: format, version, ``metainfo`` (``classes``,
      ``class_sets``), counts.

    :meth:`load` memory-maps the arrays: loading is O(1) in the number of
    entries, and every process (data loader workers included) reads the same
    pages of the page cache, so the index is paid for once per machine, not
    once per process. Pickling an index loaded from disk pickles its path, not
    its arrays (spawned workers re-map it). Written by
    :class:`LabelIndexWriter`, which validates every entry: loading checks only
    the structure.

    Args:
        root (str): The index folder (kept for pickling and messages).
        arrays (dict[str, numpy.ndarray]): The arrays by name.
        meta (dict): The content of ``meta.json``.
    """

    def __init__(self, root: str, arrays: Dict[str, np.ndarray], meta: dict):
        self.root = root
        self.meta = meta
        self.metainfo = meta['metainfo']
        self.arrays = arrays
        self.state = arrays['state']
        self.known_set = arrays['known_set']
        self._set_names = list(meta.get('known_sets', []))
        sets = self.metainfo.get('class_sets') or {}
        self._sets = [np.asarray(sets[name], dtype=np.int64)
                      for name in self._set_names]

    # ---- loading -----------------------------------------------------------

    @classmethod
    def load(cls, root: str, mmap: bool = True) -> 'LabelIndex':
        """Open an index folder; ``mmap=False`` reads the arrays into memory.

        Raises:
            AnnotationError: when the folder is not an index of this format
                and version, or its arrays are inconsistent.
        """
        meta_file = osp.join(root, 'meta.json')
        try:
            with open(meta_file) as f:
                meta = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise AnnotationError(
                f"'{root}': not a readable label index ({e})") from None
        if meta.get('format') != FORMAT or meta.get('version') != VERSION:
            raise AnnotationError(
                f"'{root}': expected a {FORMAT} version {VERSION}, got "
                f"{meta.get('format')!r} version {meta.get('version')!r}")
        arrays = {}
        for name in meta['arrays']:
            try:
                arrays[name] = np.load(
                    osp.join(root, name + '.npy'),
                    mmap_mode='r' if mmap else None)
            except (OSError, ValueError) as e:
                raise AnnotationError(
                    f"'{root}': cannot read array {name!r} ({e})") from None
        n = meta['num_entries']
        for name in ('state', 'known_set'):
            if len(arrays[name]) != n:
                raise AnnotationError(
                    f"'{root}': {name} has {len(arrays[name])} entries, "
                    f'meta.json says {n}')
        for name in _RAGGED:
            offsets = arrays[name + '_offsets']
            if len(offsets) != n + 1 or (n and int(offsets[-1]) != len(
                    arrays[name])):
                raise AnnotationError(
                    f"'{root}': {name}_offsets does not match {name} "
                    f'({len(offsets)} offsets for {n} entries, last '
                    f'{int(offsets[-1]) if len(offsets) else None}, '
                    f'{len(arrays[name])} values)')
        return cls(root, arrays, meta)

    def __getstate__(self):
        if self.root and is_label_index(self.root) and isinstance(
                self.state, np.memmap):
            return dict(root=self.root)
        return dict(root=self.root, arrays=self.arrays, meta=self.meta)

    def __setstate__(self, state):
        if 'arrays' in state:
            self.__init__(state['root'], state['arrays'], state['meta'])
        else:
            other = LabelIndex.load(state['root'])
            self.__init__(other.root, other.arrays, other.meta)

    # ---- queries -----------------------------------------------------------

    def __len__(self) -> int:
        return len(self.state)

    @property
    def max_label(self) -> int:
        """The largest class index used (-1 without labels)."""
        return self.meta['max_label']

    def _slice(self, name: str, idx: int) -> np.ndarray:
        offsets = self.arrays[name + '_offsets']
        return self.arrays[name][int(offsets[idx]):int(offsets[idx + 1])]

    def img_path(self, idx: int) -> str:
        """The image path of entry ``idx`` as written."""
        return self._slice('paths', idx).tobytes().decode('utf-8')

    def is_labelled(self, idx: int) -> bool:
        """Whether entry ``idx`` has labels (fully or partially)."""
        return bool(self.state[idx] != UNLABELLED)

    def positives(self, idx: int) -> List[int]:
        """The positive classes of entry ``idx``."""
        return self._slice('positives', idx).tolist()

    def negatives(self, idx: int) -> Optional[List[int]]:
        """The verified negatives of entry ``idx`` (explicit and those of its
        known set); None unless the entry is partial."""
        if self.state[idx] != PARTIAL:
            return None
        negatives = self._slice('negatives', idx).astype(np.int64)
        set_id = int(self.known_set[idx])
        if set_id >= 0:
            known = np.setdiff1d(self._sets[set_id],
                                 self._slice('positives', idx),
                                 assume_unique=True)
            negatives = np.union1d(negatives, known)
        return negatives.tolist()

    def data_info(self, idx: int) -> dict:
        """Entry ``idx`` as :class:`PartialMultiLabelDataset` resolves a JSON
        entry: ``img_path`` and, when labelled, ``gt_label`` and (partial
        entries) ``gt_negative``."""
        if idx < 0:
            idx += len(self)
        info = dict(img_path=self.img_path(idx))
        state = self.state[idx]
        if state != UNLABELLED:
            info['gt_label'] = self.positives(idx)
        if state == PARTIAL:
            info['gt_negative'] = self.negatives(idx)
        return info


class LabelIndexWriter:
    """Validate entries one by one and write them as a :class:`LabelIndex`.

    Entries are checked like :class:`PartialMultiLabelDataset` checks a JSON
    entry (the same :class:`AnnotationError` messages, naming ``source`` and
    the entry's position) and held in compact arrays while writing, so an
    index of tens of millions of entries can be built without holding them as
    Python objects. Keys other than ``img_path``, ``gt_label``,
    ``gt_negative`` and ``known_set`` are not stored (counted in
    :attr:`num_extra_keys_dropped`).

    Args:
        classes (Sequence[str]): The label space.
        class_sets (dict, optional): ``metainfo.class_sets``: set name -> class
            indices, for entries with a ``known_set``.
        source (str): How messages name the annotation being converted.
        on_duplicate (str): ``'error'`` (default) or ``'skip'`` (later copies
            of an ``img_path`` are dropped and counted in
            :attr:`num_duplicates_skipped`).
    """

    def __init__(self, classes: Sequence[str],
                 class_sets: Optional[dict] = None, source: str = '<entries>',
                 on_duplicate: str = 'error'):
        if not classes:
            raise AnnotationError(f"'{source}': no class names")
        if on_duplicate not in ('error', 'skip'):
            raise ValueError("on_duplicate must be 'error' or 'skip', got "
                             f'{on_duplicate!r}')
        self.classes = tuple(classes)
        self.source = source
        self.on_duplicate = on_duplicate
        self.class_sets = check_class_sets(class_sets, f"'{source}'",
                                           len(self.classes))
        self._set_ids = {name: i for i, name in enumerate(self.class_sets)}
        self._paths = bytearray()
        self._columns = {name: array('q', [0]) for name in _RAGGED}
        self._positives, self._negatives = array('i'), array('i')
        self._state, self._known_set = array('b'), array('h')
        self._first_seen: Dict[str, str] = {}
        self.num_duplicates_skipped = 0
        self.num_extra_keys_dropped = 0

    def __len__(self) -> int:
        return len(self._state)

    def add(self, raw: Any, position: str) -> bool:
        """Validate one raw entry (a dict as in the JSON ``data_list``) and
        append it. Returns False when it was a skipped duplicate."""
        where = f"'{self.source}', {position}"
        entry = check_entry(raw, where, len(self.classes), self.class_sets,
                            self.classes)
        return self.add_entry(entry, position)

    def add_entry(self, entry: LabelledEntry, position: str) -> bool:
        """Append an already validated entry."""
        key = osp.normpath(entry.img_path)
        if key in self._first_seen:
            message = (f"'{self.source}', {position}: duplicate img_path "
                       f"'{entry.img_path}', first at "
                       f'{self._first_seen[key]}')
            if self.on_duplicate == 'error':
                raise AnnotationError(message)
            self.num_duplicates_skipped += 1
            return False
        self._first_seen[key] = position
        if entry.extra:
            self.num_extra_keys_dropped += 1
        self._paths += entry.img_path.encode('utf-8')
        self._columns['paths'].append(len(self._paths))
        positives = entry.positives or []
        negatives = entry.negatives or []
        self._positives.extend(positives)
        self._columns['positives'].append(len(self._positives))
        self._negatives.extend(negatives)
        self._columns['negatives'].append(len(self._negatives))
        self._state.append(UNLABELLED if entry.positives is None else
                           FULL if entry.negatives is None else PARTIAL)
        self._known_set.append(-1 if entry.known_set is None else
                               self._set_ids[entry.known_set])
        return True

    def save(self, root: str) -> LabelIndex:
        """Write the index folder ``root`` (replacing an older one only once
        the new one is complete) and return it, memory-mapped."""
        arrays = dict(
            paths=np.frombuffer(bytes(self._paths), dtype=np.uint8),
            positives=np.asarray(self._positives),
            negatives=np.asarray(self._negatives),
            state=np.asarray(self._state, dtype=np.int8),
            known_set=np.asarray(self._known_set, dtype=np.int16))
        for name in _RAGGED:
            arrays[name + '_offsets'] = np.asarray(self._columns[name])
        # every entry was checked by add()
        return write_label_index(root, self.classes, arrays, self.class_sets,
                                 validate=False)


def _validate_arrays(arrays: Dict[str, np.ndarray], num_classes: int,
                     num_sets: int, where: str) -> None:
    """Vectorised checks of columnar entries; errors name the first bad
    entry."""
    n = len(arrays['state'])

    def fail(mask, message):
        bad = np.flatnonzero(mask)
        if len(bad):
            raise AnnotationError(f"{where}, entry {int(bad[0])}: {message} "
                                  f'({len(bad)} entries)')

    if len(arrays['known_set']) != n:
        raise AnnotationError(f'{where}: known_set has '
                              f"{len(arrays['known_set'])} entries, state {n}")
    counts = {}
    for name in _RAGGED:
        offsets = np.asarray(arrays[name + '_offsets'], dtype=np.int64)
        if len(offsets) != n + 1 or offsets[0] != 0 or offsets[-1] != len(
                arrays[name]):
            raise AnnotationError(
                f'{where}: {name}_offsets must run from 0 to '
                f'{len(arrays[name])} with {n + 1} values')
        counts[name] = np.diff(offsets)
        fail(counts[name] < 0, f'{name}_offsets decrease')
    fail(counts['paths'] == 0, 'empty img_path')
    fail(~np.isin(arrays['state'], (UNLABELLED, FULL, PARTIAL)),
         'state is not 0, 1 or 2')
    fail((arrays['known_set'] < -1) | (arrays['known_set'] >= num_sets),
         'known_set is not a class set')
    state = arrays['state']
    fail((state == UNLABELLED) & ((counts['positives'] > 0) |
                                  (counts['negatives'] > 0) |
                                  (arrays['known_set'] >= 0)),
         'an unlabelled entry has labels')
    fail((state == FULL) & ((counts['negatives'] > 0) |
                            (arrays['known_set'] >= 0)),
         'a fully labelled entry has negatives or a known set')
    keys = {}
    for name in ('positives', 'negatives'):
        labels = np.asarray(arrays[name], dtype=np.int64)
        owner = np.repeat(np.arange(n), counts[name])
        fail(np.bincount(owner[(labels < 0) | (labels >= num_classes)],
                         minlength=n) > 0,
             f'{name[:-1]} label out of range [0, {num_classes - 1}]')
        keys[name] = owner * num_classes + labels
        order_ok = np.ones(len(labels), dtype=bool)
        order_ok[1:] = (keys[name][1:] > keys[name][:-1]) | (
            owner[1:] != owner[:-1])
        fail(np.bincount(owner[~order_ok], minlength=n) > 0,
             f'{name} are not sorted and unique')
    both = np.intersect1d(keys['positives'], keys['negatives'])
    fail(np.bincount(both // num_classes, minlength=n) > 0,
         'a class is both positive and negative')


def write_label_index(root: str, classes: Sequence[str],
                      arrays: Dict[str, np.ndarray],
                      class_sets: Optional[Dict[str, List[int]]] = None,
                      validate: bool = True) -> LabelIndex:
    """Write entries held as columnar arrays as the index folder ``root``
    (replacing an older one only once the new one is complete) and return it,
    memory-mapped. For pipelines that already hold their annotation as arrays
    (and :class:`LabelIndexWriter`, which holds it so).

    Args:
        root (str): The folder to write, ``*.lblidx``.
        classes (Sequence[str]): The label space.
        arrays (dict): ``paths`` (UTF-8 bytes, ``uint8``), ``positives`` and
            ``negatives`` (class indices, sorted and unique per entry),
            ``paths_offsets`` / ``positives_offsets`` / ``negatives_offsets``
            (``N + 1`` each), ``state`` (0 unlabelled, 1 fully labelled, 2
            partial) and optionally ``known_set`` (index into ``class_sets``,
            -1 for none).
        class_sets (dict, optional): ``metainfo.class_sets``.
        validate (bool): Check the arrays (vectorised; errors name the first
            bad entry). Image paths are not checked for duplicates here
            (:class:`LabelIndexWriter` does).
    """
    if not root.endswith(SUFFIX):
        raise ValueError(f"a label index folder name ends in '{SUFFIX}', "
                         f'got {root!r}')
    class_sets = check_class_sets(class_sets, f"'{root}'", len(classes))
    label_dtype = _label_dtype(len(classes))
    n = len(arrays['state'])
    arrays = dict(arrays)
    arrays.setdefault('known_set', np.full(n, -1, dtype=np.int16))
    if validate:
        _validate_arrays(arrays, len(classes), len(class_sets), f"'{root}'")
    out = dict(paths=np.asarray(arrays['paths'], dtype=np.uint8),
               state=np.asarray(arrays['state'], dtype=np.int8),
               known_set=np.asarray(arrays['known_set'], dtype=np.int16))
    for name in ('positives', 'negatives'):
        out[name] = np.asarray(arrays[name], dtype=label_dtype)
    for name in _RAGGED:
        offsets = np.asarray(arrays[name + '_offsets'])
        out[name + '_offsets'] = offsets.astype(
            _offset_dtype(int(offsets[-1])), copy=False)
    state = out['state']
    max_label = max([int(out[k].max()) for k in ('positives', 'negatives')
                     if len(out[k])] + [-1])
    meta = dict(
        format=FORMAT, version=VERSION, num_entries=n, arrays=sorted(out),
        metainfo=dict(classes=list(classes),
                      **(dict(class_sets=class_sets) if class_sets else {})),
        known_sets=list(class_sets), max_label=max_label,
        counts=dict(unlabelled=int((state == UNLABELLED).sum()),
                    fully_labelled=int((state == FULL).sum()),
                    partial=int((state == PARTIAL).sum()),
                    positives=len(out['positives']),
                    explicit_negatives=len(out['negatives'])))
    tmp = root.rstrip('/') + '.tmp'
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for name, value in out.items():
        np.save(osp.join(tmp, name + '.npy'), value)
    with open(osp.join(tmp, 'meta.json'), 'w') as f:
        json.dump(meta, f)
    if osp.isdir(root):
        shutil.rmtree(root)
    os.rename(tmp, root)
    return LabelIndex.load(root)


def build_label_index(ann_file: str, out: str,
                      classes: Optional[Sequence[str]] = None,
                      dataset_type: str = 'PartialMultiLabelDataset',
                      on_duplicate: str = 'error',
                      log: Callable[[str], Any] = print) -> LabelIndex:
    """Convert an annotation file (JSON, or the ``path<TAB>labels`` list with
    ``dataset_type='MultiLabelListDataset'``) into a label index folder.

    Args:
        ann_file (str): The annotation file.
        out (str): The index folder to write (``*.lblidx``).
        classes (Sequence[str] | str, optional): Class names (or a file of
            them), taking precedence over the file's; required for a list.
        dataset_type (str): The dataset class that reads ``ann_file``.
        on_duplicate (str): ``'error'`` or ``'skip'``.
        log (callable): Receives a one-line summary.
    """
    from .multi_label_list import MultiLabelListDataset
    from .partial_multi_label import PartialMultiLabelDataset
    types = dict(PartialMultiLabelDataset=PartialMultiLabelDataset,
                 MultiLabelListDataset=MultiLabelListDataset)
    if dataset_type not in types:
        raise ValueError(f'dataset_type must be one of {sorted(types)}, got '
                         f'{dataset_type!r}')
    dataset = types[dataset_type](
        ann_file=ann_file, classes=classes, lazy_init=True)
    entries = dataset.read_entries()
    classes = dataset._check_classes()
    writer = LabelIndexWriter(classes, dataset._metainfo.get('class_sets'),
                              source=ann_file, on_duplicate=on_duplicate)
    for position, raw in entries:
        writer.add(raw, position)
    index = writer.save(out)
    counts = index.meta['counts']
    log(f"{out}: {len(index)} entries ({counts['fully_labelled']} fully "
        f"labelled, {counts['partial']} partial, {counts['unlabelled']} "
        f'unlabelled), {len(classes)} classes; '
        f'{writer.num_duplicates_skipped} duplicates skipped, '
        f'{writer.num_extra_keys_dropped} entries had extra keys (dropped)')
    return index
