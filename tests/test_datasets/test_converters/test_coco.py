import json

import pytest

from mmhybrid.datasets import PartialMultiLabelDataset
from mmhybrid.datasets.converters import convert_coco


def box(id_, image_id, category_id, iscrowd=0):
    return dict(id=id_, image_id=image_id, category_id=category_id,
                bbox=[1.0, 2.0, 10.0, 20.0], area=200.0, iscrowd=iscrowd,
                segmentation=[[1.0, 2.0, 11.0, 2.0, 11.0, 22.0]])


INSTANCES = dict(
    info=dict(description='tiny'), licenses=[],
    images=[dict(id=139, file_name='000000000139.jpg', width=640, height=426),
            dict(id=285, file_name='000000000285.jpg', width=640, height=480),
            dict(id=632, file_name='000000000632.jpg', width=640, height=480)],
    # category ids are not contiguous in COCO
    categories=[dict(id=18, name='dog', supercategory='animal'),
                dict(id=1, name='person', supercategory='person'),
                dict(id=3, name='car', supercategory='vehicle')],
    annotations=[box(1, 139, 1), box(2, 139, 1), box(3, 139, 18),
                 box(4, 285, 3, iscrowd=1), box(5, 999, 1), box(6, 285, 7)])


@pytest.fixture
def instances(tmp_path):
    path = tmp_path / 'instances_train2017.json'
    path.write_text(json.dumps(INSTANCES))
    return str(path)


def test_image_labels_are_the_categories_of_its_instances(instances, tmp_path):
    conversion = convert_coco(instances, path_prefix='train2017/')
    assert conversion.classes == ['person', 'car', 'dog']  # category id order
    assert conversion.data_list[0] == dict(img_path='train2017/000000000139.jpg',
                                           gt_label=[0, 2])
    assert conversion.data_list[1]['gt_label'] == [1]  # a crowd of cars
    summary = conversion.write(str(tmp_path / 'train.json'))
    assert summary['skipped']['by_reason'] == {'unknown image_id': 1,
                                               'unknown category_id': 1}
    assert summary['images'] == 3 and summary['unlabelled'] == 0
    # the image without instances is labelled: negative for every category
    dataset = PartialMultiLabelDataset(ann_file=str(tmp_path / 'train.json'))
    empty = dataset.get_data_info(2)
    assert empty['gt_label'] == [] and empty['gt_negative'] == [0, 1, 2]
    assert 'gt_negative' not in dataset.get_data_info(0)  # fully labelled


def test_options_for_crowds_and_empty_images(instances):
    conversion = convert_coco(instances, include_crowd=False, empty='unlabelled')
    assert conversion.data_list[1]['gt_label'] == []
    assert conversion.summary()['unlabelled'] == 2
    assert not conversion.class_sets
    skipped = convert_coco(instances, empty='skip')
    assert len(skipped.data_list) == 2
    assert skipped.skipped['no instances (skipped)'] == 1


def test_cli(instances, tmp_path, run_cli):
    out = run_cli('coco_to_multilabel.py', instances, '--out', tmp_path / 'c.json',
                  '--path-prefix', 'train2017/', '--index')
    assert 'coco: 3 images, 3 labelled (1 partially), 0 unlabelled' in out
    index = PartialMultiLabelDataset(ann_file=str(tmp_path / 'c.lblidx'))
    assert index.get_data_info(2)['gt_negative'] == [0, 1, 2]
