from .ratio_sampler import RatioSampler, split_by_ratio

__all__ = ['RatioSampler', 'split_by_ratio']
