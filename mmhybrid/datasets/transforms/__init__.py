from .hybrid_views import HybridViews  # noqa: F401
from .loading import (CorruptImageError, LoadImageRobust, decode_image,
                      num_skipped_images)

__all__ = [
    'HybridViews', 'CorruptImageError', 'LoadImageRobust', 'decode_image',
    'num_skipped_images'
]
