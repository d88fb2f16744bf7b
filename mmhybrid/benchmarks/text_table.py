"""What the benchmark tools share in their reports: a table as aligned text or
markdown, and the machine it was measured on."""
import os
import platform
from typing import List, Sequence

import torch


def render_table(head: Sequence[str], body: Sequence[Sequence[str]],
                 markdown: bool = False) -> str:
    """``head`` and the rows of ``body`` (strings) as a markdown table or as
    left-aligned columns for the terminal."""
    if markdown:
        out = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
        out += ['| ' + ' | '.join(c) + ' |' for c in body]
        return '\n'.join(out)
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    return '\n'.join('  '.join(c.ljust(w) for c, w in zip(line, widths))
                     for line in [list(head)] + [list(b) for b in body])


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or what ``platform`` knows."""
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(ln.split(':', 1)[1].strip() for ln in f
                       if ln.startswith('model name'))
    except (OSError, StopIteration):
        pass
    return cpu


def machine_line(extra: List[str] = ()) -> str:
    """``node: CPU, N logical cores, torch version, T torch threads`` and
    ``extra`` parts."""
    parts = [f'{platform.node()}: {cpu_model()}, {os.cpu_count()} logical cores',
             f'torch {torch.__version__}', f'{torch.get_num_threads()} torch threads',
             *extra]
    return ', '.join(parts)
