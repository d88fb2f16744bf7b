"""Run the repository's tools as subprocesses, as a user would, and read back what
mmengine logged. Shared by the demo and the benchmarks."""
import glob
import json
import os.path as osp
import subprocess
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence


@dataclass
class ToolRun:
    """One command for :func:`run_tools`: its output goes to ``log_path``;
    ``progress``, when given, is called every ``poll_s`` seconds while the command
    runs, and once after it ends, with the lines the log gained since the last call
    (complete lines only; possibly none), e.g. a callback of
    :meth:`mmhybrid.apis.progress.DemoProgress.parallel_stage`."""
    cmd: Sequence[str]
    log_path: str
    env: Optional[Dict[str, str]] = None
    progress: Optional[Callable[[List[str]], None]] = None


def run_tool(cmd: Sequence[str], log_path: str, cwd: Optional[str] = None,
             env: Optional[Dict[str, str]] = None,
             progress: Optional[Callable[[List[str]], None]] = None,
             poll_s: float = 1.0) -> float:
    """Run ``cmd``, output to ``log_path``; return its wall time in seconds.
    A failure raises naming the command, the log and its tail. ``progress``: see
    :class:`ToolRun`."""
    return run_tools([ToolRun(cmd, log_path, env, progress)], cwd, poll_s)[0]


def run_tools(runs: Sequence[ToolRun], cwd: Optional[str] = None,
              poll_s: float = 1.0) -> List[float]:
    """Run the commands at once; return the wall time of each in seconds. When one
    fails the others are stopped, and the error names the failed command, its log
    and the log's tail. Ctrl-C stops them all."""
    start = time.time()
    logs = [open(r.log_path, 'w') for r in runs]
    follows = [_LogFollower(r.log_path) for r in runs]
    procs, seconds = [], [None] * len(runs)
    try:
        for run, log in zip(runs, logs):
            procs.append(subprocess.Popen(list(run.cmd), stdout=log,
                                          stderr=subprocess.STDOUT, cwd=cwd,
                                          env=run.env))
        while None in seconds:
            try:  # back at once when the first run still going ends
                procs[seconds.index(None)].wait(timeout=poll_s)
            except subprocess.TimeoutExpired:
                pass
            for i, (run, proc) in enumerate(zip(runs, procs)):
                if seconds[i] is not None:
                    continue
                returncode = proc.poll()
                if run.progress is not None:
                    run.progress(follows[i].new_lines(final=returncode is not None))
                if returncode is None:
                    continue
                seconds[i] = time.time() - start
                if returncode != 0:
                    logs[i].flush()
                    with open(run.log_path) as f:
                        tail = f.read()[-3000:]
                    raise RuntimeError(f'{" ".join(map(str, run.cmd))} failed (exit '
                                       f'{returncode}); log: {run.log_path}\n{tail}')
    finally:  # as subprocess.run: no orphan, on a failure or Ctrl-C
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for log, follow in zip(logs, follows):
            log.close()
            follow.close()
    return seconds


class _LogFollower:
    """The complete lines a growing log file gained since the last call."""

    def __init__(self, path: str):
        self.file, self.partial = open(path, errors='replace'), ''

    def new_lines(self, final: bool = False) -> List[str]:
        *lines, self.partial = (self.partial + self.file.read()).split('\n')
        if final and self.partial:
            lines.append(self.partial)
            self.partial = ''
        return lines

    def close(self) -> None:
        self.file.close()


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
