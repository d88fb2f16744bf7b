"""Pictures of a run: loss and probe curves, SimMIM reconstructions, downstream
predictions beside the ground truth (``tools/visualize.py``)."""
from .visualize_run import Picture, visualize_run

__all__ = ['Picture', 'visualize_run']
