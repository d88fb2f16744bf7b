from .skip_nonfinite_optim_wrapper import (SkipNonFiniteAmpOptimWrapper,
                                           SkipNonFiniteMixin,
                                           SkipNonFiniteOptimWrapper)

__all__ = ['SkipNonFiniteAmpOptimWrapper', 'SkipNonFiniteMixin',
           'SkipNonFiniteOptimWrapper']
