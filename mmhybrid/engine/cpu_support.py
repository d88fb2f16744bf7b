"""Run OpenMMLab configs written for GPUs on a CPU-only machine.

mmengine 0.10.7 assumes CUDA in four places; each function here handles one of them
so that ``tools/train.py`` and ``tools/dist_train.sh`` work unchanged on CPU:

* the ``pytorch`` launcher calls ``torch.cuda.set_device``: we initialise the gloo
  process group first (mmengine then skips its own ``init_dist``);
* DDP is built with ``device_ids=[LOCAL_RANK]``: CPU modules need ``device_ids=None``;
* ``nn.SyncBatchNorm`` refuses CPU tensors: ``SyncBN`` configs become ``GlooSyncBN``
  (:class:`mmhybrid.models.norms.GlooSyncBatchNorm`), which all-reduces the batch
  statistics and their gradients over gloo, so a distributed CPU run normalises
  over the global batch as SyncBN does on GPUs. In a single process it is plain
  BN (``F.batch_norm``, bit-identical) and, unlike ``BN`` (``BatchNorm2d``), it
  takes the 2D input of MoCo v3's projector and predictor, as SyncBN does;
* ``AmpOptimWrapper`` asserts a GPU: it falls back to ``OptimWrapper`` (fp32), and
  ``SkipNonFiniteAmpOptimWrapper`` to ``SkipNonFiniteOptimWrapper``.
"""
import logging
import os
from typing import Any, Optional

import torch
import torch.distributed as dist
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log

# AMP optim wrappers (they assert a GPU) and their fp32 counterparts on CPU
AMP_TO_FP32 = {
    'AmpOptimWrapper': 'OptimWrapper',
    'SkipNonFiniteAmpOptimWrapper': 'SkipNonFiniteOptimWrapper',
}


def cuda_visible() -> bool:
    return torch.cuda.is_available()


def init_cpu_process_group(launcher: str,
                           cuda_available: Optional[bool] = None) -> None:
    """Initialise a gloo process group for the ``pytorch`` launcher on CPU.

    torchrun sets ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``; the
    ``env://`` rendezvous reads them.

    Args:
        launcher (str): ``cfg.launcher``.
        cuda_available (bool, optional): Whether CUDA is used; ``None`` (default)
            detects it (:func:`cuda_visible`). With CUDA nothing is done.
    """
    if cuda_available is None:
        cuda_available = cuda_visible()
    if launcher != 'pytorch' or cuda_available or dist.is_initialized():
        return
    if 'RANK' not in os.environ:
        raise RuntimeError('--launcher pytorch needs torchrun (or tools/dist_train.sh) '
                           'to set RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT')
    dist.init_process_group(backend='gloo')


def _convert_syncbn(node: Any, path: str = 'model') -> int:
    """Replace ``type='SyncBN'`` (and ``MMSyncBN``) norm configs by ``GlooSyncBN``
    in place; count them."""
    count = 0
    if isinstance(node, dict):
        if node.get('type') in ('SyncBN', 'MMSyncBN'):
            node['type'] = 'GlooSyncBN'
            count += 1
        for key, value in node.items():
            count += _convert_syncbn(value, f'{path}.{key}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            count += _convert_syncbn(value, f'{path}[{i}]')
    return count


def adapt_cfg_for_cpu(cfg: Config, cuda_available: Optional[bool] = None) -> Config:
    """Make a GPU config runnable on CPU (see module docstring), in place.

    Args:
        cfg (Config): The config; returned.
        cuda_available (bool, optional): Whether the run will use CUDA; ``None``
            (default) detects it (:func:`cuda_visible`). With CUDA the config is
            left unchanged.
    """
    if cuda_available is None:
        cuda_available = cuda_visible()
    if cuda_available:
        return cfg
    optim_wrapper = cfg.get('optim_wrapper')
    if optim_wrapper is not None and optim_wrapper.get('type') in AMP_TO_FP32:
        fp32 = AMP_TO_FP32[optim_wrapper.type]
        print_log(f'AMP needs a GPU: training in fp32 with {fp32} on CPU',
                  logger='current', level=logging.WARNING)
        optim_wrapper.type = fp32
        optim_wrapper.pop('loss_scale', None)
        optim_wrapper.pop('dtype', None)
    if cfg.get('model') is not None and _convert_syncbn(cfg.model):
        distributed = cfg.get('launcher', 'none') != 'none'
        print_log('SyncBN needs CUDA: using GlooSyncBN on CPU ('
                  + ('batch statistics over all processes, as SyncBN)'
                     if distributed else 'one process: plain BN)'),
                  logger='current', level=logging.INFO)
    if cfg.get('launcher', 'none') != 'none':
        cfg.setdefault('env_cfg', ConfigDict())
        cfg.env_cfg.setdefault('dist_cfg', ConfigDict())
        cfg.env_cfg.dist_cfg.backend = 'gloo'
        wrapper = cfg.get('model_wrapper_cfg') or ConfigDict(
            type='MMDistributedDataParallel', broadcast_buffers=False)
        wrapper['device_ids'] = None
        cfg.model_wrapper_cfg = wrapper
    return cfg
