"""Evaluation code shared by the training hooks and the benchmarks (as
``mmpretrain.evaluation``): frozen-feature probes and the label head's mAP."""
from .metrics import *  # noqa: F401,F403
