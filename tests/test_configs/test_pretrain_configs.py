"""The packaged pre-training configs build and say what they need."""
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

from mmhybrid.engine import adapt_cfg_for_cpu

REPO = Path(__file__).resolve().parents[2]
PRETRAIN = REPO / 'configs' / 'pretrain'


def build_model(path):
    # the CPU adaptation, also on a GPU machine (the model is only built)
    cfg = adapt_cfg_for_cpu(Config.fromfile(str(path)), cuda_available=False)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg.model), cfg


def test_headline_swin_b_builds_with_87m_backbone():
    model, cfg = build_model(PRETRAIN / 'hybrid_swin-b.py')
    n = sum(p.numel() for p in model.backbone.parameters())
    assert 86e6 < n < 88e6, n  # Swin-B: 87M (+ SimMIM's mask token)
    assert model.tasks == ('mim', 'contrastive', 'multilabel')
    assert model.backbone.stages[0].blocks[0].attn.w_msa.window_size == (6, 6)
    assert cfg.train_dataloader.batch_size == 128
    assert cfg.auto_scale_lr.base_batch_size == 2048
    # on CPU the GPU-only parts are adapted
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    # one checked Pillow decode per image (results/pipeline_rate.md)
    load = cfg.train_dataloader.dataset.pipeline[0]
    assert (load.type, load.imdecode_backend) == ('LoadImageRobust', 'pillow')


def test_headline_schedule_trains_in_bf16():
    # as configured for a GPU (no CPU adaptation): AMP in bfloat16, what README
    # and the GPU check (results/gpu_check/) say; AmpOptimWrapper's own default
    # dtype None would be float16
    from mmengine.optim import AmpOptimWrapper
    for name in ('hybrid_swin-b.py', 'hybrid_swin-t.py',
                 'ablations/hybrid-mim-only_swin-b.py'):
        wrapper = Config.fromfile(str(PRETRAIN / name)).optim_wrapper
        assert (wrapper.type, wrapper.get('dtype')) == ('AmpOptimWrapper',
                                                        'bfloat16'), name
    assert 'bfloat16' in AmpOptimWrapper.valid_dtypes


def test_training_without_data_names_the_missing_annotation_file(tmp_path):
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', 'configs/pretrain/hybrid_swin-b.py',
         '--work-dir', str(tmp_path)], cwd=REPO, capture_output=True, text=True,
        timeout=600)
    assert proc.returncode != 0
    assert 'data/ml-images/meta/train.json' in proc.stderr


@pytest.mark.parametrize('name,tasks', [
    ('ablations/hybrid-mim-only_swin-b.py', ('mim', )),
    ('ablations/hybrid-contrastive-only_swin-b.py', ('contrastive', )),
    ('ablations/hybrid-multilabel-only_swin-b.py', ('multilabel', )),
    ('hybrid_swin-t.py', ('mim', 'contrastive', 'multilabel')),
    ('hybrid_swin-demo_fashion-64px.py', ('mim', 'contrastive', 'multilabel')),
    ('hybrid_swin-demo_fashion-64px_10pct-labels.py', ('mim', 'contrastive', 'multilabel')),
])
def test_variants_build(name, tasks):
    model, cfg = build_model(PRETRAIN / name)
    assert model.tasks == tasks
    # the optim wrapper as configured for CPU (the demo's fp32 OptimWrapper
    # must not inherit the headline's AMP dtype)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert type(wrapper).__name__ == 'OptimWrapper'
