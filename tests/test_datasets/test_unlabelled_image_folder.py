import json

import numpy as np
import pytest
from mmengine.dataset import ConcatDataset
from PIL import Image

from mmhybrid.datasets import PartialMultiLabelDataset, UnlabelledImageFolder


@pytest.fixture
def image_tree(tmp_path):
    pixel = Image.fromarray(np.zeros((2, 2, 3), np.uint8))
    for name in ('b.png', 'a.JPG', 'sub/c.png', 'sub/deeper/d.jpeg'):
        path = tmp_path / 'imgs' / name
        path.parent.mkdir(parents=True, exist_ok=True)
        pixel.save(path, 'PNG')
    (tmp_path / 'imgs' / 'notes.txt').write_text('not an image')
    return tmp_path


def test_all_images_recursive_sorted_unlabelled(image_tree):
    dataset = UnlabelledImageFolder(data_root=str(image_tree),
                                    data_prefix='imgs')
    paths = [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]
    root = str(image_tree / 'imgs')
    assert paths == [f'{root}/{n}' for n in
                     ('a.JPG', 'b.png', 'sub/c.png', 'sub/deeper/d.jpeg')]
    assert all('gt_label' not in dataset.get_data_info(i)
               for i in range(len(dataset)))
    assert dataset.get_cat_ids(0) == []


def test_extension_filter(image_tree):
    dataset = UnlabelledImageFolder(data_prefix=str(image_tree / 'imgs'),
                                    extensions=('.png', ))
    assert len(dataset) == 2


def test_empty_folder_is_an_error_naming_it(tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(RuntimeError, match='Found 0 files.*empty'):
        UnlabelledImageFolder(data_prefix=str(tmp_path / 'empty'))


def test_mixes_with_a_labelled_set_given_the_same_classes(image_tree):
    ann = image_tree / 'ann.json'
    ann.write_text(json.dumps(dict(
        metainfo=dict(classes=['a', 'b']),
        data_list=[dict(img_path='b.png', gt_label=[1])])))
    mixed = ConcatDataset([
        PartialMultiLabelDataset(ann_file=str(ann),
                                 data_prefix=str(image_tree / 'imgs')),
        UnlabelledImageFolder(data_prefix=str(image_tree / 'imgs'),
                              classes=['a', 'b']),
    ])
    assert len(mixed) == 5
    assert mixed.get_data_info(0)['gt_label'] == [1]
    assert 'gt_label' not in mixed.get_data_info(1)
