
from .hybrid_views import HybridViews  # noqa: F401
