"""DeviceCheckHook: a run on another device or in another precision fails."""
import json

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper
from mmengine.structures import BaseDataElement
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


class ToyModel(BaseModel):
    """A backbone of two Linears; in iteration ``spike_at`` the forward also
    holds a ``spike_mib`` MiB tensor for a moment (freed before the step ends)."""

    def __init__(self, spike_at=-1, spike_mib=0):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
        self.spike_at, self.spike_mib, self.calls = spike_at, spike_mib, 0

    def forward(self, inputs, data_samples=None, mode='tensor'):
        x = torch.stack(inputs) if isinstance(inputs, list) else inputs
        if self.calls == self.spike_at:
            spike = torch.ones(self.spike_mib * 2**18, device=x.device)  # float32
            x = x + spike[:1] - 1
            del spike
        self.calls += 1
        out = self.backbone(x)
        return dict(loss=out.pow(2).mean()) if mode == 'loss' else out


def run_with_hook(tmp_path, hook_cfg, model, iters=3):
    """A real mmengine Runner (default hooks, LoggerHook logging every
    iteration) training ``model`` with the hook as gpu_check adds it."""
    from mmengine.runner import Runner
    data = [dict(inputs=torch.rand(4), data_samples=BaseDataElement())
            for _ in range(8)]
    runner = Runner(
        model=model, work_dir=str(tmp_path / 'work'),
        train_dataloader=dict(dataset=data, batch_size=2,
                              sampler=dict(type='DefaultSampler', shuffle=False),
                              collate_fn=dict(type='pseudo_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=False, max_iters=iters),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1),
                           checkpoint=None),
        custom_hooks=[hook_cfg], log_level='WARNING')
    runner.train()
    return runner


DEVICE = 'cuda' if torch.cuda.is_available() else 'cpu'


def test_in_a_runner_the_hook_reads_before_the_logger(tmp_path):
    # mmengine's log processor resets CUDA's peak-memory statistics each time
    # it logs (mmengine.device.get_max_cuda_memory): the hook must read them in
    # after_train_iter before LoggerHook does, i.e. come first in the runner's
    # hook order, as configured the way gpu_check configures it
    out = tmp_path / 'check.json'
    runner = run_with_hook(tmp_path, dict(type='DeviceCheckHook', device=DEVICE,
                                          dtype='float32', out=str(out), name='toy',
                                          skip=1), ToyModel())
    names = [type(h).__name__ for h in runner.hooks]
    assert names.index('DeviceCheckHook') < names.index('LoggerHook'), names
    s = json.loads(out.read_text())
    assert s['status'] == 'ok' and (s['batch'], s['iters'], s['timed_iters']) == (2, 3, 2)
    assert s['observed']['input_device'].startswith(DEVICE)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU: the '
                    'peak is torch.cuda.max_memory_allocated')
def test_peak_memory_survives_the_loggers_reset(tmp_path):
    # a 256 MiB spike in the second of three iterations: the logger resets the
    # statistics after every iteration, so only a read before it sees the spike
    out = tmp_path / 'check.json'
    run_with_hook(tmp_path, dict(type='DeviceCheckHook', device='cuda',
                                 dtype='float32', out=str(out)),
                  ToyModel(spike_at=1, spike_mib=256))
    assert torch.cuda.max_memory_allocated() < 256 * 2**20  # reset since
    assert json.loads(out.read_text())['peak_mib'] >= 256
