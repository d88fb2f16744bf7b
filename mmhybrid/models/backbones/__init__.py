from .hybrid_simmim_swin import HybridSimMIMSwinTransformer

__all__ = ['HybridSimMIMSwinTransformer']
