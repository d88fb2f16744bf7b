"""COCO instances JSON -> image-level object labels."""
import json

from ..partial_multi_label import AnnotationError
from .conversion import Conversion


def convert_coco(instances_json: str, path_prefix: str = '',
                 include_crowd: bool = True, empty: str = 'negative',
                 name: str = 'coco') -> Conversion:
    """Image-level labels from COCO instance annotations: an image is positive
    for every category it has an instance of.

    COCO's annotators marked every instance of its categories, so the labels
    are complete: an image is negative for every category it has no instance
    of. The entries are therefore fully labelled. An image without any
    instance is labelled too (negative for everything), written as
    ``gt_label: []`` with ``known_set`` ``name`` (a class set of all the
    categories), since an empty ``gt_label`` alone means unlabelled.

    Classes are the category names in category id order.

    Args:
        instances_json (str): e.g. ``annotations/instances_train2017.json``.
        path_prefix (str): Joined before each image's ``file_name``
            (e.g. ``'train2017/'``). Defaults to ''.
        include_crowd (bool): Whether ``iscrowd`` instances count as
            positives (they are the category, just not separable). Defaults
            to True.
        empty (str): Images without instances: ``'negative'`` (default, see
            above), ``'unlabelled'`` or ``'skip'``.
        name (str): The source's name in messages and summaries.

    Skipped with a reason: annotations whose image or category id is unknown
    (and crowd instances with ``include_crowd=False``).
    """
    if empty not in ('negative', 'unlabelled', 'skip'):
        raise ValueError("empty must be 'negative', 'unlabelled' or 'skip', "
                         f'got {empty!r}')
    try:
        with open(instances_json) as f:
            coco = json.load(f)
    except json.JSONDecodeError as e:
        raise AnnotationError(f"malformed JSON in '{instances_json}': {e.msg} "
                              f'(line {e.lineno}, column {e.colno})') from None
    for key in ('images', 'annotations', 'categories'):
        if not isinstance(coco.get(key), list):
            raise AnnotationError(f"'{instances_json}': no {key!r} list (not "
                                  'a COCO instances file?)')
    categories = sorted(coco['categories'], key=lambda c: c['id'])
    category_index = {c['id']: i for i, c in enumerate(categories)}
    conversion = Conversion(name, [c['name'] for c in categories])
    if empty == 'negative':
        conversion.class_sets = {name: list(range(len(categories)))}

    labels = {image['id']: set() for image in coco['images']}
    for ann in coco['annotations']:
        where = f"annotation id {ann.get('id')}"
        if ann.get('image_id') not in labels:
            conversion.skip(where, 'unknown image_id')
            continue
        if ann.get('category_id') not in category_index:
            conversion.skip(where, 'unknown category_id')
            continue
        if ann.get('iscrowd') and not include_crowd:
            conversion.skip(where, 'crowd instance (include_crowd=False)')
            continue
        labels[ann['image_id']].add(category_index[ann['category_id']])

    for image in coco['images']:
        entry = dict(img_path=path_prefix + image['file_name'],
                     gt_label=sorted(labels[image['id']]))
        if not entry['gt_label']:
            if empty == 'skip':
                conversion.skip(image['file_name'], 'no instances (skipped)')
                continue
            if empty == 'negative':
                entry['known_set'] = name
        conversion.data_list.append(entry)
    if empty == 'negative' and not any('known_set' in e
                                       for e in conversion.data_list):
        conversion.class_sets = {}
    return conversion
