"""From a pre-training checkpoint to downstream models.

* :func:`extract_backbone` (``tools/model_converters/extract_backbone.py``): keep
  the online backbone of a HybridPretrain checkpoint, ``backbone.``-prefixed;
  :func:`resize_backbone` (its ``--window-size`` / ``--img-size``): the same fitted
  to a stock config's window and image size;
* :func:`swin_to_timm` (``tools/model_converters/to_timm.py``): the same weights in
  timm's ``SwinTransformer`` layout;
* ``HybridSwinTransformer``, registered in mmpretrain's, mmdet's and mmseg's
  ``MODELS``: that library's Swin, initialised from our checkpoint by
  :func:`load_pretrained_backbone`, which logs a load report and raises on missing
  backbone keys (see :mod:`mmhybrid.downstream.hybrid_swin`).

Importing this package registers ``HybridSwinTransformer`` (configs import it
through ``custom_imports = dict(imports=['mmhybrid'])``).
"""
from .extract import extract_backbone, relative_position_index, resize_backbone
from .hybrid_swin import (MMDetHybridSwinTransformer,
                          MMPretrainHybridSwinTransformer,
                          MMSegHybridSwinTransformer)
from .pretrained_loader import (BackboneLoadReport, MissingBackboneKeysError,
                                load_pretrained_backbone)
from .timm_export import swin_to_timm, timm_swin_kwargs

__all__ = [
    'extract_backbone', 'resize_backbone', 'relative_position_index',
    'swin_to_timm', 'timm_swin_kwargs',
    'load_pretrained_backbone', 'BackboneLoadReport', 'MissingBackboneKeysError',
    'MMPretrainHybridSwinTransformer', 'MMDetHybridSwinTransformer',
    'MMSegHybridSwinTransformer'
]
