"""Progress of tool runs, read from the logs they write.

mmengine logs one line every ``logger.interval`` iterations::

    ... - mmengine - INFO - Iter(train) [ 120/1000]  base_lr: ...  eta: 0:10:00  time: 0.6  ...  loss: 4.8790  ...
    ... - mmengine - INFO - Epoch(train) [2][10/16]  ...  eta: 0:00:38  ...  loss: 2.1168
    ... - mmengine - INFO - Epoch(val) [1][ 20/250]    eta: 0:00:09  time: 0.0275  ...

:func:`parse_log_line` reads such a line; :class:`RunLog` follows one run's log
as it grows (including the ``max_epochs`` of the config mmengine prints at the
start, which the epoch lines do not repeat); :class:`DemoProgress` turns the runs
of a multi-stage job into one updating terminal line.
"""
import re
import shutil
import sys
import time
from dataclasses import dataclass
from functools import partial
from typing import Callable, Dict, List, Optional, Sequence, TextIO, Tuple

_POSITION = re.compile(
    r'(?P<kind>Iter|Epoch)\((?P<mode>train|val|test)\)\s*'
    r'(?:\[\s*(?P<epoch>\d+)\])?\s*\[\s*(?P<iter>\d+)/(?P<total>\d+)\]')
_ETA = re.compile(r'\beta: (?:(?P<days>\d+) days?, )?(?P<h>\d+):(?P<m>\d\d):(?P<s>\d\d)')
_LOSS = re.compile(r'\bloss: (?P<loss>[-+0-9.eE]+|nan|inf)')
_MAX = re.compile(r'\bmax_(?P<what>epochs|iters)=(?P<n>\d+)')


@dataclass
class LogLine:
    """One iteration line of an mmengine log.

    Args:
        mode (str): ``'train'``, ``'val'`` or ``'test'``.
        iter (int): Iteration: the global one for iteration-based training
            (``Iter(train) [120/1000]``), within the epoch for epoch-based
            training and for validation/test.
        total (int): Iterations of the loop (``max_iters``) or of the epoch.
        epoch (int, optional): Epoch, for ``Epoch(train) [2][10/16]`` lines.
        loss (float, optional): Total loss (train lines).
        eta_s (float, optional): mmengine's estimate of the loop's remaining
            seconds.
    """
    mode: str
    iter: int
    total: int
    epoch: Optional[int] = None
    loss: Optional[float] = None
    eta_s: Optional[float] = None


def parse_log_line(line: str) -> Optional[LogLine]:
    """The iteration line's fields, or None for any other line."""
    pos = _POSITION.search(line)
    if pos is None:
        return None
    eta = _ETA.search(line, pos.end())
    loss = _LOSS.search(line, pos.end())
    return LogLine(
        mode=pos['mode'], iter=int(pos['iter']), total=int(pos['total']),
        epoch=int(pos['epoch']) if pos['epoch'] else None,
        loss=float(loss['loss']) if loss else None,
        eta_s=(int(eta['days'] or 0) * 86400 + int(eta['h']) * 3600
               + int(eta['m']) * 60 + int(eta['s'])) if eta else None)


