from .hybrid_pretrain import HybridPretrain

__all__ = ['HybridPretrain']
