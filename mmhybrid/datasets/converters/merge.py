"""Merge converted annotations into one label space."""
import json
from collections import defaultdict
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from ..partial_multi_label import (AnnotationError, check_class_sets,
                                   check_entry)
from .conversion import Conversion


class Source(NamedTuple):
    """One annotation to merge.

    Args:
        name (str): The source's name: the name of its class set in the
            merged file, and its key in the mapping file.
        ann_file (str): Its annotation (our JSON format).
        prefix (str): Joined before its image paths, so that all paths are
            relative to one data prefix (e.g. ``'coco/train2017/'``).
    """
    name: str
    ann_file: str
    prefix: str = ''


def read_annotation(path: str) -> Tuple[dict, list]:
    """``(metainfo, data_list)`` of an annotation file, with errors naming
    it."""
    try:
        with open(path) as f:
            annotation = json.load(f)
    except OSError as e:
        raise AnnotationError(f"cannot read '{path}': {e}") from None
    except json.JSONDecodeError as e:
        raise AnnotationError(f"malformed JSON in '{path}': {e.msg} (line "
                              f'{e.lineno}, column {e.colno})') from None
    metainfo = annotation.get('metainfo') if isinstance(annotation,
                                                        dict) else None
    if not isinstance(metainfo, dict) or not metainfo.get('classes') or \
            not isinstance(annotation.get('data_list'), list):
        raise AnnotationError(f"'{path}': expected metainfo.classes and a "
                              'data_list')
    return metainfo, annotation['data_list']


def merged_label_space(
        sources: Sequence[Source], classes: Dict[str, List[str]],
        mapping: Dict[str, Dict[str, str]],
        conversion: Conversion) -> Tuple[List[str], Dict[str, List[int]]]:
    """The merged class list (first appearance order) and, per source, the
    merged index of each of its classes.

    Raises:
        AnnotationError: for an unresolved name collision (a merged name
            reached by classes of several sources, not all of them listed in
            the mapping file) or a mapping entry naming an unknown class.
    """
    for source, renames in mapping.items():
        if source not in classes:
            raise AnnotationError(f'mapping file: unknown source {source!r} '
                                  f'(sources: {sorted(classes)})')
        unknown = sorted(set(renames) - set(classes[source]))
        if unknown:
            raise AnnotationError(f'mapping file: {source!r} has no classes '
                                  f'{unknown[:10]}')
    merged: List[str] = []
    position: Dict[str, int] = {}
    contributors = defaultdict(list)  # merged name -> [(source, class)]
    remap: Dict[str, List[int]] = {}
    for source in sources:
        renames = mapping.get(source.name, {})
        indices = []
        for cls in classes[source.name]:
            target = renames.get(cls, cls)
            if target not in position:
                position[target] = len(merged)
                merged.append(target)
            contributors[target].append((source.name, cls))
            indices.append(position[target])
        remap[source.name] = indices

    unresolved = []
    for target, owners in contributors.items():
        if len({s for s, _ in owners}) < 2:
            continue
        implicit = [(s, c) for s, c in owners if c not in mapping.get(s, {})]
        if implicit:
            unresolved.append(f'{target!r} from ' + ', '.join(
                f'{s}:{c!r}' for s, c in owners))
        else:
            conversion.note(f'merged into {target!r}: ' + ', '.join(
                f'{s}:{c!r}' for s, c in owners))
    if unresolved:
        raise AnnotationError(
            f'{len(unresolved)} class name collision(s) between sources; list '
            'each colliding class under its source in a mapping file (the '
            'same target name = one class, different names = separate '
            'classes): ' + '; '.join(unresolved[:20]))
    for source, renames in mapping.items():
        for cls, target in renames.items():
            if cls != target:
                conversion.note(f'renamed {source}:{cls!r} -> {target!r}')
    return merged, remap


