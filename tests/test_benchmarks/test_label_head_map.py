"""label_head_map: the run's label head scored on held-out labelled scenes."""
import json

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.evaluation import AveragePrecision
from mmpretrain.registry import MODELS

from mmhybrid.benchmarks.label_head_map import label_head_map
from tests.test_tools.train_helpers import write_tiny_config


def test_map_and_chance_match_a_direct_computation(tiny_demo, tmp_path):
    cfg_path = write_tiny_config(tmp_path / 'tiny.py', tiny_demo)
    cfg = Config.fromfile(str(cfg_path))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    torch.save(dict(state_dict=model.state_dict()), tmp_path / 'ckpt.pth')
    ann = tiny_demo / 'scenes/meta/val_multilabel.json'
    groups = dict(garments=range(10), image_types=range(10, 15))
    out = label_head_map(str(cfg_path), str(tmp_path / 'ckpt.pth'), str(ann),
                         str(tiny_demo / 'scenes'), groups=groups, batch_size=3)

    entries = json.loads(ann.read_text())['data_list']
    images = np.stack([cv2.imread(str(tiny_demo / 'scenes' / d['img_path']))
                       for d in entries])
    data = dict(inputs=[torch.from_numpy(images).permute(0, 3, 1, 2)],
                data_samples=None)
    model.eval()
    with torch.no_grad():
        x = model.data_preprocessor(data)['inputs'][0]  # BGR -> RGB, normalised
        scores = model.cls_head(model.cls_neck(model.extract_feat(x))).sigmoid()
    target = torch.zeros_like(scores)
    for i, d in enumerate(entries):
        target[i, d['gt_label']] = 1
    ap = AveragePrecision.calculate(scores, target, average=None)
    for name, idx in groups.items():
        idx = list(idx)
        assert abs(out[name]['mAP'] - float(ap[idx].mean())) < 1e-4
        assert abs(out[name]['chance'] - 100 * float(target[:, idx].mean())) < 1e-4
