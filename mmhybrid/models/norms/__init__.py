from .gloo_sync_bn import GlooSyncBatchNorm

__all__ = ['GlooSyncBatchNorm']
