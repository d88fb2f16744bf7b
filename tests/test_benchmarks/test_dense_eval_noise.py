"""The split-half noise of a dense evaluation (issue #26): the estimate matches a
known binomial std, the subset metrics agree with mmseg's / mmdet's own on the full
split, and the tool reads an evaluation's work directory."""
import json
import os

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmhybrid.benchmarks.dense_eval_noise import (coco_ap_of, miou_of,
                                                  split_half_std)

from ..conftest import load_script
from .test_dense_scenes import DEMO, build_model

DET_V2 = 'mask-rcnn_swin-demo-hybrid-frozen_fpn_1xb8-1k_fashion-scenes-v2-64px.py'
SEG_V2 = 'upernet_swin-demo-hybrid-frozen_1xb16-1k_fashion-scenes-v2-64px.py'


def test_split_half_std_recovers_a_binomial_std():
    hits = np.random.default_rng(0).random(4000) < 0.3
    out = split_half_std(lambda idx: hits[idx].mean() * 100, len(hits),
                         num_splits=400, seed=1)
    assert out['full'] == pytest.approx(hits.mean() * 100)
    expected = np.sqrt(0.3 * 0.7 / len(hits)) * 100  # 0.72
    assert out['std'] == pytest.approx(expected, rel=0.15)
    with pytest.raises(ValueError, match='>= 2 items'):
        split_half_std(lambda idx: 0., 1)


def test_miou_of_agrees_with_mmseg_iou_metric():
    from mmseg.evaluation import IoUMetric
    rng = torch.Generator().manual_seed(0)
    num_classes = 4
    per_image = []
    for _ in range(6):
        label = torch.randint(0, num_classes - 1, (8, 8), generator=rng)  # class 3 absent
        pred = torch.where(torch.rand(8, 8, generator=rng) < 0.7, label,
                           torch.randint(0, num_classes, (8, 8), generator=rng))
        per_image.append(IoUMetric.intersect_and_union(pred, label, num_classes, 255))
    metric = IoUMetric()
    metric.dataset_meta = dict(classes=[str(i) for i in range(num_classes)])
    reported = metric.compute_metrics(per_image)['mIoU']
    assert miou_of(per_image)(np.arange(6)) == pytest.approx(reported, abs=0.006)
    # a subset is the same metric of those images alone
    subset = metric.compute_metrics(per_image[:3])['mIoU']
    assert miou_of(per_image)(np.arange(3)) == pytest.approx(subset, abs=0.006)


def test_coco_ap_of_scores_a_subset_and_an_empty_result(tmp_path):
    images = [dict(id=i, file_name=f'{i}.png', height=32, width=32) for i in range(4)]
    anns = [dict(id=i + 1, image_id=i, category_id=1, bbox=[4, 4, 10, 10], area=100,
                 iscrowd=0) for i in range(4)]
    gt = tmp_path / 'gt.json'
    gt.write_text(json.dumps(dict(images=images, annotations=anns,
                                  categories=[dict(id=1, name='a')])))
    # images 0, 1 found exactly; images 2, 3 missed (a box far off)
    dets = [dict(image_id=i, category_id=1, score=0.9,
                 bbox=[4, 4, 10, 10] if i < 2 else [20, 20, 10, 10]) for i in range(4)]
    result = tmp_path / 'dt.json'
    result.write_text(json.dumps(dets))
    metric_of, num = coco_ap_of(str(gt), str(result), 'bbox')
    assert num == 4
    assert metric_of(np.array([0, 1])) == pytest.approx(100)
    assert metric_of(np.array([2, 3])) == pytest.approx(0)
    assert 0 < metric_of(np.arange(4)) < 100
    result.write_text('[]')
    metric_of, _ = coco_ap_of(str(gt), str(result), 'bbox')
    assert metric_of(np.arange(4)) == 0


def visualizer_classes():
    from mmdet.visualization import DetLocalVisualizer
    from mmengine.visualization import Visualizer
    from mmseg.visualization import SegLocalVisualizer
    return Visualizer, DetLocalVisualizer, SegLocalVisualizer


def load_tool():
    return load_script('tools/benchmarks/dense_eval_noise.py')


def fake_eval_dir(root, config_name, scope, name):
    """An evaluation's work directory as tools/train.py leaves it: the dumped
    config and a checkpoint (here of an untrained model)."""
    cfg = Config.fromfile(str(DEMO / config_name))
    eval_dir = root / name
    eval_dir.mkdir()
    cfg.dump(str(eval_dir / config_name))
    model = build_model(cfg, scope)
    checkpoint = eval_dir / 'iter_1.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), checkpoint)
    (eval_dir / 'last_checkpoint').write_text(str(checkpoint))
    return eval_dir


def test_tool_reads_evaluation_dirs_and_matches_the_libraries(
        tiny_demo_v2, tmp_path, monkeypatch, capsys):
    (tmp_path / 'data').mkdir()
    os.symlink(tiny_demo_v2, tmp_path / 'data' / 'fashion_demo')
    monkeypatch.chdir(tmp_path)
    det = fake_eval_dir(tmp_path, DET_V2, 'mmdet', 'det')
    seg = fake_eval_dir(tmp_path, SEG_V2, 'mmseg', 'seg')
    seg_b = fake_eval_dir(tmp_path, SEG_V2, 'mmseg', 'seg_b')  # other random weights
    out = tmp_path / 'noise.json'
    tool = load_tool()
    visualizers = {cls: dict(cls._instance_dict) for cls in visualizer_classes()}
    assert tool.main([str(det), str(seg), str(seg_b), '--num-splits', '3',
                      '--out', str(out)]) == 0
    results = json.loads(out.read_text())
    # one gap: the two segmentation models (the detector has no partner)
    assert set(results) == {f'{det}:test', f'{seg}:test', f'{seg_b}:test',
                            f'{seg_b} - {seg}:test'}
    gap = results[f'{seg_b} - {seg}:test']['miou']
    assert gap['full'] == pytest.approx(results[f'{seg_b}:test']['miou']['full']
                                        - results[f'{seg}:test']['miou']['full'])
    det_out, seg_out = results[f'{det}:test'], results[f'{seg}:test']
    for value in (det_out['box_ap'], det_out['mask_ap'], seg_out['miou']):
        assert value['num_images'] == 3 and value['num_splits'] == 3  # tiny test split
        assert value['full'] == pytest.approx(value['reported'], abs=0.06)
        assert np.isfinite(value['std']) and value['std'] >= 0
    assert f'{seg} test miou' in capsys.readouterr().out
    # no visualizer registered under the configs' shared name: a later
    # tools/train.py in this process would log into the tool's directory
    assert visualizers == {cls: dict(cls._instance_dict) for cls in visualizer_classes()}
    with pytest.raises(FileNotFoundError, match='expected the one config'):
        tool.main([str(tmp_path / 'data')])
