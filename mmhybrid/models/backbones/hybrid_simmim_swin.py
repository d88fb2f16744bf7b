"""SimMIM's Swin with switches for fused window attention and torch.compile."""
from typing import Optional, Union

import torch
from mmpretrain.models.selfsup import SimMIMSwinTransformer
from mmpretrain.registry import MODELS

from ..utils.fused_window_attention import fuse_window_attention

# torch.compile'd SimMIMSwinTransformer.forward per set of compile options. The
# compiled function is the class's, not an instance's: it takes the module as
# its first argument, so a deepcopy (the momentum encoder) runs its own
# weights through it (a bound method compiled at build time would be copied
# pointing at the online backbone).
_COMPILED = {}


def compiled_forward(options: dict):
    """``torch.compile(SimMIMSwinTransformer.forward, **options)``, built once
    per set of options."""
    key = repr(sorted(options.items()))
    if key not in _COMPILED:
        _COMPILED[key] = torch.compile(SimMIMSwinTransformer.forward, **options)
    return _COMPILED[key]


@MODELS.register_module()
class HybridSimMIMSwinTransformer(SimMIMSwinTransformer):
    """mmpretrain's ``SimMIMSwinTransformer`` (same arguments, weights and
    ``state_dict``) whose window attention can run through
    ``F.scaled_dot_product_attention`` and whose forward can be compiled.

    Example::

        backbone=dict(type='HybridSimMIMSwinTransformer', fused_attention=True,
                      compile=True, arch='base', img_size=192,
                      stage_cfgs=dict(block_cfgs=dict(window_size=6)))

    Args:
        fused_attention (bool): Compute every window attention with
            :class:`~mmhybrid.models.utils.FusedWindowMSA` (the relative
            position bias and the shift mask as one additive mask, each shift
            mask built once per resolution) instead of mmpretrain's explicit
            ``WindowMSA``. Outputs agree within float tolerance; on a GPU the
            fused kernels save time and memory. Defaults to False.
        compile (bool | dict): ``torch.compile`` the forward (masked and
            unmasked, a graph each; the momentum encoder, a copy of this
            backbone, compiles too). True: torch's defaults (inductor);
            a dict: ``torch.compile``'s keyword arguments, e.g.
            ``dict(mode='max-autotune')`` or ``dict(backend='eager')``.
            ``dynamic`` defaults to False here (a graph per input shape:
            with dynamic shapes, tracing Swin's window reshapes symbolically
            took minutes on a tiny model once a second batch size appeared).
            The backbone, not mmengine's ``cfg.compile``, which compiles the
            whole ``train_step``: with mmengine 0.10.7 / torch 2.14 it fails
            (param groups built with ``paramwise_cfg`` are ``ConfigDict`` objects,
            which Dynamo's optimizer support cannot handle), and with plain
            groups it recompiles every iteration (guards on the lr the
            scheduler changes, on the data samples' label sizes and paths,
            on each parameter's shape in the EMA update) until the recompile
            limit sends those frames back to eager. Defaults to False.
        **kwargs: ``SimMIMSwinTransformer``'s arguments.
    """

    def __init__(self, *args, fused_attention: bool = False,
                 compile: Union[bool, dict] = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fused_attention = fused_attention
        if fused_attention:
            fuse_window_attention(self)
        if compile is True:
            compile = {}
        self.compile_options: Optional[dict] = (
            None if compile is False or compile is None
            else dict(dict(dynamic=False), **compile))

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor]):
        if self.compile_options is None:
            return super().forward(x, mask)
        return compiled_forward(self.compile_options)(self, x, mask)
