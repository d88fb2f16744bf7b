"""mmhybrid: multi-label classification + SimMIM + MoCo v3 pre-training for OpenMMLab.

Importing the package registers its modules in mmpretrain's registries; configs do so
with ``custom_imports = dict(imports=['mmhybrid'], allow_failed_imports=False)``.
"""
from .version import __version__
from .utils import checkpoint_compat  # noqa: F401  (must run before any torch.load)

__all__ = ['__version__']
