"""``HybridSwinTransformer``: each library's Swin, initialised from our checkpoint
with a load report.

One class per library, each registered as ``HybridSwinTransformer`` in that
library's ``MODELS`` (mmpretrain, mmdet, mmseg), each a subclass of that library's
own ``SwinTransformer`` with identical arguments and forward. Only
``init_weights`` differs: with

.. code-block:: python

    init_cfg=dict(type='HybridPretrained', checkpoint=checkpoint,
                  expected_new_keys=['norm0.weight', 'norm0.bias', ...])

it first runs the library's own from-scratch initialisation, then loads the
checkpoint through :func:`~mmhybrid.downstream.load_pretrained_backbone`, which
logs what was loaded, resized and ignored and raises when a backbone key is missing
and not named in ``expected_new_keys``. The report is kept as ``self.load_report``.
``type='Pretrained'`` is treated the same way (so a stock init_cfg cannot bypass the
report); without a checkpoint, the class behaves exactly like the library's Swin.

Which library's class is built follows the config's ``default_scope``.
"""
import logging

from mmdet.models.backbones import SwinTransformer as MMDetSwin
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.logging import MMLogger, print_log
from mmpretrain.models.backbones import SwinTransformer as MMPretrainSwin
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmseg.models.backbones import SwinTransformer as MMSegSwin
from mmseg.registry import MODELS as MMSEG_MODELS

from .pretrained_loader import load_pretrained_backbone

PRETRAINED_TYPES = ('HybridPretrained', 'Pretrained')


def _pretrained_args(init_cfg):
    """Loader arguments from an ``init_cfg``, or None when it loads nothing."""
    if not isinstance(init_cfg, dict) or init_cfg.get('type') not in PRETRAINED_TYPES:
        return None
    if not init_cfg.get('checkpoint'):
        raise ValueError(f'init_cfg {dict(init_cfg)} needs a checkpoint path: set '
                         '`checkpoint` at the top of the config or pass --cfg-options '
                         'model.backbone.init_cfg.checkpoint=PATH')
    unknown = set(init_cfg) - {'type', 'checkpoint', 'prefix', 'expected_new_keys'}
    if unknown:
        raise TypeError(f'init_cfg of HybridSwinTransformer got unknown keys '
                        f'{sorted(unknown)}')
    return dict(checkpoint=init_cfg['checkpoint'],
                prefix=init_cfg.get('prefix', 'backbone.'),
                expected_new_keys=list(init_cfg.get('expected_new_keys', ())))


class HybridInitMixin:
    """``init_weights`` shared by the three ``HybridSwinTransformer`` classes.

    Put before the library's ``SwinTransformer`` in the bases, so that its
    ``super().init_weights()`` is the library's own (from-scratch when
    ``init_cfg`` is None).
    """
    library = ''
    load_report = None

    def init_weights(self):
        args = _pretrained_args(self.init_cfg)
        if args is None:
            return super().init_weights()
        print_log(f'HybridSwinTransformer ({self.library}): {self.library}\'s '
                  'from-scratch initialisation, then loading '
                  f'{args["checkpoint"]}', logger='current')
        init_cfg, self.init_cfg = self.init_cfg, None
        # mmdet's / mmseg's Swin announce "No pre-trained weights ..., training
        # start from scratch" here, which is untrue two lines later: drop that line
        logger = MMLogger.get_current_instance()
        quiet = _DropMessage('No pre-trained weights for')
        logger.addFilter(quiet)
        try:
            super().init_weights()
        finally:
            self.init_cfg = init_cfg
            logger.removeFilter(quiet)
        self.load_report = load_pretrained_backbone(
            self, name=f'HybridSwinTransformer ({self.library})', **args)
        self._is_init = True


class _DropMessage(logging.Filter):
    """Logging filter that drops records starting with ``prefix``."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


@MMPRETRAIN_MODELS.register_module(name='HybridSwinTransformer')
class MMPretrainHybridSwinTransformer(HybridInitMixin, MMPretrainSwin):
    """mmpretrain's ``SwinTransformer`` with the hybrid load report."""
    library = 'mmpretrain'


@MMDET_MODELS.register_module(name='HybridSwinTransformer')
class MMDetHybridSwinTransformer(HybridInitMixin, MMDetSwin):
    """mmdet's ``SwinTransformer`` (per-stage output norms) with the hybrid load
    report."""
    library = 'mmdet'


@MMSEG_MODELS.register_module(name='HybridSwinTransformer')
class MMSegHybridSwinTransformer(HybridInitMixin, MMSegSwin):
    """mmseg's ``SwinTransformer`` (per-stage output norms) with the hybrid load
    report."""
    library = 'mmseg'