class RunLog:
    """Where one run stands, from the lines of its log fed in order.

    Attributes:
        last_train (LogLine, optional): The latest training line.
        mode (str, optional): Mode of the latest iteration line.
        max_epochs (int, optional): ``train_cfg.max_epochs`` of the printed config.
    """

    def __init__(self) -> None:
        self.last_train: Optional[LogLine] = None
        self.last_train_time: Optional[float] = None
        self.mode: Optional[str] = None
        self.max_epochs: Optional[int] = None
        self._train_cfg: Optional[str] = None  # inside ``train_cfg = dict(``

    def feed(self, lines: Sequence[str], now: Optional[float] = None) -> None:
        now = time.monotonic() if now is None else now
        for line in lines:
            if self._read_train_cfg(line):
                continue
            parsed = parse_log_line(line)
            if parsed is None:
                continue
            self.mode = parsed.mode
            if parsed.mode == 'train':
                self.last_train, self.last_train_time = parsed, now

    def _read_train_cfg(self, line: str) -> bool:
        # mmengine prints the config: ``train_cfg = dict(max_epochs=3, ...)``,
        # one line or several (one argument a line) up to the closing bracket
        if self._train_cfg is None:
            if not line.startswith('train_cfg = dict('):
                return False
            self._train_cfg = ''
        self._train_cfg += line
        if self._train_cfg.count('(') <= self._train_cfg.count(')'):
            found = {m['what']: int(m['n']) for m in _MAX.finditer(self._train_cfg)}
            self.max_epochs = found.get('epochs', self.max_epochs)
            self._train_cfg = None
        return True

    @property
    def fraction(self) -> Optional[float]:
        """Share of the training loop done (None: unknown yet)."""
        line = self.last_train
        if line is None:
            return None
        if line.epoch is None:
            return line.iter / max(line.total, 1)
        if self.max_epochs is None:
            return None
        return ((line.epoch - 1) * line.total + line.iter) / max(
            self.max_epochs * line.total, 1)

    def position(self) -> str:
        """``iter 120/1000`` or ``epoch 2/3 iter 10/16`` (+ ``, validating``)."""
        line = self.last_train
        if line is None:
            text = 'starting'
        elif line.epoch is None:
            text = f'iter {line.iter}/{line.total}'
        else:
            text = (f'epoch {line.epoch}/{self.max_epochs or "?"} '
                    f'iter {line.iter}/{line.total}')
        if self.mode in ('val', 'test'):
            text += ', validating' if self.mode == 'val' else ', testing'
        return text

    def eta(self, now: float) -> Optional[float]:
        """mmengine's ETA of the training loop, counted down since it was logged."""
        if self.last_train is None or self.last_train.eta_s is None:
            return None
        return max(0., self.last_train.eta_s - (now - self.last_train_time))


def format_seconds(seconds: Optional[float]) -> str:
    if seconds is None:
        return '?'
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f'{h}:{rest // 60:02d}:{rest % 60:02d}' if h else f'{rest // 60}:{rest % 60:02d}'


