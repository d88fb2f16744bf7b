"""Run the repository's tools as subprocesses, as a user would, and read back what
mmengine logged. Shared by the demo and the benchmarks."""
import glob
import json
import os.path as osp
import subprocess
import time
from typing import Callable, Dict, List, Optional, Sequence


def run_tool(cmd: Sequence[str], log_path: str, cwd: Optional[str] = None,
             env: Optional[Dict[str, str]] = None,
             progress: Optional[Callable[[List[str]], None]] = None,
             poll_s: float = 1.0) -> float:
    """Run ``cmd``, output to ``log_path``; return its wall time in seconds.
    A failure raises naming the command, the log and its tail.

    ``progress``, when given, is called every ``poll_s`` seconds while the
    command runs, and once after it ends, with the lines the log gained since
    the last call (complete lines only; possibly none), e.g.
    :meth:`mmhybrid.apis.progress.DemoProgress.update`.
    """
    start = time.time()
    with open(log_path, 'w') as log:
        if progress is None:
            proc = subprocess.run(list(cmd), stdout=log, stderr=subprocess.STDOUT,
                                  cwd=cwd, env=env)
            returncode = proc.returncode
        else:
            returncode = _run_following(cmd, log, log_path, cwd, env, progress, poll_s)
    if returncode != 0:
        with open(log_path) as f:
            tail = f.read()[-3000:]
        raise RuntimeError(f'{" ".join(cmd)} failed (exit {returncode}); '
                           f'log: {log_path}\n{tail}')
    return time.time() - start


def _run_following(cmd, log, log_path, cwd, env, progress, poll_s) -> int:
    """``subprocess.run`` that passes the log's new lines to ``progress``."""
    proc = subprocess.Popen(list(cmd), stdout=log, stderr=subprocess.STDOUT,
                            cwd=cwd, env=env)
    partial = ''
    with open(log_path, errors='replace') as follow:
        def new_lines():
            nonlocal partial
            text = partial + follow.read()
            *lines, partial = text.split('\n')
            return lines

        try:
            while True:
                try:
                    proc.wait(timeout=poll_s)
                    break
                except subprocess.TimeoutExpired:
                    progress(new_lines())
        except BaseException:  # as subprocess.run: no orphan on Ctrl-C
            proc.kill()
            proc.wait()
            raise
        lines = new_lines()
        progress(lines + ([partial] if partial else []))
    return proc.returncode


def logged_scalars(work_dir: str) -> List[dict]:
    """All records of the newest run's ``vis_data/scalars.json`` in ``work_dir``."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no vis_data/scalars.json under {work_dir}')
    with open(files[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def last_value(records: List[dict], key: str) -> Optional[float]:
    values = [r[key] for r in records if key in r]
    return values[-1] if values else None


def latest_checkpoint(work_dir: str) -> str:
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def format_table(rows: List[List[str]], header: List[str]) -> str:
    """A Markdown table with aligned columns."""
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = lambda r: '| ' + ' | '.join(str(c).ljust(w) for c, w in zip(r, widths)) + ' |'  # noqa: E731
    sep = '|' + '|'.join('-' * (w + 2) for w in widths) + '|'
    return '\n'.join([line(header), sep] + [line(r) for r in rows])
