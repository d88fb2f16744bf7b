"""tools/train.py and tools/dist_train.sh on CPU with a tiny demo config."""
import re

import pytest

import torch

from tests.test_tools.train_helpers import (LEARNED_TASK_WEIGHTS, run_tool,
                                            write_tiny_config)

RANK_HOOK = '''
custom_imports = dict(imports=['mmhybrid', 'tests.test_tools.rank_state_hook'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='DumpRankStateHook')]
'''


def iterations_logged(text):
    return [int(m) for m in re.findall(r'Iter\(train\) \[\s*(\d+)/', text)]


def test_train_saves_and_resumes_at_the_right_iteration(tiny_demo, tmp_path):
    cfg = write_tiny_config(tmp_path / 'tiny.py', tiny_demo, max_iters=4, ckpt_interval=2,
                            extra=LEARNED_TASK_WEIGHTS)
    work = tmp_path / 'work'
    run_tool(['train.py', str(cfg), '--work-dir', str(work),
              '--cfg-options', 'train_cfg.max_iters=2'])
    ckpt = work / 'iter_2.pth'
    assert ckpt.is_file()
    state = torch.load(ckpt, map_location='cpu', weights_only=False)
    assert state['meta']['iter'] == 2
    assert 'balancer.log_vars' in state['state_dict']
    assert 'momentum_encoder.module.0.patch_embed.projection.weight' in state['state_dict']
    # resume (auto: latest checkpoint in the work dir) to 4 iterations
    proc = run_tool(['train.py', str(cfg), '--work-dir', str(work), '--resume'])
    out = proc.stdout + proc.stderr
    assert 'resumed epoch: 0, iter: 2' in out
    assert iterations_logged(out) == [3, 4]
    final = torch.load(work / 'iter_4.pth', map_location='cpu', weights_only=False)
    assert final['meta']['iter'] == 4
    # the momentum schedule position travelled with the checkpoint
    assert int(final['state_dict']['momentum_encoder.steps']) == 4


def test_dist_train_two_cpu_processes_agree(tiny_demo, tmp_path):
    cfg = write_tiny_config(tmp_path / 'tiny.py', tiny_demo, max_iters=3, batch_size=2,
                            ckpt_interval=3,
                            extra=RANK_HOOK + LEARNED_TASK_WEIGHTS)
    work = tmp_path / 'work'
    run_tool(['dist_train.sh', str(cfg), '2', '--work-dir', str(work)],
             env=dict(PORT='29611'))
    rank0 = torch.load(work / 'rank0_state.pth')
    rank1 = torch.load(work / 'rank1_state.pth')
    assert rank0.keys() == rank1.keys()
    trained = [k for k in rank0 if k.startswith(('backbone.', 'cls_head.', 'balancer.'))]
    assert trained
    for key in rank0:
        if 'running_' in key or 'num_batches_tracked' in key:
            continue  # BN statistics are per process on CPU (no SyncBN)
        assert torch.equal(rank0[key], rank1[key]), key
    assert (work / 'iter_3.pth').is_file()


def test_nan_stops_training_and_keeps_the_last_checkpoint(tiny_demo, tmp_path):
    extra = RANK_HOOK.replace("[dict(type='DumpRankStateHook')]",
                              "[dict(type='InjectNaNHook', at=3)]")
    cfg = write_tiny_config(tmp_path / 'tiny.py', tiny_demo, max_iters=4, ckpt_interval=2,
                            extra=extra)
    work = tmp_path / 'work'
    with pytest.raises(AssertionError) as failed:
        run_tool(['train.py', str(cfg), '--work-dir', str(work)])
    assert "non-finite loss in task(s) ['mim'] at iteration 3" in str(failed.value)
    assert sorted(p.name for p in work.glob('iter_*.pth')) == ['iter_2.pth']
    ckpt = torch.load(work / 'iter_2.pth', map_location='cpu', weights_only=False)
    assert all(torch.isfinite(v).all() for v in ckpt['state_dict'].values()
               if v.is_floating_point())
