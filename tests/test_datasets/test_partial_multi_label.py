import json

import pytest
from mmpretrain.datasets.transforms import PackInputs

from mmhybrid.datasets import AnnotationError, PartialMultiLabelDataset

CLASSES = ['a', 'b', 'c', 'd']


def write_ann(tmp_path, data_list, classes=CLASSES, name='ann.json'):
    path = tmp_path / name
    path.write_text(json.dumps(
        dict(metainfo=dict(classes=classes), data_list=data_list), indent=1))
    return str(path)


def build(ann_file, **kwargs):
    return PartialMultiLabelDataset(ann_file=ann_file, data_prefix='imgs',
                                    **kwargs)


def test_labelled_entries_keep_sorted_unique_labels(tmp_path):
    ann = write_ann(tmp_path, [dict(img_path='x.png', gt_label=[3, 0, 3])])
    dataset = build(ann)
    info = dataset.get_data_info(0)
    assert info['gt_label'] == [0, 3]
    assert info['img_path'] == 'imgs/x.png'
    assert dataset.CLASSES == tuple(CLASSES)


def test_empty_label_list_means_unlabelled_not_all_zero(tmp_path):
    ann = write_ann(tmp_path, [
        dict(img_path='x.png', gt_label=[]),
        dict(img_path='y.png'),
        dict(img_path='z.png', gt_label=None),
        dict(img_path='w.png', gt_label=[1]),
    ])
    dataset = build(ann)
    assert len(dataset) == 4  # nothing dropped
    for i in range(3):
        assert 'gt_label' not in dataset.get_data_info(i)
        assert not dataset.is_labelled(i)
        assert dataset.get_cat_ids(i) == []
    assert dataset.is_labelled(3)


def test_unlabelled_sample_is_packed_without_gt_label(tmp_path):
    """The model reads "no gt_label in the data sample" as unlabelled."""
    import numpy as np
    ann = write_ann(tmp_path, [dict(img_path='x.png', gt_label=[]),
                               dict(img_path='y.png', gt_label=[2])])
    dataset = build(ann)
    pack = PackInputs()
    packed = [
        pack(dict(dataset.get_data_info(i), img=np.zeros((4, 4, 3), np.uint8)))
        for i in range(2)
    ]
    assert 'gt_label' not in packed[0]['data_samples']
    assert packed[1]['data_samples'].gt_label.tolist() == [2]


@pytest.mark.parametrize('label', [4, 17])
def test_label_out_of_range_names_file_and_entry(tmp_path, label):
    ann = write_ann(tmp_path, [dict(img_path='x.png', gt_label=[0]),
                               dict(img_path='y.png', gt_label=[1, label])])
    with pytest.raises(AnnotationError,
                       match=rf"ann\.json.*data_list\[1\].*label {label} is "
                       r'out of range \[0, 3\]'):
        build(ann)


def test_negative_label_names_file_and_entry(tmp_path):
    ann = write_ann(tmp_path, [dict(img_path='x.png', gt_label=[-1])])
    with pytest.raises(AnnotationError,
                       match=r"ann\.json.*data_list\[0\].*label -1 is out of "
                       'range'):
        build(ann)


@pytest.mark.parametrize('bad', [1.5, '2', True])
def test_non_integer_label_is_an_error(tmp_path, bad):
    ann = write_ann(tmp_path, [dict(img_path='x.png', gt_label=[bad])])
    with pytest.raises(AnnotationError, match=r'data_list\[0\].*not an integer'):
        build(ann)


def test_malformed_json_names_file_line_and_column(tmp_path):
    path = tmp_path / 'broken.json'
    path.write_text('{"metainfo": {"classes": ["a"]},\n'
                    ' "data_list": [{"img_path": "x.png" "gt_label": [0]}]}\n')
    with pytest.raises(AnnotationError,
                       match=r"malformed JSON in '.*broken\.json': Expecting "
                       r"',' delimiter \(line 2, column 37\)"):
        build(str(path))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(AnnotationError, match=r'nothere\.json.*not found'):
        build(str(tmp_path / 'nothere.json'))


def test_entry_without_img_path_is_an_error(tmp_path):
    ann = write_ann(tmp_path, [dict(gt_label=[0])])
    with pytest.raises(AnnotationError, match=r'data_list\[0\].*"img_path"'):
        build(ann)


def test_classes_are_required(tmp_path):
    ann = write_ann(tmp_path, [dict(img_path='x.png', gt_label=[0])],
                    classes=[])
    with pytest.raises(AnnotationError, match='no class names'):
        build(ann)


def test_classes_argument_overrides_file(tmp_path):
    ann = write_ann(tmp_path, [dict(img_path='x.png', gt_label=[5])])
    dataset = build(ann, classes=[str(i) for i in range(6)])
    assert len(dataset.CLASSES) == 6


def test_duplicate_entries_name_file_and_both_positions(tmp_path):
    ann = write_ann(tmp_path, [
        dict(img_path='x.png', gt_label=[0]),
        dict(img_path='y.png', gt_label=[1]),
        dict(img_path='./x.png', gt_label=[2]),
    ])
    with pytest.raises(AnnotationError,
                       match=r"ann\.json', data_list\[2\]: duplicate img_path "
                       r"'\./x\.png', first at data_list\[0\]"):
        build(ann)


