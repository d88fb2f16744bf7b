from .cpu_support import adapt_cfg_for_cpu, init_cpu_process_group
from .hooks import *  # noqa: F401,F403
from .optim_wrappers import *  # noqa: F401,F403

__all__ = ['adapt_cfg_for_cpu', 'init_cpu_process_group']
