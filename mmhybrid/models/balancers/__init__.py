from .fixed_task_weights import FixedTaskWeights
from .uncertainty_task_weights import UncertaintyTaskWeights

__all__ = ['FixedTaskWeights', 'UncertaintyTaskWeights']