def merge_annotations(
        sources: Sequence[Source],
        mapping: Optional[Dict[str, Dict[str, str]]] = None,
        name: str = 'merged') -> Tuple[Conversion, Dict[str, Conversion]]:
    """Union several annotations into one label space.

    Each source's classes keep their names unless the mapping file renames
    them; a name that several sources have is a *collision* and must be
    resolved explicitly (see :func:`merged_label_space`). In the merged file
    every source is a class set (``metainfo.class_sets[source.name]``, its
    classes' merged indices), and each entry knows only its source's classes:

    - a fully labelled entry gets ``known_set: <source>``: negative for its
      source's classes that are not positive, unknown for the other sources'
      classes (a COCO image says nothing about Open Images' "Tree");
    - a partial entry keeps its verified negatives (remapped) and its known
      set (as ``<source>/<set>``, or ``<source>`` when the set is all of the
      source's classes);
    - an unlabelled entry stays unlabelled.

    Train the merged set with ``PartialMultiLabelLinearClsHead(unknown=
    'ignore')``. An image path found in an earlier source is skipped (with a
    reason).

    Args:
        sources (Sequence[Source]): The annotations, in order.
        mapping (dict, optional): ``{source: {class: merged name}}``.
        name (str): The merged set's name in messages and summaries.

    Returns:
        tuple: The merged :class:`Conversion`, and one :class:`Conversion` per
        source holding that source's entries in the merged label space (same
        classes and class sets: a ``ConcatDataset`` of them, mixed in chosen
        proportions by ``RatioSampler``, needs no ``ignore_keys``).
    """
    mapping = mapping or {}
    names = [s.name for s in sources]
    if len(set(names)) != len(names) or not all(names):
        raise AnnotationError(f'source names must be unique and non-empty, '
                              f'got {names}')
    metas, data = {}, {}
    for source in sources:
        metas[source.name], data[source.name] = read_annotation(
            source.ann_file)
    classes = {n: list(m['classes']) for n, m in metas.items()}
    merged = Conversion(name, [])
    merged.classes, remap = merged_label_space(sources, classes, mapping,
                                               merged)

    class_sets: Dict[str, List[int]] = {}
    set_names: Dict[str, Dict[str, str]] = {}
    for source in sources:
        own = sorted(set(remap[source.name]))
        class_sets[source.name] = own
        set_names[source.name] = {}
        sets = check_class_sets(metas[source.name].get('class_sets'),
                                f"'{source.ann_file}'",
                                len(classes[source.name]))
        for set_name, indices in sets.items():
            target = sorted({remap[source.name][c] for c in indices})
            if target == own:
                set_names[source.name][set_name] = source.name
            else:
                set_names[source.name][set_name] = f'{source.name}/{set_name}'
                class_sets[f'{source.name}/{set_name}'] = target
    merged.class_sets = class_sets

    per_source = {}
    first_seen: Dict[str, str] = {}
    for source in sources:
        part = Conversion(source.name, merged.classes, class_sets)
        sets = check_class_sets(metas[source.name].get('class_sets'),
                                f"'{source.ann_file}'",
                                len(classes[source.name]))
        index = remap[source.name]
        for i, raw in enumerate(data[source.name]):
            where = f"'{source.ann_file}', data_list[{i}]"
            entry = check_entry(raw, where, len(classes[source.name]), sets,
                                classes[source.name])
            img_path = source.prefix + entry.img_path
            if img_path in first_seen:
                merged.skip(f'{source.name} data_list[{i}]',
                            f'img_path already in {first_seen[img_path]}')
                continue
            first_seen[img_path] = source.name
            out = dict(entry.extra, img_path=img_path)
            if entry.positives is None:
                out['gt_label'] = []
            else:
                positives = sorted({index[c] for c in entry.positives})
                out['gt_label'] = positives
                if entry.negatives is None:
                    out['known_set'] = source.name
                else:
                    negatives = {index[c] for c in entry.negatives}
                    out['gt_negative'] = sorted(negatives - set(positives))
                    if entry.known_set is not None:
                        out['known_set'] = set_names[source.name][
                            entry.known_set]
            part.data_list.append(out)
        merged.data_list.extend(part.data_list)
        per_source[source.name] = part
    return merged, per_source
