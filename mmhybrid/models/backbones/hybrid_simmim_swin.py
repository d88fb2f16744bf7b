"""SimMIM's Swin with switches for fused window attention and torch.compile."""
from typing import Optional, Tuple, Union

import torch
from mmpretrain.models.backbones import SwinTransformer
from mmpretrain.models.selfsup import SimMIMSwinTransformer
from mmpretrain.registry import MODELS

from ..utils.fused_window_attention import fuse_window_attention

# torch.compile'd HybridSimMIMSwinTransformer.features per set of compile options. The
# compiled function is the class's, not an instance's: it takes the module as
# its first argument, so a deepcopy (the momentum encoder) runs its own
# weights through it (a bound method compiled at build time would be copied
# pointing at the online backbone).
_COMPILED = {}


def compiled_forward(options: dict):
    """``torch.compile(HybridSimMIMSwinTransformer.features, **options)``,
    built once per set of options."""
    key = repr(sorted(options.items()))
    if key not in _COMPILED:
        _COMPILED[key] = torch.compile(HybridSimMIMSwinTransformer.features,
                                       **options)
    return _COMPILED[key]


@MODELS.register_module()
class HybridSimMIMSwinTransformer(SimMIMSwinTransformer):
    """mmpretrain's ``SimMIMSwinTransformer`` (same arguments, weights and
    ``state_dict``) whose window attention can run through
    ``F.scaled_dot_product_attention`` and whose forward can be compiled.

    Its masked pass returns every stage of ``out_indices`` as the unmasked
    pass does (before the stage's patch merging, unless
    ``out_after_downsample``); mmpretrain's masked pass returns an earlier
    stage after its patch merging, which its ``norm<i>`` does not fit. With
    the default ``out_indices=(3, )`` the two agree.

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

    def features(self, x: torch.Tensor, mask: Optional[torch.Tensor]
                 ) -> Tuple[torch.Tensor, ...]:
        """The stages of ``out_indices`` of ``x`` with the masked patches
        replaced by the mask token (``mask`` None: of ``x`` as it is)."""
        if mask is None:
            return SwinTransformer.forward(self, x)
        x, hw_shape = self.patch_embed(x)
        B, L, _ = x.shape
        mask_token = self.mask_token.expand(B, L, -1)
        w = mask.flatten(1).unsqueeze(-1).type_as(mask_token)
        x = x * (1. - w) + mask_token * w
        if self.use_abs_pos_embed:
            x = x + self.absolute_pos_embed
        x = self.drop_after_pos(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x, hw_shape = stage(x, hw_shape, do_downsample=self.out_after_downsample)
            if i in self.out_indices:
                out = getattr(self, f'norm{i}')(x)
                outs.append(out.view(-1, *hw_shape, out.shape[-1]).permute(
                    0, 3, 1, 2).contiguous())
            if stage.downsample is not None and not self.out_after_downsample:
                x, hw_shape = stage.downsample(x, hw_shape)
        return tuple(outs)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor]):
        if self.compile_options is None:
            return self.features(x, mask)
        return compiled_forward(self.compile_options)(self, x, mask)
