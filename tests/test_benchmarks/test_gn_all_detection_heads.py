"""The fine-tuned Mask R-CNN with GroupNorm in its FPN and RoI heads (issue #26;
``ablation.py --finetuned-detection-heads gn-all``): a later protocol field
(older records keep their hashes) that swaps only the detection-finetuned
config, whose model differs from the 4000-iteration one only in the normalised
neck and heads, and that trains: one loss step reaches every GroupNorm."""
import dataclasses
import os
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from mmhybrid.benchmarks.protocol import (FINETUNED_DENSE_CONFIGS,
                                          FINETUNED_DETECTION_HEADS, FULL,
                                          Protocol, evaluations_for)
from mmhybrid.benchmarks.report import dense_protocol_lines

from .test_ablation import REPO

GN_ALL = FINETUNED_DETECTION_HEADS['gn-all']['v3'][4000]
PLAIN = FINETUNED_DENSE_CONFIGS['v3']['detection'][4000]


def test_the_field_keeps_older_hashes_and_swaps_only_the_fine_tuned_detector():
    plain = dataclasses.replace(FULL, dense_scenes='v3', finetuned_detection_iters=4000)
    gn = dataclasses.replace(plain, finetuned_detection_heads='gn-all')
    assert 'finetuned_detection_heads' not in plain.as_dict()  # ft4k records keep theirs
    assert gn.as_dict() == dict(plain.as_dict(), finetuned_detection_heads='gn-all')
    before = {ev.name: ev for ev in evaluations_for('v3', 4000)}
    after = {ev.name: ev for ev in evaluations_for('v3', 4000, 2000, 'gn-all')}
    assert before.keys() == after.keys()
    for name in before:
        assert (before[name] == after[name]) == (name != 'detection-finetuned'), name
    assert after['detection-finetuned'].config == GN_ALL
    assert after['detection-finetuned'].metrics == before['detection-finetuned'].metrics


@pytest.mark.parametrize('scenes,iters,heads,message', [
    ('v3', 2000, 'gn-all', r"'v3' has no fine-tuned Mask R-CNN with gn-all heads "
     r'of 2000 iterations; its gn-all schedules: \[4000\]'),
    ('v2', 2000, 'gn-all', "'v2' has no fine-tuned Mask R-CNN with gn-all heads"),
    ('v3', 4000, 'bn-all', r"unknown fine-tuned Mask R-CNN heads 'bn-all'; "
     r"known: \['', 'gn-all'\]"),
])
def test_heads_a_scene_set_or_schedule_lacks_are_refused(scenes, iters, heads,
                                                         message):
    with pytest.raises(ValueError, match=message):
        Protocol(dense_scenes=scenes, finetuned_detection_iters=iters,
                 finetuned_detection_heads=heads)


def test_the_config_normalises_only_the_neck_and_the_roi_heads():
    plain, gn = (Config.fromfile(str(REPO / c)) for c in (PLAIN, GN_ALL))
    for key in plain:  # schedule, data, optimizer, evaluators: all the same
        if key not in ('model', 'norm_cfg'):
            assert gn[key] == plain[key], key
    norm = dict(type='GN', num_groups=16, requires_grad=True)
    assert gn.model.neck == dict(plain.model.neck, norm_cfg=norm)
    assert gn.model.roi_head.mask_head == dict(plain.model.roi_head.mask_head,
                                               norm_cfg=norm)
    assert gn.model.roi_head.bbox_head == dict(
        plain.model.roi_head.bbox_head, type='Shared4Conv1FCBBoxHead',
        conv_out_channels=64, norm_cfg=norm)
    for part in ('backbone', 'rpn_head', 'train_cfg', 'test_cfg',
                 'data_preprocessor'):
        assert gn.model[part] == plain.model[part], part
    assert gn.model.neck.out_channels % norm['num_groups'] == 0


def test_one_loss_step_reaches_every_group_norm():
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmdet.utils import register_all_modules
    from mmengine.structures import InstanceData

    import mmhybrid  # noqa: F401  (registers HybridSwinTransformer)
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(str(REPO / GN_ALL))
    cfg.model.backbone.init_cfg = None  # no checkpoint: the structure is checked
    # the RPN samples 64 of ~1000 anchors, often none of the 15 on the two
    # coarsest levels of a 64-px image: sample them all, so every level is reached
    cfg.model.train_cfg.rpn.sampler.num = 4096
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    norms = {name: m for name, m in model.named_modules()
             if isinstance(m, torch.nn.GroupNorm)}
    # 4 FPN levels x (lateral + output conv), 4 box-head convs, 2 mask-head convs
    assert sum(n.startswith('neck.') for n in norms) == 8
    assert sum(n.startswith('roi_head.bbox_head.') for n in norms) == 4
    assert sum(n.startswith('roi_head.mask_head.') for n in norms) == 2
    assert not any(n.startswith(('backbone.', 'rpn_head.')) for n in norms)

    samples = []
    for i in range(2):
        sample = DetDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64),
                                             pad_shape=(64, 64), scale_factor=(1., 1.),
                                             batch_input_shape=(64, 64)))
        masks = torch.zeros(1, 64, 64, dtype=torch.uint8)
        masks[0, 8:40, 12:44] = 1
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[12., 8., 44., 40.]]), labels=torch.tensor([i]),
            masks=BitmapMasks(masks.numpy(), 64, 64))
        samples.append(sample)
    model.train()
    total, _ = model.parse_losses(model.loss(torch.randn(2, 3, 64, 64), samples))
    assert torch.isfinite(total)
    total.backward()
    for name, norm in norms.items():
        assert norm.weight.grad is not None and norm.weight.grad.abs().sum() > 0, name


def test_the_cli_takes_the_heads_only_into_their_own_results(tmp_path):
    def cli(*args):
        return subprocess.run(
            [sys.executable, str(REPO / 'tools/benchmarks/ablation.py'), '--quick',
             '--finetuned-detection-heads', 'gn-all', *args], cwd=tmp_path,
            capture_output=True, text=True, timeout=300,
            env=dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES=''))
    proc = cli()
    assert proc.returncode == 2
    assert '--finetuned-detection-heads needs its own --results' in proc.stderr
    proc = cli('--dense-scenes', 'v3', '--results', 'r')
    assert proc.returncode == 2
    assert 'has no fine-tuned Mask R-CNN with gn-all heads of 2000' in proc.stderr
    assert not (tmp_path / 'r').exists()


def test_the_report_names_the_heads_of_the_records_that_ran_them():
    def record(**protocol):
        return dict(protocol=dict(FULL.as_dict(), dense_scenes='v3',
                                  finetuned_detection_iters=4000, **protocol),
                    evaluations=['probes', 'detection-finetuned'])
    assert dense_protocol_lines([record()]) == [
        'Dense scenes: scenes_v3/. Fine-tuned Mask R-CNN: 4000 iterations.  ']
    assert dense_protocol_lines([record(finetuned_detection_heads='gn-all')]) == [
        'Dense scenes: scenes_v3/. Fine-tuned Mask R-CNN: 4000 iterations, '
        'gn-all heads.  ']
