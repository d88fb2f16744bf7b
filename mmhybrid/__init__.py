"""mmhybrid: multi-label classification + SimMIM + MoCo v3 pre-training for OpenMMLab.

Importing the package registers its modules in mmpretrain's registries and does
nothing else: torch's checkpoint loading, mmengine's file backends and the
environment stay as they were. Configs import it with
``custom_imports = dict(imports=['mmhybrid'], allow_failed_imports=False)``.
"""
from .version import __version__
from .utils import atomic_local_backend  # noqa: F401  (registers 'atomic_local')
from . import datasets, engine, models  # noqa: F401  (registration)
from . import evaluation  # noqa: F401  (metrics: kNN, label mAP, linear probe)
# mmhybrid.downstream (HybridSwinTransformer for mmpretrain / mmdet / mmseg) loads
# mmdet and mmseg: the downstream configs import it, pre-training does not pay for it.
from .datasets import transforms  # noqa: F401

__all__ = ['__version__']
