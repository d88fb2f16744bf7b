"""The result of converting a data set: our annotation, plus a summary."""
import json
import os
import os.path as osp
import statistics
from collections import Counter, defaultdict
from typing import Dict, List, Optional, Sequence

from ..label_index import SUFFIX, LabelIndexWriter
from ..partial_multi_label import check_class_sets, check_entry


class Conversion:
    """A converted data set in :class:`PartialMultiLabelDataset`'s format, and
    the record of what the converter skipped.

    Converters fill :attr:`data_list` with entries (``img_path``,
    ``gt_label``, optional ``gt_negative`` / ``known_set``) and call
    :meth:`skip` for every input record they could not use, with a short
    reason; :meth:`write` validates every entry (the dataset's checks and
    messages), writes the JSON annotation, a ``*.summary.json`` and, on
    request, a ``.lblidx`` label index.

    Args:
        name (str): The source's name (used in messages and by the merge
            tool), e.g. ``'openimages'``.
        classes (Sequence[str]): The label space.
        class_sets (dict, optional): ``metainfo.class_sets``.
    """

    #: examples of skipped records kept per reason
    MAX_EXAMPLES = 5

    def __init__(self, name: str, classes: Sequence[str],
                 class_sets: Optional[Dict[str, List[int]]] = None):
        self.name = name
        self.classes = list(classes)
        self.class_sets = dict(class_sets or {})
        self.data_list: List[dict] = []
        self.skipped: Counter = Counter()
        self.skip_examples: Dict[str, List[str]] = defaultdict(list)
        self.notes: List[str] = []

    def skip(self, where: str, reason: str) -> None:
        """Record an input record that was not converted (or only partly)."""
        self.skipped[reason] += 1
        if len(self.skip_examples[reason]) < self.MAX_EXAMPLES:
            self.skip_examples[reason].append(where)

    def note(self, message: str) -> None:
        """Record something the user should read (e.g. a renamed class)."""
        self.notes.append(message)

    @property
    def metainfo(self) -> dict:
        metainfo = dict(classes=self.classes)
        if self.class_sets:
            metainfo['class_sets'] = self.class_sets
        return metainfo

    # ---- summary -------------------------------------------------------------

    def summary(self) -> dict:
        """Counts a user checks a conversion by: images, labelled / partial /
        unlabelled, positives and verified negatives per labelled image,
        classes (and how many never occur), skipped records by reason."""
        positives, negatives, per_class = [], [], Counter()
        partial = unlabelled = 0
        sets = check_class_sets(self.class_sets, self.name, len(self.classes))
        for i, raw in enumerate(self.data_list):
            entry = check_entry(raw, f"'{self.name}', data_list[{i}]",
                                len(self.classes), sets, self.classes)
            if entry.positives is None:
                unlabelled += 1
                continue
            partial += entry.negatives is not None
            positives.append(len(entry.positives))
            negatives.append(len(entry.negatives or []))
            per_class.update(entry.positives)

        def stats(values):
            if not values:
                return dict(mean=0, median=0, min=0, max=0)
            return dict(mean=round(statistics.fmean(values), 3),
                        median=statistics.median(values), min=min(values),
                        max=max(values))

        most_common = [(self.classes[c], n) for c, n in per_class.most_common(10)]
        return dict(
            source=self.name,
            images=len(self.data_list),
            labelled=len(self.data_list) - unlabelled,
            partially_labelled=partial,
            unlabelled=unlabelled,
            positives_per_labelled_image=stats(positives),
            explicit_negatives_per_labelled_image=stats(negatives),
            classes=len(self.classes),
            classes_without_positives=sum(
                1 for c in range(len(self.classes)) if not per_class[c]),
            most_frequent_classes=most_common,
            class_sets={k: len(v) for k, v in self.class_sets.items()},
            skipped=dict(total=sum(self.skipped.values()),
                         by_reason=dict(self.skipped.most_common()),
                         examples=dict(self.skip_examples)),
            notes=self.notes)

    # ---- writing -------------------------------------------------------------

    def validate(self) -> None:
        """Check every entry as the dataset will (raises AnnotationError)."""
        sets = check_class_sets(self.class_sets, self.name, len(self.classes))
        for i, entry in enumerate(self.data_list):
            check_entry(entry, f"'{self.name}', data_list[{i}]",
                        len(self.classes), sets, self.classes)

    def write(self, out: str, index: bool = False) -> dict:
        """Write ``out`` (JSON, one entry a line), ``<out
        without .json>.summary.json`` and with ``index`` the label index
        ``<out without .json>.lblidx``. Returns the summary.

        The entries are validated first (and again, with duplicate paths,
        while the index is written), so a written file always loads.
        """
        if not out.endswith('.json'):
            raise ValueError(f'the annotation file name ends in .json, got '
                             f'{out!r}')
        self.validate()
        stem = out[:-len('.json')]
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        tmp = out + '.tmp'
        with open(tmp, 'w') as f:
            f.write('{"metainfo": ' + json.dumps(self.metainfo) +
                    ',\n "data_list": [')
            for i, entry in enumerate(self.data_list):
                f.write((',\n  ' if i else '\n  ') + json.dumps(entry))
            f.write('\n ]\n}\n')
        os.replace(tmp, out)
        summary = self.summary()
        summary['annotation'] = out
        if index:
            writer = LabelIndexWriter(self.classes, self.class_sets,
                                      source=out)
            for i, entry in enumerate(self.data_list):
                writer.add(entry, f'data_list[{i}]')
            summary['label_index'] = writer.save(stem + SUFFIX).root
        with open(stem + '.summary.json', 'w') as f:
            json.dump(summary, f, indent=1)
        return summary


def format_summary(summary: dict) -> str:
    """A few readable lines of :meth:`Conversion.summary`."""
    pos = summary['positives_per_labelled_image']
    neg = summary['explicit_negatives_per_labelled_image']
    skipped = summary['skipped']
    lines = [
        f"{summary['source']}: {summary['images']} images, "
        f"{summary['labelled']} labelled ({summary['partially_labelled']} "
        f"partially), {summary['unlabelled']} unlabelled",
        f"  positives per labelled image: mean {pos['mean']}, median "
        f"{pos['median']}, max {pos['max']}; verified negatives: mean "
        f"{neg['mean']}, max {neg['max']}",
        f"  classes: {summary['classes']} ({summary['classes_without_positives']}"
        ' without any positive image)',
        f"  skipped: {skipped['total']}",
    ]
    for reason, count in skipped['by_reason'].items():
        examples = ', '.join(skipped['examples'].get(reason, [])[:3])
        lines.append(f'    {count} x {reason} (e.g. {examples})')
    lines += [f'  note: {note}' for note in summary['notes']]
    for key in ('annotation', 'label_index'):
        if key in summary:
            lines.append(f'  wrote {summary[key]}')
    return '\n'.join(lines)
