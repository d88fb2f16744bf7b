"""Killed runs resume exactly; a kill during a save loses nothing complete."""
import shutil

import torch

from tests.test_tools.test_train_tools import iterations_logged
from tests.test_tools.train_helpers import run_tool, write_tiny_config

HOOKS = '''
custom_imports = dict(imports=['mmhybrid', 'tests.test_tools.rank_state_hook'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='RandomStateHook'), dict(type='LabelSpaceHook')] + {hooks}
'''


def config(tmp_path, name, tiny_demo, hooks, random_state=True):
    extra = HOOKS.format(hooks=hooks)
    if not random_state:
        extra = extra.replace("dict(type='RandomStateHook'), ", '')
        assert 'RandomStateHook' not in extra
    # drop path draws from the main process's RNG during training
    return write_tiny_config(tmp_path / name, tiny_demo, max_iters=6, ckpt_interval=2,
                             num_workers=1, drop_path=0.2, extra=extra)


def test_sigkill_mid_run_then_resume_matches_uninterrupted(tiny_demo, tmp_path):
    full = config(tmp_path, 'full.py', tiny_demo, '[]')
    run_tool(['train.py', str(full), '--work-dir', str(tmp_path / 'full')])

    killed = config(tmp_path, 'killed.py', tiny_demo, "[dict(type='SigkillHook', at=5)]")
    proc = run_tool(['train.py', str(killed), '--work-dir', str(tmp_path / 'killed')],
                    check=False)
    assert proc.returncode != 0  # SIGKILL
    assert not (tmp_path / 'killed' / 'iter_6.pth').exists()
    shutil.copytree(tmp_path / 'killed', tmp_path / 'control')
    proc = run_tool(['train.py', str(full), '--work-dir', str(tmp_path / 'killed'),
                     '--resume'])
    assert iterations_logged(proc.stdout + proc.stderr) == [5, 6]

    a = torch.load(tmp_path / 'full' / 'iter_6.pth', weights_only=False)
    b = torch.load(tmp_path / 'killed' / 'iter_6.pth', weights_only=False)
    assert a['state_dict'].keys() == b['state_dict'].keys()
    # bit for bit: online + momentum encoders, heads, log-variances, BN buffers,
    # step counters
    for key in a['state_dict']:
        assert torch.equal(a['state_dict'][key], b['state_dict'][key]), key
    assert a['optimizer']['state'].keys() == b['optimizer']['state'].keys()
    for idx, state in a['optimizer']['state'].items():
        assert state.keys() == b['optimizer']['state'][idx].keys()
        for name, value in state.items():
            assert torch.equal(value, b['optimizer']['state'][idx][name]), (idx, name)

    # control: the same resume without RandomStateHook (mmengine re-seeds
    # instead of restoring the RNGs) draws other drop-path masks and is not exact
    no_rng = config(tmp_path, 'no_rng.py', tiny_demo, '[]', random_state=False)
    run_tool(['train.py', str(no_rng), '--work-dir', str(tmp_path / 'control'),
              '--resume'])
    c = torch.load(tmp_path / 'control' / 'iter_6.pth', weights_only=False)
    assert not torch.equal(a['state_dict']['backbone.patch_embed.projection.weight'],
                           c['state_dict']['backbone.patch_embed.projection.weight'])


def test_kill_during_save_keeps_previous_checkpoint_and_auto_resume_uses_it(
        tiny_demo, tmp_path):
    killed = config(tmp_path, 'killed.py', tiny_demo,
                    "[dict(type='SigkillHook', at=4, during_save=True)]")
    work = tmp_path / 'work'
    proc = run_tool(['train.py', str(killed), '--work-dir', str(work)], check=False)
    assert proc.returncode != 0
    assert sorted(p.name for p in work.glob('iter_*.pth')) == ['iter_2.pth']
    assert (work / 'last_checkpoint').read_text().strip().endswith('iter_2.pth')
    full = config(tmp_path, 'full.py', tiny_demo, '[]')
    proc = run_tool(['train.py', str(full), '--work-dir', str(work), '--resume'])
    assert iterations_logged(proc.stdout + proc.stderr) == [3, 4, 5, 6]
    assert (work / 'iter_6.pth').is_file()
