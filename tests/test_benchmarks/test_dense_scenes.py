"""The dense-scene configs (issue #26) and tools/benchmarks/dense_scenes.py:
the v2 configs build their models on the scenes_v2 splits with the sized heads,
every unit of the grid is a config that parses and points at its scene set, and
the table is written from the JSON records alone."""
import importlib
import json
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmhybrid.engine import adapt_cfg_for_cpu

from ..conftest import load_script

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / 'configs' / 'benchmarks' / 'demo'
DET = 'mask-rcnn_swin-demo-hybrid_fpn_1xb8-300it_fashion-scenes-v2-64px.py'
SEG = 'upernet_swin-demo-hybrid_1xb16-300it_fashion-scenes-v2-64px.py'


def load_tool():
    return load_script('tools/benchmarks/dense_scenes.py')


def build_model(cfg, scope):
    cfg.model.backbone.init_cfg = None
    cfg = adapt_cfg_for_cpu(cfg)
    models = importlib.import_module(f'{scope}.registry').MODELS
    with DefaultScope.overwrite_default_scope(scope):
        return models.build(cfg.model)


def test_detection_config_reads_scenes_v2_with_sized_heads():
    cfg = Config.fromfile(str(DEMO / DET))
    assert cfg.default_scope == 'mmdet'
    for loader, split in (('train', 'train'), ('val', 'val'), ('test', 'test')):
        dataset = cfg[f'{loader}_dataloader'].dataset
        assert dataset.data_root == 'data/fashion_demo/'
        assert dataset.ann_file == f'scenes_v2/annotations/instances_{split}.json'
        assert dataset.data_prefix.img == f'scenes_v2/{split}/'
    for loader, split in (('val', 'val'), ('test', 'test')):
        assert cfg[f'{loader}_evaluator'].ann_file == \
            f'data/fashion_demo/scenes_v2/annotations/instances_{split}.json'
    assert cfg.train_cfg.max_iters == 300
    assert cfg.param_scheduler[1].milestones == [240]
    train_cfg, test_cfg = cfg.model.train_cfg, cfg.model.test_cfg
    assert (train_cfg.rpn_proposal.nms_pre, train_cfg.rpn_proposal.max_per_img,
            train_cfg.rcnn.sampler.num) == (100, 20, 16)
    assert (test_cfg.rpn.nms_pre, test_cfg.rpn.max_per_img,
            test_cfg.rcnn.max_per_img) == (100, 20, 10)
    assert cfg.model.rpn_head.anchor_generator.scales == [4]  # 16 px at stride 4
    model = build_model(cfg, 'mmdet')
    assert model.roi_head.bbox_head.num_classes == 10
    assert model.backbone.frozen_stages == -1  # fine-tuned end to end


def test_segmentation_config_reads_scenes_v2():
    cfg = Config.fromfile(str(DEMO / SEG))
    assert cfg.default_scope == 'mmseg'
    for loader, split in (('train', 'train'), ('val', 'val'), ('test', 'test')):
        dataset = cfg[f'{loader}_dataloader'].dataset
        assert dataset.data_root == 'data/fashion_demo/'
        assert dataset.ann_file == ''  # every scene of the folder
        assert dataset.data_prefix == dict(img_path=f'scenes_v2/{split}',
                                           seg_map_path=f'scenes_v2/seg/{split}')
    assert cfg.train_cfg.max_iters == 300
    assert cfg.param_scheduler[1].end == 300
    assert cfg.model.data_preprocessor.size == (64, 64)
    model = build_model(cfg, 'mmseg')
    assert model.decode_head.num_classes == 11


def test_every_grid_unit_is_a_config_on_its_scene_set(tmp_path):
    tool = load_tool()
    for name, (task, _, scenes, iters, _) in tool.UNITS.items():
        path = tmp_path / f'{name}.py'
        path.write_text(tool.unit_config(name, '/data/demo'))
        cfg = Config.fromfile(str(path))
        assert cfg.train_cfg.max_iters == iters, name
        test_split = 'val' if scenes == 'scenes' else 'test'
        if task == 'det':
            assert cfg.train_dataloader.dataset.ann_file == \
                f'{scenes}/annotations/instances_train.json'
            assert cfg.test_evaluator.ann_file == \
                f'/data/demo/{scenes}/annotations/instances_{test_split}.json'
        else:
            assert cfg.test_dataloader.dataset.data_prefix.img_path == \
                f'{scenes}/{test_split}'
        assert all(d.data_root == '/data/demo/' for d in (
            cfg.train_dataloader.dataset, cfg.val_dataloader.dataset,
            cfg.test_dataloader.dataset)), name
    det96 = Config.fromfile(str(tmp_path / 'det-v2at96.py'))
    assert [t.scale for t in det96.train_dataloader.dataset.pipeline
            if t.type == 'Resize'] == [(96, 96)]
    heads = Config.fromfile(str(tmp_path / 'det-v1-heads.py'))
    assert heads.model.train_cfg.rcnn.sampler.num == 32
    profiled = tmp_path / 'profile.py'
    profiled.write_text(tool.unit_config('det-v2', '/data/demo', 27))
    cfg = Config.fromfile(str(profiled))
    assert cfg.custom_hooks[0].type == 'ProfilerHook'
    assert cfg.train_cfg.val_interval > cfg.train_cfg.max_iters == 27


def test_table_is_written_from_the_records(tmp_path):
    tool = load_tool()
    results = tmp_path / 'results'
    results.mkdir()
    for unit, task, metrics in (
            ('det-v2', 'det', dict(box_ap=31.25, mask_ap=29.0)),
            ('seg-v2', 'seg', dict(miou=44.44))):
        (results / f'{unit}-s0.json').write_text(json.dumps(dict(
            unit=unit, seed=0, task=task, change=tool.UNITS[unit][1], iters=300,
            metrics=dict(val=metrics, test=metrics), s_per_iter=0.25,
            wall_s=100.0, threads=2, load_avg=[1.0, 1.0, 1.0])))
    text = tool.report(str(results), str(tmp_path / 'table.md'))
    assert (tmp_path / 'table.md').read_text() == text
    assert '| det-v2 | scenes_v2, heads sized | 300 | 0 | 31.2 | 29.0 | 31.2 | ' \
        '29.0 | 0.250 | 100 | 2 | 1.0 |' in text
    assert '| seg-v2 | scenes_v2 | 300 | 0 | 44.4 | 44.4 | 0.250 |' in text
