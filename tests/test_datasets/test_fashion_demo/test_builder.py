import dataclasses
import hashlib
import json
import os
import os.path as osp
import sys

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from mmhybrid.datasets.fashion_demo import (CLASSES, IMAGE_TYPES,
                                            SCENE_CLASSES, build_fashion_demo,
                                            load_split)
from ...conftest import load_script
from ..conftest import SMALL_DEMO


def all_files(root):
    found = set()
    for folder, _, files in os.walk(root):
        for name in files:
            found.add(osp.relpath(osp.join(folder, name), root))
    return found


def digest(root):
    result = {}
    for rel in sorted(all_files(root)):
        with open(osp.join(root, rel), 'rb') as f:
            result[rel] = hashlib.sha256(f.read()).hexdigest()
    return result


def read_json(*parts):
    with open(osp.join(*parts)) as f:
        return json.load(f)


def test_layout_is_exactly_the_documented_one(small_demo):
    root, _ = small_demo
    p = SMALL_DEMO
    expected = {'README.md', 'preview.png', 'build_info.json',
                'provenance.json'}
    expected |= {f'cls/train/{i:05d}.png' for i in range(p.num_cls_train)}
    expected |= {f'cls/test/{i:05d}.png' for i in range(p.num_cls_test)}
    expected |= {f'cls/meta/{n}' for n in ('train.txt', 'test.txt',
                                           'classes.txt')}
    for split, count in (('train', p.num_train), ('val', p.num_val),
                         ('unlabelled', p.num_unlabelled)):
        expected |= {f'scenes/{split}/{i:06d}.png' for i in range(count)}
    for split, count in (('train', p.num_train), ('val', p.num_val)):
        expected |= {f'scenes/seg/{split}/{i:06d}.png' for i in range(count)}
        expected.add(f'scenes/annotations/instances_{split}.json')
    expected |= {f'scenes/meta/{n}' for n in (
        'classes.txt', 'train_multilabel.json', 'train_partial.json',
        'val_multilabel.json', 'train_list.txt')}
    expected |= {f'objects/train/{i:06d}.png' for i in range(p.num_objects)}
    expected |= {'objects/meta/train.json', 'objects/meta/classes.txt'}
    assert all_files(root) == expected
    assert not [n for n in os.listdir(osp.dirname(root))
                if n.startswith('.')]  # no temporary folder left behind


def test_class_files(small_demo):
    root, _ = small_demo
    with open(osp.join(root, 'cls/meta/classes.txt')) as f:
        assert tuple(f.read().splitlines()) == CLASSES
    with open(osp.join(root, 'scenes/meta/classes.txt')) as f:
        assert tuple(f.read().splitlines()) == CLASSES + IMAGE_TYPES
    assert 4 <= len(IMAGE_TYPES) <= 6


def test_image_kinds(small_demo):
    root, _ = small_demo
    scene = Image.open(osp.join(root, 'scenes/train/000000.png'))
    assert (scene.mode, scene.size) == ('RGB', (64, 64))
    seg = Image.open(osp.join(root, 'scenes/seg/val/000003.png'))
    assert (seg.mode, seg.size) == ('L', (64, 64))
    assert np.asarray(seg).max() <= 10
    cls = Image.open(osp.join(root, 'cls/test/00000.png'))
    assert (cls.mode, cls.size) == ('L', (64, 64))


def test_classification_lists_are_balanced(small_demo):
    root, _ = small_demo
    with open(osp.join(root, 'cls/meta/train.txt')) as f:
        lines = f.read().splitlines()
    assert lines[0].startswith('train/00000.png ')
    labels = [int(line.split(' ')[1]) for line in lines]
    assert np.bincount(labels).tolist() == [5] * 10  # 50 images, 10 classes


def test_partial_labels_hide_the_requested_fraction(small_demo):
    root, info = small_demo
    full = read_json(root, 'scenes/meta/train_multilabel.json')['data_list']
    partial = read_json(root, 'scenes/meta/train_partial.json')['data_list']
    hidden = [i for i, e in enumerate(partial) if e['gt_label'] == []]
    assert len(hidden) == round(SMALL_DEMO.unlabelled_fraction * len(full))
    assert info['counts']['train_partial']['unlabelled'] == len(hidden)
    for entry, labelled in zip(partial, full):
        assert entry['img_path'] == labelled['img_path']
        assert entry['gt_label'] in ([], labelled['gt_label'])
    assert all(e['gt_label'] for e in full)


