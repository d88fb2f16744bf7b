"""The optimizer-side switches of the GPU path, as the configs take them:
the AMP dtype (bf16 as shipped, fp16 by --cfg-options) and fused AdamW."""
import argparse
import copy
from pathlib import Path
from unittest import mock

import pytest
import torch
from mmengine.config import Config, DictAction
from mmengine.optim import AmpOptimWrapper, OptimWrapper, build_optim_wrapper
from mmpretrain.registry import MODELS

from mmhybrid.engine import adapt_cfg_for_cpu
from tests.test_models import tiny_models as tm

REPO = Path(__file__).resolve().parents[2]
HEADLINE = REPO / 'configs' / 'pretrain' / 'hybrid_swin-b.py'
DEMO = REPO / 'configs' / 'pretrain' / 'hybrid_swin-demo_fashion-64px.py'


def with_options(path, *options):
    """The config as tools/train.py reads it with ``--cfg-options``."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    cfg = Config.fromfile(str(path))
    if options:
        cfg.merge_from_dict(parser.parse_args(['--cfg-options', *options]).cfg_options)
    return cfg


def tiny_hybrid():
    torch.manual_seed(0)
    return MODELS.build(dict(type='HybridPretrain', backbone=tm.swin(), mim=tm.mim(),
                             contrastive=tm.contrastive(), multilabel=tm.multilabel()))


@pytest.mark.parametrize('options,dtype', [
    ((), torch.bfloat16),  # as shipped
    (('optim_wrapper.dtype=float16', ), torch.float16),
])
def test_amp_dtype_switch_builds_the_gpu_wrapper(options, dtype):
    cfg = with_options(HEADLINE, *options)
    # the wrapper a GPU run builds (AmpOptimWrapper refuses to build without a GPU)
    with mock.patch('mmengine.optim.optimizer.amp_optimizer_wrapper.'
                    'is_cuda_available', return_value=True):
        wrapper = build_optim_wrapper(tiny_hybrid(), cfg.optim_wrapper)
    assert type(wrapper) is AmpOptimWrapper
    assert wrapper.cast_dtype == dtype
    # and on CPU the same config trains in fp32
    cpu = adapt_cfg_for_cpu(copy.deepcopy(cfg), cuda_available=False)
    assert type(build_optim_wrapper(tiny_hybrid(), cpu.optim_wrapper)) is OptimWrapper


def train_steps(cfg, steps=1):
    """``steps`` training steps of the tiny hybrid with ``cfg``'s optim
    wrapper (paramwise decay, gradient clipping) on one batch."""
    model = tiny_hybrid()
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    inputs, samples = tm.batch(views=2)
    for s in samples:
        s.set_metainfo(dict(view_names=('masked', 'view1')))
    for _ in range(steps):
        model.train_step(dict(inputs=copy.deepcopy(inputs),
                              data_samples=copy.deepcopy(samples)), wrapper)
    return model, wrapper


@pytest.mark.parametrize('switch', ['fused', 'foreach'])
def test_fused_and_foreach_adamw_step_as_the_default(max_iters, switch):
    # one step: later steps drift apart on elements whose gradient is rounding
    # noise (a key bias gets none through the softmax; Adam scales noise to ~lr)
    plain_model, plain = train_steps(Config.fromfile(str(DEMO)))
    cfg = with_options(DEMO, f'optim_wrapper.optimizer.{switch}=True')
    model, wrapper = train_steps(cfg)
    assert wrapper.optimizer.defaults[switch] is True
    assert all(g[switch] is True for g in wrapper.optimizer.param_groups)
    assert plain.optimizer.defaults[switch] in (None, False)
    # the same paramwise groups (decay multipliers) as the default optimizer
    groups = [[(len(g['params']), g['weight_decay']) for g in w.optimizer.param_groups]
              for w in (wrapper, plain)]
    assert groups[0] == groups[1]
    a, b = plain_model.state_dict(), model.state_dict()
    moved = 0
    for k in a:
        # a few float32 ulps of the weights (lr 3e-4: 1e-7 is 0.03% of a step)
        torch.testing.assert_close(b[k], a[k], rtol=1e-6, atol=1e-7, msg=k)
        moved += not torch.equal(a[k], tiny_hybrid().state_dict()[k])
    assert moved > 50  # the steps trained
