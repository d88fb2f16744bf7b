"""The 'atomic_local' backend: a complete file or the old one, never a torn one."""
import os

import pytest
from mmengine.config import Config
from mmengine.fileio import get_file_backend

from mmhybrid.utils.atomic_local_backend import AtomicLocalBackend

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_named_backend_writes_whole_files(tmp_path):
    backend = get_file_backend(str(tmp_path), backend_args=dict(backend='atomic_local'))
    assert isinstance(backend, AtomicLocalBackend)
    target = tmp_path / 'sub' / 'iter_2.pth'
    backend.put(b'new checkpoint', str(target))
    backend.put_text('iter_2.pth', str(tmp_path / 'last'))
    assert target.read_bytes() == b'new checkpoint'
    assert (tmp_path / 'last').read_text() == 'iter_2.pth'
    assert sorted(p.name for p in target.parent.iterdir()) == ['iter_2.pth']


def test_failed_write_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / 'iter_2.pth'
    target.write_bytes(b'old')

    def crash(fd):
        raise OSError('disk full')

    monkeypatch.setattr(os, 'fsync', crash)
    with pytest.raises(OSError, match='disk full'):
        AtomicLocalBackend().put(b'half of the new one', str(target))
    assert target.read_bytes() == b'old'
    assert [p.name for p in tmp_path.iterdir()] == ['iter_2.pth']


def test_plain_paths_keep_mmengines_local_backend(tmp_path):
    assert not isinstance(get_file_backend(str(tmp_path)), AtomicLocalBackend)


def test_pretrain_configs_save_through_it():
    for name in ('hybrid_swin-b.py', 'hybrid_swin-t.py', 'hybrid_swin-demo_fashion-64px.py'):
        cfg = Config.fromfile(os.path.join(REPO, 'configs', 'pretrain', name))
        assert cfg.default_hooks.checkpoint.backend_args == dict(backend='atomic_local')
