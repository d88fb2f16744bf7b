"""Load mmengine checkpoints with torch's safe loader (``weights_only=True``).

torch 2.6 made ``weights_only=True`` the default of ``torch.load``: unpickling may
only build tensors, containers and the classes on an allow-list, so a ``.pth``
cannot run code when it is loaded. mmengine 0.10.7's checkpoints hold more than
tensors: the MessageHub's ``HistoryBuffer`` objects (numpy arrays inside) and numpy
scalars, so ``--resume`` and ``load_from`` fail with "Weights only load failed".

The answer is torch's own: allow-list exactly those classes, for the duration of
a load, with :func:`torch.serialization.safe_globals`. Nothing is changed for the
rest of the process (importing :mod:`mmhybrid` does not call any of this).

One entry needs care: ``HistoryBuffer.__getstate__`` pickles its statistics
methods (``min``, ``max``, ...) as ``getattr(HistoryBuffer, 'min')``. Allowing
``builtins.getattr`` itself would reopen the hole (``getattr`` chains reach
``eval``), so ``builtins.getattr`` is mapped to :func:`history_buffer_method`,
which returns only a statistics method of ``HistoryBuffer`` and refuses anything
else.

Usage::

    with safe_mmengine_checkpoints():
        runner.train()          # --resume / load_from read mmengine checkpoints

    ckpt = load_mmengine_checkpoint('work_dirs/x/iter_1000.pth')
"""
import contextlib
from typing import Any, Callable, Iterator, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

# numpy dtypes a HistoryBuffer or a logged scalar can have (no object arrays)
_NUMPY_DTYPE_CLASSES = tuple(
    getattr(np.dtypes, name) for name in (
        'BoolDType', 'Int8DType', 'UInt8DType', 'Int16DType', 'UInt16DType',
        'Int32DType', 'UInt32DType', 'Int64DType', 'UInt64DType', 'LongLongDType',
        'ULongLongDType', 'Float16DType', 'Float32DType', 'Float64DType'))


# HistoryBuffer's default statistics methods, which its __getstate__ pickles
HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')


def history_buffer_method(obj: Any, name: str) -> Callable:
    """``getattr`` as a checkpoint may call it: only ``HistoryBuffer``'s
    statistics methods, nothing else."""
    if obj is HistoryBuffer and name in HISTORY_BUFFER_METHODS:
        return getattr(HistoryBuffer, name)
    raise torch.serialization.pickle.UnpicklingError(
        f'checkpoint calls getattr({obj!r}, {name!r}): only the statistics '
        'methods of mmengine.logging.HistoryBuffer are allowed')


def mmengine_checkpoint_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    """The classes and functions an mmengine checkpoint needs beyond torch's
    default allow-list (the argument of :func:`torch.serialization.safe_globals`)."""
    return [
        HistoryBuffer,
        (history_buffer_method, 'builtins.getattr'),
        np._core.multiarray._reconstruct,
        np._core.multiarray.scalar,
        np.ndarray,
        np.dtype,
        *_NUMPY_DTYPE_CLASSES,
    ]


@contextlib.contextmanager
def safe_mmengine_checkpoints() -> Iterator[None]:
    """Within the block, ``torch.load``'s safe mode (mmengine's
    ``load_checkpoint``, ``--resume``, ``load_from``, ``Pretrained`` init)
    also accepts the contents of mmengine checkpoints."""
    with torch.serialization.safe_globals(mmengine_checkpoint_globals()):
        yield


def load_mmengine_checkpoint(filename: str, map_location: Optional[str] = 'cpu',
                             **kwargs) -> dict:
    """mmengine's ``CheckpointLoader.load_checkpoint`` (any scheme: local
    path, ``http(s)://``, ...) under :func:`safe_mmengine_checkpoints`."""
    with safe_mmengine_checkpoints():
        return CheckpointLoader.load_checkpoint(filename, map_location=map_location,
                                                **kwargs)
