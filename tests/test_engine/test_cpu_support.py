"""GPU configs are adapted for CPU: AMP, SyncBN, DDP device ids, gloo."""
import pytest
from mmengine.config import Config

from mmhybrid.engine import adapt_cfg_for_cpu


def test_adapt_cfg_for_cpu():
    cfg = Config(dict(
        model=dict(type='X', neck=dict(norm_cfg=dict(type='SyncBN')),
                   heads=[dict(norm_cfg=dict(type='SyncBN'))]),
        optim_wrapper=dict(type='AmpOptimWrapper', loss_scale='dynamic',
                           optimizer=dict(type='SGD', lr=0.1)),
        launcher='pytorch',
        env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    cfg = adapt_cfg_for_cpu(cfg)
    assert cfg.optim_wrapper.type == 'OptimWrapper' and 'loss_scale' not in cfg.optim_wrapper
    assert cfg.model.neck.norm_cfg.type == 'BN'
    assert cfg.model.heads[0].norm_cfg.type == 'BN'
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg.device_ids is None


def test_single_process_keeps_no_wrapper():
    cfg = adapt_cfg_for_cpu(Config(dict(model=dict(type='X'), launcher='none')))
    assert 'model_wrapper_cfg' not in cfg


def test_pytorch_launcher_without_torchrun_is_a_clear_error(monkeypatch):
    from mmhybrid.engine import init_cpu_process_group
    monkeypatch.delenv('RANK', raising=False)
    with pytest.raises(RuntimeError, match='torchrun'):
        init_cpu_process_group('pytorch')