class DemoProgress:
    """One updating terminal line for a job of several tool runs (stages).

    ``stage 2/6 fine-tune | epoch 2/3 iter 10/16 | loss 2.117 | 0:41, ETA 1:12 |
    demo 3:05, ETA ~16:40``: the stage, where its training loop is (parsed from
    its log, see :class:`RunLog`), the latest logged loss, the stage's elapsed
    time and ETA (mmengine's, of the training loop; before the first log line
    the stage's expected time), and the whole job's. The job's ETA adds the
    expected times of the stages still to come, scaled by how much slower or
    faster than expected the finished stages were.

    A stage may run several tools at once (:meth:`parallel_stage`): the line then
    shows each run's position and loss after its label (``pre-trained iter
    120/400, loss 1.234 | from scratch iter 118/400, loss 1.502``), and the stage's
    ETA is the latest of theirs.

    On a terminal the line is rewritten in place (``\\r``); written to a file or a
    pipe it becomes a plain line at most every ``plain_interval_s`` seconds.

    Args:
        stages (list[tuple[str, float]]): Name and expected seconds of each stage.
        stream (TextIO): Where to write. Defaults to ``sys.stdout``.
        plain_interval_s (float): Seconds between lines when ``stream`` is not a
            terminal. Defaults to 60.
        clock (callable): Seconds, monotonic. Defaults to ``time.monotonic``.
    """

    def __init__(self, stages: Sequence[Tuple[str, float]], stream: TextIO = None,
                 plain_interval_s: float = 60., clock: Callable[[], float] = time.monotonic):
        self.stages = list(stages)
        self.stream = stream or sys.stdout
        self.tty = hasattr(self.stream, 'isatty') and self.stream.isatty()
        self.plain_interval_s = plain_interval_s
        self.clock = clock
        self.started = clock()
        self.durations: List[Optional[float]] = [None] * len(self.stages)
        self.current: Optional[int] = None
        self.stage_start = self.started
        self.runs = {'': RunLog()}  # label -> the run's log state
        self._shown = ''
        self._last_plain = None

    # ---------------------------------------------------------------- stages
    @property
    def run(self) -> RunLog:
        """The (first) run of the current stage."""
        return next(iter(self.runs.values()))

    def stage(self, name: str) -> Callable[[List[str]], None]:
        """Start the stage called ``name``; return the callback that takes the new
        lines of its log (``run_tool(..., progress=...)``)."""
        return self.parallel_stage(name, [''])['']

    def parallel_stage(self, name: str,
                       labels: Sequence[str]) -> Dict[str, Callable[[List[str]], None]]:
        """Start the stage called ``name``, whose runs (one per label) go at once;
        return each label's callback for the new lines of its run's log
        (``ToolRun(..., progress=...)``)."""
        names = [n for n, _ in self.stages]
        if self.current is not None:
            self.finish()
        self.current = names.index(name)
        self.stage_start = self.clock()
        self.runs = {label: RunLog() for label in labels}
        self._last_plain = None  # a plain line at every stage start
        self._show(self.line())
        return {label: partial(self._feed, label) for label in labels}

    def finish(self) -> None:
        """The current stage is done."""
        if self.current is None:
            return
        self.durations[self.current] = self.clock() - self.stage_start
        self.current = None

    def _feed(self, label: str, lines: List[str]) -> None:
        self.runs[label].feed(lines, self.clock())
        self._show(self.line())

    def message(self, text: str) -> None:
        """Print a line of its own above the progress line."""
        if self.tty and self._shown:
            self.stream.write('\r\x1b[K')
        self.stream.write(text + '\n')
        if self.tty and self._shown:
            self.stream.write(self._shown)
        self.stream.flush()

    def close(self) -> None:
        self.finish()
        if self.tty and self._shown:
            self.stream.write('\n')
            self.stream.flush()
        self._shown = ''

    # ------------------------------------------------------------- estimates
    def speed(self) -> float:
        """Actual / expected time of the finished stages (1 before any)."""
        done = [(d, e) for d, (_, e) in zip(self.durations, self.stages)
                if d is not None and e > 0]
        return sum(d for d, _ in done) / sum(e for _, e in done) if done else 1.

    def stage_eta(self, now: float) -> Optional[float]:
        if self.current is None:
            return None
        etas = [run.eta(now) for run in self.runs.values()]
        if None in etas:  # a run has not logged yet: the stage's expected time
            expected = self.stages[self.current][1] * self.speed()
            etas = [e for e in etas if e is not None] + [
                max(0., expected - (now - self.stage_start))]
        return max(etas)

    def demo_eta(self, now: float) -> Optional[float]:
        later = range(self.current + 1 if self.current is not None else 0,
                      len(self.stages))
        rest = self.speed() * sum(self.stages[i][1] for i in later
                                  if self.durations[i] is None)
        stage = self.stage_eta(now)
        return rest + (stage or 0.)

    def line(self) -> str:
        now = self.clock()
        if self.current is None:
            return f'done | {format_seconds(now - self.started)}'
        name = self.stages[self.current][0]
        parts = [f'stage {self.current + 1}/{len(self.stages)} {name}']
        for label, run in self.runs.items():
            text = ' '.join(filter(None, [label, run.position()]))
            if run.last_train is not None and run.last_train.loss is not None:
                text += (' | ' if len(self.runs) == 1 else ', ') + \
                    f'loss {run.last_train.loss:.4f}'
            parts.append(text)
        parts.append(f'{format_seconds(now - self.stage_start)}, '
                     f'ETA {format_seconds(self.stage_eta(now))}')
        parts.append(f'demo {format_seconds(now - self.started)}, '
                     f'ETA ~{format_seconds(self.demo_eta(now))}')
        return ' | '.join(parts)

    def _show(self, text: str) -> None:
        if self.tty:
            width = shutil.get_terminal_size((120, 20)).columns - 1
            self._shown = '\r' + text[:width] + '\x1b[K'
            self.stream.write(self._shown)
            self.stream.flush()
            return
        now = self.clock()
        if self._last_plain is None or now - self._last_plain >= self.plain_interval_s:
            self.stream.write(text + '\n')
            self.stream.flush()
            self._last_plain = now
