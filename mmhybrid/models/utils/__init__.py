from .foreach_ema import ForeachCosineEMA
from .fused_window_attention import (CachedMaskShiftWindowMSA, FusedWindowMSA,
                                     fuse_window_attention)

__all__ = ['FusedWindowMSA', 'CachedMaskShiftWindowMSA', 'fuse_window_attention',
           'ForeachCosineEMA']
