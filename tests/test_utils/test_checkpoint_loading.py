"""mmengine checkpoints load with torch's safe loader; code in a pickle does not run."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner import load_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader, save_checkpoint
from torch import nn

from mmhybrid.utils.checkpoint_loading import (load_mmengine_checkpoint,
                                               safe_mmengine_checkpoints)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class ShellPayload:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


class GetattrChain:
    """Unpickling this calls ``getattr(HistoryBuffer, '__init__')``: the first link
    of a getattr chain towards ``__globals__`` and ``eval``."""

    def __reduce__(self):
        return getattr, (HistoryBuffer, '__init__')


def mmengine_checkpoint(path):
    """A checkpoint as mmengine's Runner writes it: weights, a MessageHub with
    HistoryBuffers of numpy values, numpy scalars in the runtime info."""
    hub = MessageHub('ckpt_test')
    for value in (1.5, 2.5, 0.5):
        hub.update_scalar('train/loss', value)
    hub.update_info('iter', np.int64(7))
    hub.update_info('lr', np.float64(1e-3))
    model = nn.Linear(3, 2)
    save_checkpoint(dict(meta=dict(iter=7, seed=0, cfg='model = dict()'),
                         state_dict=model.state_dict(),
                         message_hub=hub.state_dict()), str(path))
    return model


def test_mmengine_checkpoint_needs_and_gets_the_allow_list(tmp_path):
    path = tmp_path / 'iter_7.pth'
    model = mmengine_checkpoint(path)
    with pytest.raises(Exception, match='Weights only load failed'):
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    ckpt = load_mmengine_checkpoint(str(path))
    buffer = ckpt['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.mean() == pytest.approx(1.5) and buffer.max() == 2.5
    assert ckpt['message_hub']['runtime_info']['iter'] == 7
    assert torch.equal(ckpt['state_dict']['weight'], model.weight)
    # mmengine's load_checkpoint inside the context (as tools/train.py runs)
    fresh = nn.Linear(3, 2)
    with safe_mmengine_checkpoints():
        load_checkpoint(fresh, str(path), map_location='cpu', logger='silent')
    assert torch.equal(fresh.weight, model.weight)


@pytest.mark.parametrize('load', ['plain', 'allow_list'])
def test_pickled_shell_command_is_refused_and_not_run(tmp_path, load):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={}, meta=ShellPayload(marker)), path)
    with pytest.raises(Exception, match='os.system|posix.system|Weights only'):
        if load == 'plain':  # mmengine's own loader, mmhybrid imported
            CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
        else:
            load_mmengine_checkpoint(str(path))
    assert not marker.exists()


def test_getattr_is_allowed_only_for_history_buffer_statistics(tmp_path):
    path = tmp_path / 'chain.pth'
    torch.save(dict(meta=GetattrChain()), path)
    with pytest.raises(Exception, match="only the statistics methods"):
        load_mmengine_checkpoint(str(path))


def test_pretrained_init_of_a_dense_config_refuses_the_payload(tmp_path):
    """A ``Pretrained`` init_cfg (mmengine's ``load_checkpoint``) in a fresh
    process that imported mmhybrid: torch refuses the file, nothing runs."""
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={}, meta=ShellPayload(marker)), path)
    code = (
        'import mmhybrid, mmhybrid.downstream\n'
        'from mmengine.model import BaseModule\n'
        'from torch import nn\n'
        'class M(BaseModule):\n'
        '    def __init__(self):\n'
        f'        super().__init__(init_cfg=dict(type="Pretrained", checkpoint={str(path)!r}))\n'
        '        self.fc = nn.Linear(2, 2)\n'
        'M().init_weights()\n')
    proc = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=REPO))
    assert proc.returncode != 0
    assert 'Weights only load failed' in proc.stderr, proc.stderr[-2000:]
    assert not marker.exists()
