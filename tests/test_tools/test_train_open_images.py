"""A converted Open Images fixture trains a few iterations of the headline recipe
(configs/pretrain/hybrid_swin-b.py) at tiny size: the recipe's data pipeline and
views, a tiny Swin, the label head ignoring unknown classes."""
import math
import re

import cv2
import numpy as np

from mmhybrid.datasets.converters import convert_open_images
from tests.test_tools.train_helpers import REPO, run_tool

LABELS = '''ImageID,Source,LabelName,Confidence
img0,verification,/m/cat,1
img0,verification,/m/dog,0
img1,verification,/m/dog,1
img1,verification,/m/car,1
img2,verification,/m/car,0
img3,verification,/m/cat,1
img3,verification,/m/car,0
'''
DESCRIPTIONS = '''LabelName,DisplayName
/m/cat,Cat
/m/dog,Dog
/m/car,Car
'''

HEADLINE_AT_TINY_SIZE = '''
_base_ = [{base!r}]
embed_dims = 16
model = dict(
    backbone=dict(arch=dict(_delete_=True, embed_dims=embed_dims, depths=[1, 1, 1, 1],
                            num_heads=[1, 2, 2, 4]), drop_path_rate=0.),
    mim=dict(neck=dict(in_channels=embed_dims * 8)),
    contrastive=dict(neck=dict(in_channels=embed_dims * 8, hid_channels=32,
                               out_channels=16),
                     head=dict(predictor=dict(in_channels=16, hid_channels=32,
                                              out_channels=16))),
    multilabel=dict(head=dict(in_channels=embed_dims * 8, num_classes=3,
                              unknown='ignore')))
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False, pin_memory=False,
    dataset=dict(data_root={root!r}, ann_file='meta/train.json', data_prefix='images/'))
train_cfg = dict(max_epochs=1)
default_hooks = dict(logger=dict(interval=1))
randomness = dict(seed=0)
'''


def test_converted_open_images_trains_the_headline_recipe(tmp_path):
    (tmp_path / 'labels.csv').write_text(LABELS)
    (tmp_path / 'descriptions.csv').write_text(DESCRIPTIONS)
    (tmp_path / 'images').mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        cv2.imwrite(str(tmp_path / 'images' / f'img{i}.jpg'),
                    rng.integers(0, 255, (80, 96, 3), dtype=np.uint8))
    summary = convert_open_images(str(tmp_path / 'labels.csv'),
                                  str(tmp_path / 'descriptions.csv')).write(
        str(tmp_path / 'meta' / 'train.json'))
    assert summary['images'] == 4 and summary['classes'] == 3
    cfg = tmp_path / 'headline_tiny.py'
    cfg.write_text(HEADLINE_AT_TINY_SIZE.format(
        base=str(REPO / 'configs/pretrain/hybrid_swin-b.py'), root=str(tmp_path) + '/'))

    proc = run_tool(['train.py', str(cfg), '--work-dir', str(tmp_path / 'work')])
    out = proc.stdout + proc.stderr
    assert ('step plan: online 1: masked +mask -> mim; online 2: masked -> '
            'query(key view1), labels; momentum 1: view1 -> key') in out
    for task in ('mim', 'contrastive', 'multilabel'):
        values = [float(v) for v in re.findall(rf'raw_{task}: (\S+)', out)]
        assert len(values) == 2 and all(math.isfinite(v) for v in values), out[-2000:]
    assert (tmp_path / 'work' / 'epoch_1.pth').is_file()
