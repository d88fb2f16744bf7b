"""Killed runs resume exactly; a kill during a save loses nothing complete."""
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
        extra = extra.replace("[dict(type='RandomStateHook')] + ", '')
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
    proc = run_tool(['train.py', str(full), '--work-dir', str(tmp_path / 'killed'),
                     '--resume'])
    assert iterations_logged(proc.stdout + proc.stderr) == [5, 6]

    a = torch.load(tmp_path / 'full' / 'iter_6.pth', weights_only=False)
    b = torch.load(tmp_path / 'killed' / 'iter_6.pth', weights_only=False)
    assert a['state_dict'].keys() == b['state_dict'].keys()
    for key in a['state_dict']:  # online + momentum encoders, heads, log-variances
        assert torch.allclose(a['state_dict'][key].float(), b['state_dict'][key].float(),
                              atol=1e-6), key
    for idx, state in a['optimizer']['state'].items():
        for name, value in state.items():
            assert torch.allclose(value, b['optimizer']['state'][idx][name], atol=1e-6)


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
