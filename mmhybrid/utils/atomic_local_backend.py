"""A file backend that writes local files (checkpoints) atomically.

mmengine saves a checkpoint by ``open(path, 'wb').write(...)``: a job killed during
the write leaves a truncated ``iter_N.pth`` beside the good ones. This backend writes
to a temporary file in the same folder, fsyncs it and renames it over the target
(``os.replace`` is atomic on POSIX), so a file at the final path is always complete
and a kill leaves at most a ``*.tmp-<pid>`` file behind. mmengine's ``last_checkpoint``
pointer is written only after the checkpoint itself, so ``--resume`` (auto) picks the
last complete checkpoint.

It is registered under its own name and used only where a config names it::

    default_hooks = dict(checkpoint=dict(
        type='CheckpointHook', backend_args=dict(backend='atomic_local')))

mmengine's ``local`` backend is left as it is for everyone else.
"""
import os
import os.path as osp
from pathlib import Path
from typing import Union

from mmengine.fileio import register_backend
from mmengine.fileio.backends import LocalBackend
from mmengine.utils import mkdir_or_exist


def atomic_write(data: bytes, filepath: Union[str, Path]) -> None:
    """Write ``data`` to ``filepath`` via a temporary file and a rename."""
    filepath = str(filepath)
    mkdir_or_exist(osp.dirname(filepath) or '.')
    tmp = f'{filepath}.tmp-{os.getpid()}'
    try:
        with open(tmp, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """mmengine's ``LocalBackend`` with atomic ``put`` / ``put_text``
    (registered as ``'atomic_local'``)."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write(obj, filepath)

    def put_text(self, obj: str, filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        atomic_write(obj.encode(encoding), filepath)
