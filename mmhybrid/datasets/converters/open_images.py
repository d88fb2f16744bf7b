"""Open Images image-level labels -> partial multi-label annotation."""
import csv
from collections import Counter
from typing import Dict, List, Optional, Sequence

from ..partial_multi_label import AnnotationError
from .conversion import Conversion

LABELS_HEADER = ['ImageID', 'Source', 'LabelName', 'Confidence']


def read_class_descriptions(path: str) -> Dict[str, str]:
    """``LabelName,DisplayName`` rows (with or without that header line, as
    Open Images ships them) -> ``{label_name: display_name}`` in file
    order."""
    names = {}
    with open(path, newline='', encoding='utf-8') as f:
        for lineno, row in enumerate(csv.reader(f), start=1):
            if not row or (lineno == 1 and row == ['LabelName', 'DisplayName']):
                continue
            if len(row) != 2:
                raise AnnotationError(
                    f"'{path}', line {lineno}: expected LabelName,DisplayName, "
                    f'got {row!r}')
            names[row[0]] = row[1]
    return names


def unique_display_names(label_names: Sequence[str],
                         display: Dict[str, str],
                         conversion: Conversion) -> List[str]:
    """Display names, made unique: a name shared by several label names
    becomes ``'Name (/m/xyz)'`` for each of them (noted in the summary)."""
    counts = Counter(display[n] for n in label_names)
    names = []
    for n in label_names:
        if counts[display[n]] > 1:
            names.append(f'{display[n]} ({n})')
        else:
            names.append(display[n])
    shared = sorted(name for name, c in counts.items() if c > 1)
    if shared:
        conversion.note(f'{len(shared)} display names shared by several '
                        f'label names, suffixed with the label name: '
                        f'{shared[:10]}')
    return names


def convert_open_images(labels_csv: str, class_descriptions_csv: str,
                        path_template: str = '{image_id}.jpg',
                        trainable_classes: Optional[str] = None,
                        sources: Optional[Sequence[str]] = None,
                        all_classes: bool = False,
                        name: str = 'openimages') -> Conversion:
    """Convert Open Images image-level labels.

    ``labels_csv`` has the header ``ImageID,Source,LabelName,Confidence``
    (e.g. ``oidv6-train-annotations-human-imagelabels.csv``). A row with
    confidence 1 is a positive, 0 a verified negative; a class not listed for
    an image is unknown. So every image becomes a *partial* entry
    (``gt_label`` + ``gt_negative``), trained with
    ``PartialMultiLabelLinearClsHead(unknown='ignore')``.

    Skipped with a reason (in the summary): rows with a label name missing from
    the class descriptions (or the trainable list), a confidence other than 0
    and 1, a source not in ``sources``, malformed rows; a class given both
    confidences for one image is left unknown.

    Args:
        labels_csv (str): The image-level labels file.
        class_descriptions_csv (str): ``LabelName,DisplayName`` rows.
        path_template (str): The image path of an ``ImageID``, relative to the
            data prefix. Defaults to ``'{image_id}.jpg'``.
        trainable_classes (str, optional): A file with one label name per line
            (e.g. ``oidv6-classes-trainable.txt``); other classes are skipped.
        sources (Sequence[str], optional): Keep only rows of these sources
            (e.g. ``['verification', 'crowdsource-verification']`` for human
            labels only). Defaults to all.
        all_classes (bool): Keep every described (or trainable) class, even
            when no row uses it. Defaults to False: only classes with at
            least one kept row, in the descriptions' order.
        name (str): The source's name in messages and summaries.
    """
    display = read_class_descriptions(class_descriptions_csv)
    allowed = None
    if trainable_classes:
        with open(trainable_classes) as f:
            allowed = {line.strip() for line in f if line.strip()}
    sources = set(sources) if sources else None

    conversion = Conversion(name, [])
    images: Dict[str, Dict[str, set]] = {}
    with open(labels_csv, newline='', encoding='utf-8') as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != LABELS_HEADER:
            raise AnnotationError(
                f"'{labels_csv}', line 1: expected the header "
                f"{','.join(LABELS_HEADER)}, got {header!r}")
        for lineno, row in enumerate(reader, start=2):
            where = f'line {lineno}'
            if len(row) != 4:
                conversion.skip(where, 'malformed row (not 4 columns)')
                continue
            image_id, source, label_name, confidence = row
            labels = images.setdefault(image_id, dict(pos=set(), neg=set()))
            if sources is not None and source not in sources:
                conversion.skip(where, f'source {source!r} not kept')
                continue
            if label_name not in display:
                conversion.skip(where, 'LabelName not in the class '
                                'descriptions')
                continue
            if allowed is not None and label_name not in allowed:
                conversion.skip(where, 'LabelName not in the trainable '
                                'classes')
                continue
            try:
                value = float(confidence)
            except ValueError:
                value = None
            if value == 1:
                labels['pos'].add(label_name)
            elif value == 0:
                labels['neg'].add(label_name)
            else:
                conversion.skip(where, 'confidence not 0 or 1')

    used = set()
    for image_id, labels in images.items():
        both = labels['pos'] & labels['neg']
        for label_name in sorted(both):
            conversion.skip(f'{image_id} {label_name}', 'confidence 1 and 0 '
                            'for the same image and class (left unknown)')
        labels['pos'] -= both
        labels['neg'] -= both
        used |= labels['pos'] | labels['neg']
    label_names = [n for n in display
                   if (n in used or all_classes)
                   and (allowed is None or n in allowed)]
    conversion.classes = unique_display_names(label_names, display, conversion)
    index = {n: i for i, n in enumerate(label_names)}
    for image_id, labels in images.items():
        conversion.data_list.append(dict(
            img_path=path_template.format(image_id=image_id),
            gt_label=sorted(index[n] for n in labels['pos']),
            gt_negative=sorted(index[n] for n in labels['neg'])))
    return conversion
