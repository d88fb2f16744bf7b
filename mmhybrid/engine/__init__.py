from .cpu_support import adapt_cfg_for_cpu, init_cpu_process_group

__all__ = ['adapt_cfg_for_cpu', 'init_cpu_process_group']
