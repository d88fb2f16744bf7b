"""Test-only: importing this module (``custom_imports``) makes float64 torch's
default dtype, so the model, its buffers and the optimizer state are float64
and the normalised inputs are promoted to float64 by the data preprocessor's
float64 mean/std. Used where two runs that differ only in the order of their
floating-point sums must be compared over many steps (see
test_dist_equivalence.py)."""
import torch

torch.set_default_dtype(torch.float64)
