import json

import pytest
from mmengine.dataset import ConcatDataset

from mmhybrid.datasets import AnnotationError, PartialMultiLabelDataset
from mmhybrid.datasets.converters import Source, merge_annotations

COCO = dict(metainfo=dict(classes=['person', 'car', 'dog'],
                          class_sets=dict(coco=[0, 1, 2])),
            data_list=[dict(img_path='1.jpg', gt_label=[0, 2]),
                       dict(img_path='2.jpg', gt_label=[], known_set='coco')])
OPEN_IMAGES = dict(metainfo=dict(classes=['Person', 'Dog', 'Tree']),
                   data_list=[dict(img_path='a.jpg', gt_label=[2],
                                   gt_negative=[0]),
                              dict(img_path='b.jpg', gt_label=[],
                                   gt_negative=[])])
DOMAINNET = dict(metainfo=dict(classes=['dog', 'bicycle', 'sketch', 'real']),
                 data_list=[dict(img_path='sketch/dog/1.jpg', gt_label=[0, 2]),
                            dict(img_path='real/bicycle/1.jpg', gt_label=[1, 3])])
MERGE_DOGS = {'coco': {'person': 'person', 'dog': 'dog'},
              'openimages': {'Person': 'person', 'Dog': 'dog'},
              'domainnet': {'dog': 'dog'}}


@pytest.fixture
def sources(tmp_path):
    out = []
    for name, ann, prefix in (('coco', COCO, 'coco/'),
                              ('openimages', OPEN_IMAGES, 'oi/'),
                              ('domainnet', DOMAINNET, 'domainnet/')):
        path = tmp_path / f'{name}.json'
        path.write_text(json.dumps(ann))
        out.append(Source(name, str(path), prefix))
    return out


def test_name_collisions_must_be_resolved_explicitly(sources):
    with pytest.raises(AnnotationError, match=r"1 class name collision.*'dog' "
                       r"from coco:'dog', domainnet:'dog'"):
        merge_annotations(sources)


def test_merged_entries_know_only_their_sources_classes(sources, tmp_path):
    merged, _ = merge_annotations(sources, MERGE_DOGS)
    assert merged.classes == ['person', 'car', 'dog', 'Tree', 'bicycle',
                              'sketch', 'real']
    assert merged.class_sets == dict(coco=[0, 1, 2], openimages=[0, 2, 3],
                                     domainnet=[2, 4, 5, 6])
    summary = merged.write(str(tmp_path / 'merged.json'))
    assert "merged into 'dog': coco:'dog', openimages:'Dog', domainnet:'dog'" in \
        summary['notes']
    assert "renamed openimages:'Person' -> 'person'" in summary['notes']
    dataset = PartialMultiLabelDataset(ann_file=str(tmp_path / 'merged.json'))
    infos = {dataset.get_data_info(i)['img_path']: dataset.get_data_info(i)
             for i in range(len(dataset))}
    # a COCO image: negative for COCO's car, unknown for Tree, bicycle, ...
    assert infos['coco/1.jpg']['gt_label'] == [0, 2]
    assert infos['coco/1.jpg']['gt_negative'] == [1]
    assert infos['coco/2.jpg']['gt_negative'] == [0, 1, 2]
    assert infos['oi/a.jpg']['gt_label'] == [3]
    assert infos['oi/a.jpg']['gt_negative'] == [0]
    assert 'gt_label' not in infos['oi/b.jpg']
    assert infos['domainnet/sketch/dog/1.jpg']['gt_negative'] == [4, 6]
    assert summary['partially_labelled'] == 5 and summary['unlabelled'] == 1


def test_mapping_can_keep_same_named_classes_apart(sources):
    merged, _ = merge_annotations(sources, {'coco': {'dog': 'dog (coco)'}})
    assert merged.classes.count('dog') == 1 and 'dog (coco)' in merged.classes
    with pytest.raises(AnnotationError, match=r"'coco' has no classes \['cat'\]"):
        merge_annotations(sources, {**MERGE_DOGS, 'coco': {'cat': 'cat'}})


def test_duplicate_paths_across_sources_are_skipped(sources, tmp_path):
    again = Source('coco_again', sources[0].ann_file, 'coco/')
    renames = {'coco_again': {c: c for c in ('person', 'car', 'dog')}}
    merged, _ = merge_annotations([sources[0], again],
                                  {'coco': renames['coco_again'], **renames})
    assert len(merged.data_list) == 2
    assert merged.skipped['img_path already in coco'] == 2


def test_cli_writes_per_source_files_a_concat_dataset_can_mix(sources, tmp_path,
                                                               run_cli):
    mapping = tmp_path / 'mapping.json'
    mapping.write_text(json.dumps(MERGE_DOGS))
    args = []
    for source in sources:
        args += ['--source', source.name, source.ann_file, source.prefix]
    out = run_cli('merge_multilabel.py', *args, '--mapping', mapping, '--out',
                  tmp_path / 'm' / 'merged.json', '--per-source-dir',
                  tmp_path / 'm' / 'sources', '--index')
    assert 'merged: 6 images' in out and 'coco: 2 images' in out
    parts = [PartialMultiLabelDataset(
        ann_file=str(tmp_path / 'm' / 'sources' / f'{s.name}.lblidx'))
        for s in sources]
    mixed = ConcatDataset(parts)  # same classes and class sets: no ignore_keys
    assert len(mixed) == 6
    assert mixed.get_data_info(0)['gt_negative'] == [1]
