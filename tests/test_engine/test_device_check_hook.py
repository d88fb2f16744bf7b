"""DeviceCheckHook: a run on another device or in another precision fails."""
import json

import pytest
import torch
from mmengine.optim import OptimWrapper
from torch import nn

from mmhybrid.engine.hooks import DeviceCheckHook


class FakeRunner:
    def __init__(self, model, wrapper):
        self.model, self.optim_wrapper = model, wrapper


def toy_runner():
    model = nn.Module()
    model.backbone = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    return FakeRunner(model, wrapper)


def train_iters(hook, runner, n, batch=3):
    hook.before_train(runner)
    for i in range(n):
        data = dict(inputs=torch.rand(batch, 4), data_samples=[object()] * batch)
        hook.before_train_iter(runner, i, data)
        runner.model.backbone(data['inputs'])
        hook.after_train_iter(runner, i, data)
    hook.after_train(runner)


def test_cpu_fp32_run_asked_as_such_passes_and_is_timed(tmp_path):
    out = tmp_path / 'check.json'
    hook = DeviceCheckHook(device='cpu', dtype='float32', out=str(out), name='toy',
                           skip=1)
    train_iters(hook, toy_runner(), 3)
    s = json.loads(out.read_text())
    assert s['status'] == 'ok' and s['problems'] == []
    assert s['observed'] == dict(input_device='cpu', linear_dtype='float32',
                                 autocast='off')
    assert (s['batch'], s['iters'], s['timed_iters']) == (3, 3, 2)
    assert s['img_s'] > 0 and s['iter_s'] > 0
    assert s['optim_wrapper'] == 'OptimWrapper' and s['peak_mib'] is None


def test_cpu_fp32_run_asked_gpu_bf16_fails_loudly(tmp_path):
    out = tmp_path / 'check.json'
    hook = DeviceCheckHook(device='cuda', dtype='bfloat16', out=str(out), name='toy')
    with pytest.raises(RuntimeError) as err:
        train_iters(hook, toy_runner(), 2)
    msg = str(err.value)
    assert msg.startswith('DeviceCheckHook[toy]: the run is not what was asked')
    for part in ("model parameters on ['cpu'], expected cuda",
                 'backbone ran on cpu, expected cuda',
                 'backbone Linear returned float32',
                 'OptimWrapper does not autocast'):
        assert part in msg
    s = json.loads(out.read_text())
    assert s['status'] == 'FAILED' and len(s['problems']) == 4


def test_autocast_dtype_is_what_the_linear_returns(tmp_path):
    hook = DeviceCheckHook(device='cpu', dtype='bfloat16')
    runner = toy_runner()
    hook.before_train(runner)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        runner.model.backbone(torch.rand(2, 4))
    assert hook.seen == dict(input_device='cpu', linear_dtype='bfloat16',
                             autocast='bfloat16')
    problems = hook.problems(runner.model, runner.optim_wrapper)
    # only the wrapper is wrong: an fp32 OptimWrapper cannot be a bf16 run
    assert problems == ['optim wrapper OptimWrapper does not autocast (fp32), '
                        'expected AmpOptimWrapper(bfloat16)']


def test_rejects_unknown_dtype():
    with pytest.raises(ValueError, match='dtype must be one of'):
        DeviceCheckHook(dtype='fp8')


def test_peak_memory_is_read_before_the_logger_resets_it(tmp_path, monkeypatch):
    # mmengine's log processor calls torch.cuda.reset_peak_memory_stats each time
    # it logs: the hook runs before LoggerHook and keeps the largest peak it read
    from mmengine.hooks import LoggerHook
    from mmengine.runner import get_priority
    assert get_priority(DeviceCheckHook.priority) < get_priority(LoggerHook.priority)

    peak = {'bytes': 0}
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'synchronize', lambda: None)
    monkeypatch.setattr(torch.cuda, 'get_device_name', lambda: 'fake GPU')
    monkeypatch.setattr(torch.cuda, 'max_memory_allocated', lambda: peak['bytes'])
    out = tmp_path / 'check.json'
    hook = DeviceCheckHook(device='cuda', dtype='float32', out=str(out), name='toy')
    hook.checked = True  # the device / dtype checks are the tests above
    runner = toy_runner()
    hook.before_train(runner)
    for i, mib in enumerate([5, 9, 3]):
        hook.before_train_iter(runner, i)
        peak['bytes'] = mib * 2**20  # the step's peak
        hook.after_train_iter(runner, i, dict(data_samples=[object()]))
        peak['bytes'] = 0  # LoggerHook, after it: the log processor's reset
    hook.after_train(runner)
    assert json.loads(out.read_text())['peak_mib'] == 9
