"""mmhybrid: multi-label classification + SimMIM + MoCo v3 pre-training for OpenMMLab.

Importing the package registers its modules in mmpretrain's registries; configs do so
with ``custom_imports = dict(imports=['mmhybrid'], allow_failed_imports=False)``.
"""
import os

# Nothing is fetched from a model hub at run time (timm / huggingface_hub read this).
os.environ.setdefault('HF_HUB_OFFLINE', '1')

from .version import __version__  # noqa: E402
from .utils import atomic_local_backend, checkpoint_compat  # noqa: E402,F401
from . import datasets, engine, models  # noqa: E402,F401  (registration)
# mmhybrid.downstream (HybridSwinTransformer for mmpretrain / mmdet / mmseg) loads
# mmdet and mmseg: the downstream configs import it, pre-training does not pay for it.
from .datasets import transforms  # noqa: E402,F401

__all__ = ['__version__']