def test_train_scenes_use_only_train_garments(small_demo, fashion_mnist_dir):
    """The construction record ties every garment to a split and an image of
    it; labels, COCO instances and multi-labels follow from the record."""
    root, _ = small_demo
    record = read_json(root, 'provenance.json')['scenes']
    assert record['train']['source_split'] == 'train'
    assert record['unlabelled']['source_split'] == 'train'
    assert record['val']['source_split'] == 'test'
    for split in ('train', 'val'):
        source = load_split(record[split]['source_split'], fashion_mnist_dir)
        coco = read_json(root, f'scenes/annotations/instances_{split}.json')
        multilabel = read_json(root, f'scenes/meta/{split}_multilabel.json')
        per_image = {}
        for ann in coco['annotations']:
            per_image.setdefault(ann['image_id'], []).append(
                ann['category_id'] - 1)
        for i, garments in enumerate(record[split]['garments']):
            assert 1 <= len(garments) <= 4
            for index, label, _ in garments:
                assert source.labels[index] == label
            visible = [label for _, label, pixels in garments if pixels > 0]
            assert per_image.get(i + 1, []) == visible
            labels = multilabel['data_list'][i]['gt_label']
            assert labels[:-1] == sorted(set(visible))
            assert SCENE_CLASSES[labels[-1]] in IMAGE_TYPES


