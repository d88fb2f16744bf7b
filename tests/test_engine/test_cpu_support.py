"""GPU configs are adapted for CPU: AMP, SyncBN, DDP device ids, gloo.

The tests pass ``cuda_available`` explicitly, so they check the same conversion on
a CPU-only and on a GPU machine (the tools detect CUDA themselves)."""
import copy

import pytest
import torch
from mmengine.config import Config

from mmhybrid.engine import adapt_cfg_for_cpu


def gpu_config():
    return Config(dict(
        model=dict(type='X', neck=dict(norm_cfg=dict(type='SyncBN')),
                   heads=[dict(norm_cfg=dict(type='SyncBN'))]),
        optim_wrapper=dict(type='AmpOptimWrapper', loss_scale='dynamic',
                           optimizer=dict(type='SGD', lr=0.1)),
        launcher='pytorch',
        env_cfg=dict(dist_cfg=dict(backend='nccl'))))


def test_adapt_cfg_for_cpu():
    cfg = adapt_cfg_for_cpu(gpu_config(), cuda_available=False)
    assert cfg.optim_wrapper.type == 'OptimWrapper' and 'loss_scale' not in cfg.optim_wrapper
    # SyncBN over gloo (global batch statistics), not per-process BN
    assert cfg.model.neck.norm_cfg.type == 'GlooSyncBN'
    assert cfg.model.heads[0].norm_cfg.type == 'GlooSyncBN'
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg.device_ids is None


@pytest.mark.parametrize('launcher', ['pytorch', 'none'])
def test_with_cuda_the_config_is_left_unchanged(launcher):
    cfg = gpu_config()
    cfg.launcher = launcher
    before = copy.deepcopy(cfg.to_dict())
    assert adapt_cfg_for_cpu(cfg, cuda_available=True).to_dict() == before
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert 'model_wrapper_cfg' not in cfg


def test_skip_nonfinite_amp_wrapper_becomes_the_fp32_one_on_cpu():
    """SkipNonFiniteAmpOptimWrapper keeps its skip on CPU (fp32), and builds."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope
    cfg = gpu_config()
    cfg.optim_wrapper.type = 'SkipNonFiniteAmpOptimWrapper'
    cfg.optim_wrapper.dtype = 'float16'
    before = copy.deepcopy(cfg.to_dict())
    assert adapt_cfg_for_cpu(copy.deepcopy(cfg), cuda_available=True).to_dict() == before
    cfg = adapt_cfg_for_cpu(cfg, cuda_available=False)
    assert cfg.optim_wrapper.type == 'SkipNonFiniteOptimWrapper'
    assert 'loss_scale' not in cfg.optim_wrapper and 'dtype' not in cfg.optim_wrapper
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        wrapper = build_optim_wrapper(torch.nn.Linear(2, 2), cfg.optim_wrapper)
    assert type(wrapper).__name__ == 'SkipNonFiniteOptimWrapper'
    assert wrapper.supports_nonfinite_skip


def test_default_detects_cuda(monkeypatch):
    import mmhybrid.engine.cpu_support as cpu_support
    for visible, optim_wrapper in ((True, 'AmpOptimWrapper'), (False, 'OptimWrapper')):
        monkeypatch.setattr(cpu_support.torch.cuda, 'is_available', lambda: visible)
        assert adapt_cfg_for_cpu(gpu_config()).optim_wrapper.type == optim_wrapper


def test_single_process_syncbn_is_plain_bn_that_takes_2d_input():
    """BN (BatchNorm2d) would reject the (N, C) input of MoCo v3's projector."""
    from mmpretrain.registry import MODELS
    from mmengine.registry import DefaultScope
    cfg = adapt_cfg_for_cpu(Config(dict(
        model=dict(type='NonLinearNeck', in_channels=8, hid_channels=16,
                   out_channels=4, norm_cfg=dict(type='SyncBN')),
        launcher='none')), cuda_available=False)
    assert cfg.model.norm_cfg.type == 'GlooSyncBN'
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        neck = MODELS.build(cfg.model)
    x = torch.randn(4, 8, 2, 2)
    ref = torch.nn.BatchNorm1d(16)
    ref.load_state_dict(neck.bn0.state_dict())
    hid = neck.fc0(neck.avgpool(x).flatten(1))
    assert torch.equal(neck.bn0(hid), ref(hid))  # one process: BN exactly
    assert neck((x, ))[0].shape == (4, 4)


def test_single_process_keeps_no_wrapper():
    cfg = adapt_cfg_for_cpu(Config(dict(model=dict(type='X'), launcher='none')),
                            cuda_available=False)
    assert 'model_wrapper_cfg' not in cfg


def test_pytorch_launcher_without_torchrun_is_a_clear_error(monkeypatch):
    from mmhybrid.engine import init_cpu_process_group
    monkeypatch.delenv('RANK', raising=False)
    with pytest.raises(RuntimeError, match='torchrun'):
        init_cpu_process_group('pytorch', cuda_available=False)
    # with CUDA mmengine's own init_dist sets up NCCL: nothing to do here
    init_cpu_process_group('pytorch', cuda_available=True)
    assert not torch.distributed.is_initialized()
