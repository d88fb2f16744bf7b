"""SimMIM's Swin with a switch for fused window attention."""
from mmpretrain.models.selfsup import SimMIMSwinTransformer
from mmpretrain.registry import MODELS

from ..utils.fused_window_attention import fuse_window_attention


@MODELS.register_module()
class HybridSimMIMSwinTransformer(SimMIMSwinTransformer):
    """mmpretrain's ``SimMIMSwinTransformer`` (same arguments, weights and
    ``state_dict``) whose window attention can run through
    ``F.scaled_dot_product_attention``.

    Example::

        backbone=dict(type='HybridSimMIMSwinTransformer', fused_attention=True,
                      arch='base', img_size=192,
                      stage_cfgs=dict(block_cfgs=dict(window_size=6)))

    Args:
        fused_attention (bool): Compute every window attention with
            :class:`~mmhybrid.models.utils.FusedWindowMSA` (the relative
            position bias and the shift mask as one additive mask, each shift
            mask built once per resolution) instead of mmpretrain's explicit
            ``WindowMSA``. Outputs agree within float tolerance; on a GPU the
            fused kernels save time and memory. Defaults to False.
        **kwargs: ``SimMIMSwinTransformer``'s arguments.
    """

    def __init__(self, *args, fused_attention: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fused_attention = fused_attention
        if fused_attention:
            fuse_window_attention(self)
