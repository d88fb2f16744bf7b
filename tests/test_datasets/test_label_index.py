import json
import pickle

import numpy as np
import pytest

from mmhybrid.datasets import (AnnotationError, LabelIndex, LabelIndexWriter,
                               PartialMultiLabelDataset, build_label_index)

CLASSES = ['a', 'b', 'c', 'd']
ENTRIES = [
    dict(img_path='full.png', gt_label=[3, 1]),
    dict(img_path='unlabelled.png', gt_label=[]),
    dict(img_path='part.png', gt_label=[2], gt_negative=[0]),
    dict(img_path='set.png', gt_label=[1], known_set='ab'),
    dict(img_path='dir/négatif.png', gt_label=[], gt_negative=[3],
         known_set='ab'),
]


def write_json(tmp_path, entries=ENTRIES):
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(dict(
        metainfo=dict(classes=CLASSES, class_sets=dict(ab=[0, 1])),
        data_list=entries)))
    return str(path)


def test_index_dataset_gives_the_same_samples_as_the_json(tmp_path):
    ann = write_json(tmp_path)
    index = build_label_index(ann, str(tmp_path / 'ann.lblidx'),
                              log=lambda msg: None)
    assert index.meta['counts'] == dict(unlabelled=1, fully_labelled=1,
                                        partial=3, positives=4,
                                        explicit_negatives=2)
    from_json = PartialMultiLabelDataset(ann_file=ann, data_prefix='imgs')
    from_index = PartialMultiLabelDataset(
        ann_file=str(tmp_path / 'ann.lblidx'), data_prefix='imgs')
    assert len(from_index) == len(from_json) == 5
    assert from_index.metainfo['classes'] == tuple(CLASSES)
    assert from_index.metainfo['class_sets'] == dict(ab=[0, 1])
    for i in range(5):
        assert from_index.get_data_info(i) == from_json.get_data_info(i)
        assert from_index.is_labelled(i) == from_json.is_labelled(i)
        assert from_index.get_cat_ids(i) == from_json.get_cat_ids(i)
    assert from_index.get_data_info(4)['gt_negative'] == [0, 1, 3]
    assert from_index.get_data_info(-1)['sample_idx'] == 4


def test_index_is_memory_mapped_and_pickles_by_path(tmp_path):
    index = build_label_index(write_json(tmp_path),
                              str(tmp_path / 'ann.lblidx'),
                              log=lambda msg: None)
    assert isinstance(index.arrays['positives_offsets'], np.memmap)
    assert index.arrays['positives'].dtype == np.uint16
    blob = pickle.dumps(index)
    assert len(blob) < 500  # the path, not the arrays
    again = pickle.loads(blob)
    assert [again.data_info(i) for i in range(5)] == [
        index.data_info(i) for i in range(5)]


def test_writer_validates_like_the_json_dataset(tmp_path):
    writer = LabelIndexWriter(CLASSES, source='src.json')
    writer.add(dict(img_path='x.png', gt_label=[0]), 'line 1')
    with pytest.raises(AnnotationError, match=r"'src\.json', line 2: class"
                       r"\(es\) 0 \('a'\) in both gt_label and gt_negative"):
        writer.add(dict(img_path='y.png', gt_label=[0], gt_negative=[0]),
                   'line 2')
    with pytest.raises(AnnotationError, match=r"'src\.json', line 3: "
                       r"duplicate img_path '\./x\.png', first at line 1"):
        writer.add(dict(img_path='./x.png', gt_label=[1]), 'line 3')
    with pytest.raises(ValueError, match=r'\.lblidx'):
        writer.save(str(tmp_path / 'out'))


def test_truncated_index_is_refused(tmp_path):
    root = str(tmp_path / 'ann.lblidx')
    build_label_index(write_json(tmp_path), root, log=lambda msg: None)
    np.save(f'{root}/positives.npy', np.zeros(2, np.uint16))
    with pytest.raises(AnnotationError, match='positives_offsets does not '
                       'match positives'):
        LabelIndex.load(root)


def test_index_labels_must_fit_the_given_classes(tmp_path):
    root = str(tmp_path / 'ann.lblidx')
    build_label_index(write_json(tmp_path), root, log=lambda msg: None)
    with pytest.raises(AnnotationError, match=r'label 3 is out of range '
                       r'\[0, 2\]'):
        PartialMultiLabelDataset(ann_file=root, classes=['x', 'y', 'z'])


def test_cli_builds_an_index_from_a_label_list(tmp_path, monkeypatch, capsys):
    import runpy
    import sys
    from pathlib import Path
    listing = tmp_path / 'train_list.txt'
    listing.write_text('a.png\t0,2\nb.png\t\n')
    classes = tmp_path / 'classes.txt'
    classes.write_text('\n'.join(CLASSES))
    tool = (Path(__file__).resolve().parents[2] / 'tools' / 'dataset_converters' /
            'build_label_index.py')
    monkeypatch.setattr(sys, 'argv', [
        'build_label_index.py', str(listing), str(tmp_path / 'train.lblidx'),
        '--list', '--classes', str(classes)])
    runpy.run_path(str(tool), run_name='__main__')
    assert '2 entries (1 fully labelled, 0 partial, 1 unlabelled), 4 classes' in \
        capsys.readouterr().out
    dataset = PartialMultiLabelDataset(ann_file=str(tmp_path / 'train.lblidx'))
    assert dataset.get_data_info(0)['gt_label'] == [0, 2]
    assert not dataset.is_labelled(1)


def columns(**changes):
    """Two entries as arrays: 'a.png' positive 0, 2; 'bb.png' partial,
    positive 1, negative 3."""
    arrays = dict(paths=np.frombuffer(b'a.pngbb.png', np.uint8),
                  paths_offsets=np.array([0, 5, 11]),
                  positives=np.array([0, 2, 1]),
                  positives_offsets=np.array([0, 2, 3]),
                  negatives=np.array([3]), negatives_offsets=np.array([0, 0, 1]),
                  state=np.array([1, 2]))
    arrays.update(changes)
    return arrays


def test_write_label_index_from_columns(tmp_path):
    from mmhybrid.datasets import write_label_index
    index = write_label_index(str(tmp_path / 'c.lblidx'), CLASSES, columns())
    assert index.data_info(1) == dict(img_path='bb.png', gt_label=[1],
                                      gt_negative=[3])
    assert index.data_info(0) == dict(img_path='a.png', gt_label=[0, 2])


@pytest.mark.parametrize('changes,match', [
    (dict(negatives=np.array([1])), 'entry 1: a class is both positive and '
     'negative'),
    (dict(positives=np.array([0, 4, 1])), r'entry 0: positive label out of '
     r'range \[0, 3\]'),
    (dict(positives=np.array([2, 0, 1])), 'entry 0: positives are not sorted'),
    (dict(state=np.array([0, 2])), 'entry 0: an unlabelled entry has labels'),
    (dict(negatives_offsets=np.array([0, 1, 1])),
     'entry 0: a fully labelled entry has negatives'),
    (dict(paths_offsets=np.array([0, 5, 12])), 'paths_offsets must run'),
])
def test_write_label_index_validates_columns(tmp_path, changes, match):
    from mmhybrid.datasets import write_label_index
    with pytest.raises(AnnotationError, match=match):
        write_label_index(str(tmp_path / 'c.lblidx'), CLASSES, columns(**changes))