def test_objects_are_labelled_single_garments_unseen_by_cls(small_demo,
                                                            fashion_mnist_dir):
    """The labelled object-centric source: one visible garment per image,
    labels garment + image type, class-balanced, and none of its garments is a
    classification image (the benchmark's labels stay unseen in
    pre-training)."""
    root, info = small_demo
    provenance = read_json(root, 'provenance.json')
    record = provenance['objects']
    source = load_split('train', fashion_mnist_dir)
    labels = read_json(root, 'objects/meta/train.json')
    assert labels['metainfo']['classes'] == list(SCENE_CLASSES)
    entries = labels['data_list']
    assert len(entries) == len(record['garments']) == SMALL_DEMO.num_objects
    used = []
    for entry, garments in zip(entries, record['garments']):
        assert len(garments) == 1
        index, label, pixels = garments[0]
        assert pixels > 0 and source.labels[index] == label
        assert entry['gt_label'][0] == label and len(entry['gt_label']) == 2
        assert SCENE_CLASSES[entry['gt_label'][1]] in IMAGE_TYPES
        used.append(index)
    assert len(set(used)) == len(used)
    assert not set(used) & set(provenance['cls']['train']['source_indices'])
    per_class = np.bincount([e['gt_label'][0] for e in entries], minlength=10)
    assert per_class.tolist() == [SMALL_DEMO.num_objects // 10] * 10
    assert info['counts']['objects']['images'] == SMALL_DEMO.num_objects
    image = Image.open(osp.join(root, 'objects/train/000000.png'))
    assert (image.mode, image.size) == ('RGB', (64, 64))


def test_objects_cannot_reuse_classification_images(tmp_path):
    from mmhybrid.datasets.fashion_demo import DemoParams
    with pytest.raises(ValueError, match='num_cls_train \\+ num_objects'):
        DemoParams(num_cls_train=50000, num_objects=20000).check()


def test_instance_masks_boxes_and_class_maps_agree(small_demo):
    root, info = small_demo
    for split in ('train', 'val'):
        coco = read_json(root, f'scenes/annotations/instances_{split}.json')
        assert len(coco['annotations']) == info['counts'][split]['instances']
        assert [c['id'] for c in coco['categories']] == list(range(1, 11))
        anns = {}
        for ann in coco['annotations']:
            anns.setdefault(ann['image_id'], []).append(ann)
        for image in coco['images']:
            seg = np.asarray(Image.open(
                osp.join(root, 'scenes/seg', split, image['file_name'])))
            rebuilt = np.zeros_like(seg)
            for ann in anns.get(image['id'], []):
                mask = mask_utils.decode(ann['segmentation']).astype(bool)
                assert ann['iscrowd'] == 0 and ann['area'] == mask.sum() > 0
                ys, xs = np.nonzero(mask)
                assert ann['bbox'] == [xs.min(), ys.min(),
                                       xs.max() - xs.min() + 1,
                                       ys.max() - ys.min() + 1]
                assert not rebuilt[mask].any()  # instances do not overlap
                rebuilt[mask] = ann['category_id']
            np.testing.assert_array_equal(rebuilt, seg)


def test_same_seed_same_bytes_other_seed_other_scenes(small_demo, tmp_path,
                                                      fashion_mnist_dir):
    root, _ = small_demo
    again = str(tmp_path / 'again')
    build_fashion_demo(again, SMALL_DEMO, fashion_mnist_dir, log=lambda m: 0)
    assert digest(again) == digest(root)
    other = str(tmp_path / 'other')
    build_fashion_demo(other, dataclasses.replace(SMALL_DEMO, seed=1),
                       fashion_mnist_dir, log=lambda m: 0)
    a, b = digest(root), digest(other)
    assert a['scenes/train/000000.png'] != b['scenes/train/000000.png']
    assert a['cls/meta/train.txt'] != b['cls/meta/train.txt']


def test_second_build_is_up_to_date_and_writes_nothing(small_demo,
                                                       fashion_mnist_dir):
    root, info = small_demo
    before = os.stat(osp.join(root, 'README.md')).st_mtime_ns
    messages = []
    again = build_fashion_demo(root, SMALL_DEMO, fashion_mnist_dir,
                               log=messages.append)
    assert messages == [f'{root} is up to date']
    assert again == info
    assert os.stat(osp.join(root, 'README.md')).st_mtime_ns == before


def test_changed_parameters_rebuild_in_place(tmp_path, fashion_mnist_dir):
    out = str(tmp_path / 'demo')
    tiny = dataclasses.replace(SMALL_DEMO, num_train=4, num_val=2,
                               num_unlabelled=1, num_cls_train=10,
                               num_cls_test=10)
    build_fashion_demo(out, tiny, fashion_mnist_dir, log=lambda m: 0)
    bigger = dataclasses.replace(tiny, num_val=3)
    info = build_fashion_demo(out, bigger, fashion_mnist_dir, log=lambda m: 0)
    assert info['params']['num_val'] == 3
    assert read_json(out, 'build_info.json') == info
    assert len(os.listdir(osp.join(out, 'scenes/val'))) == 3
    assert os.listdir(tmp_path) == ['demo']  # no temporary folders left


def test_refuses_to_replace_a_folder_it_did_not_build(tmp_path,
                                                      fashion_mnist_dir):
    (tmp_path / 'mine').mkdir()
    (tmp_path / 'mine' / 'precious.txt').write_text('keep me')
    with pytest.raises(FileExistsError, match='not a demo build'):
        build_fashion_demo(str(tmp_path / 'mine'), SMALL_DEMO,
                           fashion_mnist_dir, log=lambda m: 0)
    assert (tmp_path / 'mine' / 'precious.txt').read_text() == 'keep me'


def test_readme_documents_the_build(small_demo):
    root, info = small_demo
    with open(osp.join(root, 'README.md')) as f:
        readme = f.read()
    assert '![preview](preview.png)' in readme
    for name in CLASSES + IMAGE_TYPES:
        assert name in readme
    assert f"| scenes/train | {SMALL_DEMO.num_train} | " \
           f"{info['counts']['train']['instances']} |" in readme
    assert '--seed 0' in readme
    assert Image.open(osp.join(root, 'preview.png')).mode == 'RGB'


def load_tool():
    return load_script('tools/dataset_converters/build_fashion_demo.py')


def test_command_line_builds_then_reports_up_to_date(tmp_path, monkeypatch,
                                                     capsys):
    tool = load_tool()
    out = str(tmp_path / 'demo')
    argv = ['build_fashion_demo.py', '--out', out, '--seed', '3', '--size',
            '32', '--num-train', '3', '--num-val', '2', '--num-unlabelled',
            '2', '--num-cls-train', '10', '--num-cls-test', '10',
            '--unlabelled-fraction', '0.34', '--num-objects', '10']
    # ten objects cannot keep a class-balanced 10% of their labels: the default
    # label budgets stop with the fix, after the build
    monkeypatch.setattr(sys, 'argv', argv)
    with pytest.raises(SystemExit) as exit_info:
        tool.main()
    assert 'label budget 0.1: garment' in str(exit_info.value)
    assert '--label-budgets' in str(exit_info.value)
    argv += ['--label-budgets']  # none
    monkeypatch.setattr(sys, 'argv', argv)
    info = read_json(out, 'build_info.json')
    assert info['params'] == dict(seed=3, size=32, num_train=3, num_val=2,
                                  num_unlabelled=2, num_cls_train=10,
                                  num_cls_test=10, unlabelled_fraction=0.34,
                                  max_garments=4, num_objects=10)
    assert Image.open(osp.join(out, 'scenes/val/000001.png')).size == (32, 32)
    assert not osp.exists(osp.join(out, 'splits'))
    capsys.readouterr()
    tool.main()
    assert capsys.readouterr().out == f'{out} is up to date\n'


def test_command_line_without_source_explains_the_fix(tmp_path, monkeypatch):
    tool = load_tool()
    monkeypatch.setattr(sys, 'argv', [
        'build_fashion_demo.py', '--out', str(tmp_path / 'demo'),
        '--fashion-mnist', str(tmp_path)
    ])
    with pytest.raises(SystemExit) as exit_info:
        tool.main()
    assert 'apt-get install dataset-fashion-mnist' in str(exit_info.value)
    assert not (tmp_path / 'demo').exists()
