"""Load mmengine checkpoints on torch >= 2.6 without environment variables.

torch 2.6 made ``weights_only=True`` the default of ``torch.load``. mmengine 0.10.7
calls ``torch.load(filename, map_location=...)`` and its checkpoints hold more than
tensors (the MessageHub's ``HistoryBuffer``, numpy scalars and dtypes, the config
text), so ``--resume`` and ``load_from`` fail with "Weights only load failed".
Allow-listing globals one by one does not converge: numpy 2 pickles its scalars
through ``getattr``, which would defeat the point of ``weights_only``.

So local checkpoints are loaded the way mmengine did before torch 2.6: a checkpoint
on your own disk is trusted like your own code. Remote checkpoints (``http://``,
``https://``) keep torch's default, so a downloaded file cannot run code.
Importing :mod:`mmhybrid` installs this loader.
"""
import os.path as osp

import torch
from mmengine.runner.checkpoint import CheckpointLoader


@CheckpointLoader.register_scheme(prefixes='', force=True)
def load_from_local(filename, map_location=None):
    """Load a checkpoint written by mmengine (or plain torch) from local disk.

    Args:
        filename (str): Local checkpoint file path.
        map_location (str, optional): Same as :func:`torch.load`.

    Returns:
        dict: The loaded checkpoint.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch.load(filename, map_location=map_location, weights_only=False)
