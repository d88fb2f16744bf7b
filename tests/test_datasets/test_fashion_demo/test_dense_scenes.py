"""Dense scene sets (``DemoParams.dense_scenes``, ``scenes_<name>/``): what a
style promises (garment count, overlap bound, sizes, background) holds scene by
scene, and a build with them leaves every other file of the demo world as it
was."""
import dataclasses
import json
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmhybrid.datasets.fashion_demo import (DENSE_SCENE_STYLES, SCENE_CLASSES,
                                            DemoParams, SceneStyle,
                                            build_fashion_demo, load_split,
                                            render_dense_scene)
from mmhybrid.datasets.fashion_demo import scenes as scenes_module
from mmhybrid.datasets.fashion_demo.scenes import box_iou
from ..conftest import SMALL_DEMO
from .test_builder import all_files, digest, read_json


@pytest.fixture(scope='module')
def train_split(fashion_mnist_dir):
    return load_split('train', fashion_mnist_dir)


def render_many(style, source, count=150):
    return [render_dense_scene(np.random.default_rng([7, i]), source, style)
            for i in range(count)]


def visible_box(scene, k):
    ys, xs = np.nonzero(scene.instance_map == k + 1)
    return (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


@pytest.mark.parametrize('name', sorted(DENSE_SCENE_STYLES))
def test_every_named_style_keeps_its_promises(name, train_split):
    style = DENSE_SCENE_STYLES[name]
    style.check()
    counts = []
    for scene in render_many(style, train_split, 60):
        assert scene.image.shape == (style.size, style.size, 3)
        garments = scene.garments
        assert 1 <= len(garments) <= style.max_garments
        counts.append(len(garments))
        for k, g in enumerate(garments):
            assert g.visible_pixels > 0  # no garment wholly hidden
            x0, y0, x1, y1 = g.box
            # the glyph is scale_range of the side high; its mask no higher
            assert y1 - y0 <= round(style.scale_range[1] * style.size)
            vx0, vy0, vx1, vy1 = visible_box(scene, k)
            assert x0 <= vx0 and y0 <= vy0 and vx1 <= x1 and vy1 <= y1
            for other in garments[:k]:
                assert box_iou(g.box, other.box) <= style.max_overlap
        if style.background == 'plain':
            background = scene.image[scene.instance_map == 0]
            if scenes_module.IMAGE_TYPES[scene.image_type] in ('photo',
                                                               'inverted'):
                assert (background == background[0]).all()
    assert max(counts) <= style.max_garments


def test_no_overlap_means_no_occlusion(train_split):
    style = SceneStyle(max_garments=3, scale_range=(0.3, 0.5), max_overlap=0.0)
    several = 0
    for scene in render_many(style, train_split):
        boxes = [visible_box(scene, k) for k in range(len(scene.garments))]
        several += len(boxes) > 1
        for i in range(len(boxes)):
            for j in range(i):
                assert box_iou(boxes[i], boxes[j]) == 0
    assert several > 20  # the bound was met by placing, not by leaving out


def test_styles_differ_where_named(train_split):
    v2, many = render_many(DENSE_SCENE_STYLES['v2'], train_split), render_many(
        DENSE_SCENE_STYLES['v2many'], train_split)
    assert max(len(s.garments) for s in v2) == 2
    assert max(len(s.garments) for s in many) == 3
    heights = [g.box[3] - g.box[1] for s in v2 for g in s.garments]
    many_heights = [g.box[3] - g.box[1] for s in many for g in s.garments]
    assert np.median(heights) > np.median(many_heights)  # larger garments
    at96 = render_dense_scene(np.random.default_rng(0), train_split,
                              DENSE_SCENE_STYLES['v2at96'])
    assert at96.image.shape == (96, 96, 3)


def test_bad_styles_are_refused():
    with pytest.raises(ValueError, match='unknown dense scene style'):
        DemoParams(dense_scenes='v2,nope').check()
    for bad in (dict(min_garments=3, max_garments=2), dict(max_overlap=1.5),
                dict(background='wild'), dict(image_types=('oil', )),
                dict(scale_range=(0.5, 1.2))):
        with pytest.raises(ValueError):
            SceneStyle(**bad).check()


@pytest.fixture(scope='module')
def dense_build(tmp_path_factory, fashion_mnist_dir):
    tiny = dataclasses.replace(DENSE_SCENE_STYLES['v2'], num_train=6,
                               num_val=3, num_test=4)
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(DENSE_SCENE_STYLES, 'v2', tiny)
        params = dataclasses.replace(SMALL_DEMO, dense_scenes='v2')
        root = str(tmp_path_factory.mktemp('dense') / 'fashion_demo')
        info = build_fashion_demo(root, params, fashion_mnist_dir,
                                  log=lambda m: None)
    return root, info, tiny


def test_dense_build_layout_and_record(dense_build):
    root, info, style = dense_build
    files = {f for f in all_files(root) if f.startswith('scenes_v2/')}
    expected = {'scenes_v2/preview.png', 'scenes_v2/meta/classes.txt'}
    for split, count in (('train', style.num_train), ('val', style.num_val),
                         ('test', style.num_test)):
        expected |= {f'scenes_v2/{split}/{i:06d}.png' for i in range(count)}
        expected |= {f'scenes_v2/seg/{split}/{i:06d}.png' for i in range(count)}
        expected |= {f'scenes_v2/annotations/instances_{split}.json',
                     f'scenes_v2/meta/{split}_multilabel.json'}
    assert files == expected
    assert info['params']['dense_scenes'] == 'v2'
    assert info['dense_scene_styles']['v2'] == json.loads(
        json.dumps(dataclasses.asdict(style)))
    assert read_json(root, 'build_info.json') == info
    with open(osp.join(root, 'scenes_v2/meta/classes.txt')) as f:
        assert f.read().split('\n')[:-1] == list(SCENE_CLASSES)
    provenance = read_json(root, 'provenance.json')['scenes_v2']
    assert [provenance[s]['source_split'] for s in ('train', 'val', 'test')] == [
        'train', 'train', 'test']
    for split in ('train', 'val', 'test'):
        coco = read_json(root, f'scenes_v2/annotations/instances_{split}.json')
        visible = sum(g[2] > 0 for s in provenance[split]['garments'] for g in s)
        assert len(coco['annotations']) == visible
        assert info['counts']['scenes_v2'][split]['instances'] == visible
        for image in coco['images']:
            path = osp.join(root, 'scenes_v2', split, image['file_name'])
            assert Image.open(path).size == (style.size, style.size)
            seg = np.array(Image.open(osp.join(root, 'scenes_v2/seg', split,
                                               image['file_name'])))
            labels = {a['category_id'] for a in coco['annotations']
                      if a['image_id'] == image['id']}
            assert set(np.unique(seg)) - {0} == labels


def test_dense_build_leaves_the_rest_of_the_world_as_it_was(dense_build,
                                                            small_demo):
    root, _, _ = dense_build
    plain_root, plain_info = small_demo
    assert 'dense_scenes' not in plain_info['params']  # older builds stay current
    mine = {k: v for k, v in digest(root).items()
            if not k.startswith('scenes_v2/') and k not in (
                'build_info.json', 'provenance.json', 'README.md')}
    theirs = {k: v for k, v in digest(plain_root).items()
              if k not in ('build_info.json', 'provenance.json', 'README.md')}
    assert mine == theirs  # scenes/ (pre-training's) and the rest, byte for byte
    plain = read_json(plain_root, 'provenance.json')
    assert {k: v for k, v in read_json(root, 'provenance.json').items()
            if k != 'scenes_v2'} == plain
    assert os.listdir(osp.dirname(root)) == ['fashion_demo']


def test_v3_holds_v2s_scenes_and_more_evaluation_scenes(tmp_path, fashion_mnist_dir):
    """The dense protocol v3's scene set: v2's train scenes and v2's val / test
    scenes as the first of its larger evaluation splits, pixel for pixel."""
    v2 = dataclasses.replace(DENSE_SCENE_STYLES['v2'], num_train=4, num_val=2,
                             num_test=2)
    v3 = dataclasses.replace(DENSE_SCENE_STYLES['v3'], num_train=4, num_val=5,
                             num_test=6)
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(DENSE_SCENE_STYLES, 'v2', v2)
        mp.setitem(DENSE_SCENE_STYLES, 'v3', v3)
        root = str(tmp_path / 'fashion_demo')
        build_fashion_demo(root, dataclasses.replace(SMALL_DEMO, dense_scenes='v2,v3'),
                           fashion_mnist_dir, log=lambda m: None)
    files = digest(root)
    pictures = {k[len('scenes_v2/'):]: v for k, v in files.items()
                if k.startswith('scenes_v2/') and k.endswith('.png')
                and k != 'scenes_v2/preview.png'}
    assert len(pictures) == 2 * (4 + 2 + 2)  # scenes and class maps
    for name, sha in pictures.items():
        assert files['scenes_v3/' + name] == sha, name
    for split, count in (('val', 5), ('test', 6)):
        coco = read_json(root, f'scenes_v3/annotations/instances_{split}.json')
        assert len(coco['images']) == count