def test_duplicates_skipped_on_request_are_counted_and_logged(tmp_path, logged):
    ann = write_ann(tmp_path, [
        dict(img_path='x.png', gt_label=[0]),
        dict(img_path='x.png', gt_label=[2]),
        dict(img_path='y.png', gt_label=[1]),
        dict(img_path='x.png', gt_label=[]),
    ])
    dataset = build(ann, on_duplicate='skip')
    assert len(dataset) == 2
    assert dataset.get_data_info(0)['gt_label'] == [0]  # the first one kept
    assert dataset.num_duplicates_skipped == 2
    assert any('data_list[1]' in m and 'data_list[0]' in m for m in logged)
    assert any('data_list[3]' in m for m in logged)
    assert any('skipped 2 duplicate entries' in m for m in logged)


# ---- per-class partial labels ------------------------------------------------


def write_partial(tmp_path, data_list, class_sets=None, name='ann.json'):
    metainfo = dict(classes=CLASSES)
    if class_sets is not None:
        metainfo['class_sets'] = class_sets
    path = tmp_path / name
    path.write_text(json.dumps(dict(metainfo=metainfo, data_list=data_list)))
    return str(path)


def test_gt_negative_makes_a_partial_entry(tmp_path):
    ann = write_partial(tmp_path, [
        dict(img_path='full.png', gt_label=[1]),
        dict(img_path='part.png', gt_label=[2, 0], gt_negative=[3, 3]),
        dict(img_path='neg-only.png', gt_label=[], gt_negative=[1]),
        dict(img_path='pos-only.png', gt_label=[1], gt_negative=[]),
        dict(img_path='nothing.png', gt_label=[], gt_negative=[]),
    ])
    dataset = build(ann)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert 'gt_negative' not in infos[0]  # old format: fully labelled
    assert infos[1]['gt_label'] == [0, 2] and infos[1]['gt_negative'] == [3]
    # verified negatives only: labelled, with no positives
    assert infos[2]['gt_label'] == [] and infos[2]['gt_negative'] == [1]
    assert dataset.is_labelled(2)
    assert infos[3]['gt_label'] == [1] and infos[3]['gt_negative'] == []
    assert 'gt_label' not in infos[4] and 'gt_negative' not in infos[4]
    assert not dataset.is_labelled(4)


def test_known_set_adds_the_sets_non_positive_classes_as_negatives(tmp_path):
    ann = write_partial(tmp_path, [
        dict(img_path='x.png', gt_label=[1], known_set='ab'),
        dict(img_path='y.png', gt_label=[], known_set='ab'),
        dict(img_path='z.png', gt_label=[3], gt_negative=[2], known_set='ab'),
    ], class_sets=dict(ab=[0, 1]))
    dataset = build(ann)
    assert dataset.get_data_info(0)['gt_negative'] == [0]
    assert dataset.get_data_info(1)['gt_label'] == []
    assert dataset.get_data_info(1)['gt_negative'] == [0, 1]
    assert dataset.get_data_info(2)['gt_negative'] == [0, 1, 2]


def test_gt_negative_is_packed_for_the_head(tmp_path):
    import numpy as np
    ann = write_partial(tmp_path, [
        dict(img_path='x.png', gt_label=[2], gt_negative=[0, 1])])
    info = build(ann).get_data_info(0)
    packed = PackInputs(algorithm_keys=['gt_negative'])(
        dict(info, img=np.zeros((4, 4, 3), np.uint8)))['data_samples']
    assert packed.gt_label.tolist() == [2]
    assert list(packed.gt_negative) == [0, 1]


def test_positive_and_negative_overlap_names_file_entry_and_class(tmp_path):
    ann = write_partial(tmp_path, [
        dict(img_path='x.png', gt_label=[0]),
        dict(img_path='y.png', gt_label=[1, 2], gt_negative=[2, 3])])
    with pytest.raises(AnnotationError,
                       match=r"ann\.json', data_list\[1\]: class\(es\) 2 "
                       r"\('c'\) in both gt_label and gt_negative"):
        build(ann)


@pytest.mark.parametrize('bad,match', [
    (7, r'gt_negative 7 is out of range \[0, 3\]'),
    (-1, r'gt_negative -1 is out of range'),
    ('1', r"gt_negative '1' is not an integer"),
])
def test_bad_negative_names_file_and_entry(tmp_path, bad, match):
    ann = write_partial(tmp_path, [
        dict(img_path='y.png', gt_label=[1], gt_negative=[0, bad])])
    with pytest.raises(AnnotationError, match=r"ann\.json', data_list\[0\]: "
                       + match):
        build(ann)


def test_undefined_known_set_is_an_error(tmp_path):
    ann = write_partial(tmp_path, [
        dict(img_path='y.png', gt_label=[1], known_set='coco')],
        class_sets=dict(voc=[0]))
    with pytest.raises(AnnotationError, match=r"data_list\[0\]: known_set "
                       r"'coco' is not one of .* \['voc'\]"):
        build(ann)


def test_class_set_out_of_range_is_named(tmp_path):
    ann = write_partial(tmp_path, [dict(img_path='y.png', gt_label=[1])],
                        class_sets=dict(voc=[0, 9]))
    with pytest.raises(AnnotationError, match=r"ann\.json', metainfo\."
                       r"class_sets\['voc'\]: class index 9 is out of range"):
        build(ann)
