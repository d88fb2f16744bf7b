"""The demo's progress line: mmengine log lines parsed, logs followed live."""
import io
import sys

import pytest

from mmhybrid.apis.progress import DemoProgress, RunLog, parse_log_line
from mmhybrid.apis.tool_runs import ToolRun, run_tool, run_tools
from tests.test_tools.train_helpers import REPO, write_tiny_config

# Lines as mmengine 0.10.7 wrote them in this repository's runs: the frozen
# Mask R-CNN (iteration-based), the 20-epoch fine-tune (epoch-based; the epoch
# is right-aligned to the width of max_epochs), its validation
ITER_TRAIN = ('11/29 10:37:53 - mmengine - INFO - Iter(train) [ 20/300]  base_lr: '
              '3.9388e-04 lr: 3.9388e-04  eta: 0:03:28  time: 0.7456  data_time: '
              '0.0210  loss: 3.6755  loss_rpn_cls: 0.6513  loss_rpn_bbox: 0.0221  '
              'loss_cls: 1.6415  acc: 86.3281  loss_bbox: 0.3451  loss_mask: 1.0156')
EPOCH_TRAIN = ('11/29 10:35:23 - mmengine - INFO - Epoch(train)  [2][16/16]  base_lr: '
               '1.0000e-03 lr: 3.8742e-04  eta: 0:01:40  time: 0.3197  data_time: '
               '0.0034  grad_norm: 2.1819  loss: 2.0470')
EPOCH_TRAIN_WIDE = ('11/29 10:37:13 - mmengine - INFO - Epoch(train) [20][16/16]  '
                    'base_lr: 1.0297e-06 lr: 1.0115e-06  eta: 0:00:00  time: 0.3358  '
                    'data_time: 0.0030  grad_norm: 1.6494  loss: 1.7321')
EPOCH_VAL = ('11/29 10:24:43 - mmengine - INFO - Epoch(val) [1][ 20/250]    eta: '
             '0:00:09  time: 0.0275  data_time: 0.0032  ')
VAL_SUMMARY = ('11/29 10:37:18 - mmengine - INFO - Epoch(val) [20][32/32]    '
               'accuracy/top1: 70.6500  data_time: 0.0050  time: 0.1596')
# the config mmengine prints at the start, both layouts it uses
TRAIN_CFG_LINES = ['train_cfg = dict(', "    _scope_='mmpretrain',", '    max_epochs=20,',
                   "    type='EpochBasedTrainLoop',", '    val_interval=20)']
TRAIN_CFG_ONE_LINE = "train_cfg = dict(max_iters=300, type='IterBasedTrainLoop', val_interval=300)"


def test_parse_iteration_based_train_line():
    line = parse_log_line(ITER_TRAIN)
    assert (line.mode, line.iter, line.total, line.epoch) == ('train', 20, 300, None)
    assert line.loss == pytest.approx(3.6755)  # the total, not loss_rpn_cls
    assert line.eta_s == 3 * 60 + 28


def test_parse_epoch_based_train_lines():
    line = parse_log_line(EPOCH_TRAIN)
    assert (line.mode, line.epoch, line.iter, line.total) == ('train', 2, 16, 16)
    assert (line.loss, line.eta_s) == (pytest.approx(2.047), 100)
    wide = parse_log_line(EPOCH_TRAIN_WIDE)
    assert (wide.epoch, wide.iter, wide.eta_s) == (20, 16, 0)


def test_parse_validation_lines_and_others():
    val = parse_log_line(EPOCH_VAL)
    assert (val.mode, val.epoch, val.iter, val.total, val.loss, val.eta_s) == \
        ('val', 1, 20, 250, None, 9)
    assert parse_log_line(VAL_SUMMARY).mode == 'val'
    assert parse_log_line('11/29 10:24:01 - mmengine - INFO - Checkpoints will be '
                          'saved to /work') is None
    # mmengine writes a timedelta: days appear past 24 h
    assert parse_log_line(ITER_TRAIN.replace('eta: 0:03:28', 'eta: 2 days, 1:00:05')
                          ).eta_s == 2 * 86400 + 3605


def test_run_log_reads_max_epochs_from_the_printed_config():
    run = RunLog()
    run.feed(['Config:'] + TRAIN_CFG_LINES + ['train_dataloader = dict(', EPOCH_TRAIN],
             now=0.)
    assert run.max_epochs == 20
    assert run.fraction == pytest.approx((1 * 16 + 16) / (20 * 16))
    assert run.position() == 'epoch 2/20 iter 16/16'
    run.feed([EPOCH_VAL], now=5.)
    assert run.position() == 'epoch 2/20 iter 16/16, validating'
    assert run.eta(now=30.) == 100 - 30  # the train line's ETA, counted down

    iters = RunLog()
    iters.feed([TRAIN_CFG_ONE_LINE, ITER_TRAIN])
    assert iters.max_epochs is None and iters.fraction == pytest.approx(20 / 300)
    assert iters.position() == 'iter 20/300'


class Clock:
    def __init__(self):
        self.now = 0.

    def __call__(self):
        return self.now


def test_demo_progress_line_and_etas():
    clock, out = Clock(), io.StringIO()
    progress = DemoProgress([('pre-training', 100), ('export', 10), ('probe', 50)],
                            stream=out, plain_interval_s=30, clock=clock)
    update = progress.stage('pre-training')
    clock.now = 20.
    update([ITER_TRAIN])  # mmengine: 208 s to go
    line = progress.line()
    assert line.startswith('stage 1/3 pre-training | iter 20/300 | loss 3.6755 | ')
    assert '0:20, ETA 3:28' in line
    assert 'demo 0:20, ETA ~4:28' in line  # 208 s + the 60 s expected after
    clock.now = 200.
    progress.stage('export')  # pre-training took 200 s, 2x its 100 s
    assert progress.speed() == 2.
    clock.now = 205.
    # no log line yet: the stage's expected time at the observed speed
    assert progress.stage_eta(205.) == 2 * 10 - 5
    assert progress.demo_eta(205.) == 15 + 2 * 50
    assert progress.line().startswith('stage 2/3 export | starting | 0:05, ETA 0:15')
    progress.close()
    # not a terminal: whole lines, one per stage start and one per 30 s at most
    lines = out.getvalue().splitlines()
    assert '\r' not in out.getvalue()
    assert [ln.split(' | ')[0] for ln in lines] == ['stage 1/3 pre-training',
                                                   'stage 2/3 export']


def test_demo_progress_rewrites_one_line_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True
    out = Terminal()
    progress = DemoProgress([('a', 1)], stream=out, clock=Clock())
    update = progress.stage('a')
    update([ITER_TRAIN])
    progress.message('[demo] a line of its own')
    progress.close()
    text = out.getvalue()
    assert text.count('\r') >= 3 and text.endswith('\n')
    assert '\r\x1b[K[demo] a line of its own\n\rstage 1/1 a | iter 20/300' in text


def test_parallel_stage_shows_every_run_and_waits_for_the_slowest():
    clock, out = Clock(), io.StringIO()
    progress = DemoProgress([('probe', 10), ('Mask R-CNN', 100)], stream=out, clock=clock)
    progress.stage('probe')
    clock.now = 10.
    updates = progress.parallel_stage('Mask R-CNN', ['pre-trained', 'from scratch'])
    assert progress.line().startswith(
        'stage 2/2 Mask R-CNN | pre-trained starting | from scratch starting | 0:00')
    clock.now = 30.
    updates['pre-trained']([ITER_TRAIN])  # 208 s to go
    assert progress.stage_eta(30.) == 208  # the other's expected 100 - 20 is less
    updates['from scratch']([ITER_TRAIN.replace('eta: 0:03:28', 'eta: 0:04:00')])
    line = progress.line()
    assert ('| pre-trained iter 20/300, loss 3.6755 | from scratch iter 20/300, '
            'loss 3.6755 | 0:20, ETA 4:00 |') in line
    assert progress.demo_eta(30.) == 240  # the slower run's ETA
    progress.close()
    assert progress.durations == [10., 20.]


def test_run_tool_passes_the_log_lines_while_the_command_runs(tmp_path):
    script = ('import sys, time\n'
              'for i in range(3):\n'
              '    print(f"Iter(train) [{i + 1}/3]  loss: {i}.5", flush=True)\n'
              '    time.sleep(0.6)\n'
              'sys.stdout.write("no newline at the end")\n')
    calls = []
    seconds = run_tool([sys.executable, '-c', script], str(tmp_path / 'log.txt'),
                       progress=lambda lines: calls.append(list(lines)), poll_s=0.2)
    lines = [ln for batch in calls for ln in batch]
    assert lines == [f'Iter(train) [{i + 1}/3]  loss: {i}.5' for i in range(3)] + \
        ['no newline at the end']
    # line by line as they were written, not all at the end
    first_batch = next(i for i, batch in enumerate(calls) if batch)
    assert first_batch < len(calls) - 1
    assert seconds >= 1.8


def test_run_tool_with_progress_still_raises_on_failure(tmp_path):
    with pytest.raises(RuntimeError, match='exit 3'):
        run_tool([sys.executable, '-c', 'print("boom"); raise SystemExit(3)'],
                 str(tmp_path / 'log.txt'), progress=lambda lines: None, poll_s=0.1)


def test_run_tools_runs_the_commands_at_once(tmp_path):
    # each command finishes only once the other has started: in turn, both fail
    script = ('import os, sys, time\n'
              'me, other = sys.argv[1:]\n'
              'open(me, "w").close()\n'
              'for _ in range(300):\n'
              '    if os.path.exists(other):\n'
              '        print("Iter(train) [1/1]  loss: 0.5", flush=True)\n'
              '        sys.exit(0)\n'
              '    time.sleep(0.1)\n'
              'sys.exit(5)\n')
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    seen = {'a': [], 'b': []}
    seconds = run_tools(
        [ToolRun([sys.executable, '-c', script, a, b], str(tmp_path / 'a.log'),
                 progress=seen['a'].extend),
         ToolRun([sys.executable, '-c', script, b, a], str(tmp_path / 'b.log'),
                 progress=seen['b'].extend)], poll_s=0.1)
    assert len(seconds) == 2 and all(s > 0 for s in seconds)
    assert seen == {k: ['Iter(train) [1/1]  loss: 0.5'] for k in 'ab'}


def test_run_tools_stops_the_others_when_one_fails(tmp_path):
    sleeper = 'import os, time; print(os.getpid(), flush=True); time.sleep(120)'
    with pytest.raises(RuntimeError, match=r'exit 3\); log: .*fails.log\nboom'):
        run_tools([ToolRun([sys.executable, '-c', sleeper], str(tmp_path / 'sleeps.log')),
                   ToolRun([sys.executable, '-c', 'import time; time.sleep(1); '
                            'print("boom"); raise SystemExit(3)'],
                           str(tmp_path / 'fails.log'))], poll_s=0.1)
    pid = int((tmp_path / 'sleeps.log').read_text().split()[0])
    with pytest.raises(ProcessLookupError):  # killed and reaped, not left running
        __import__('os').kill(pid, 0)


def test_progress_of_a_real_training_run(tiny_demo, tmp_path):
    cfg = write_tiny_config(tmp_path / 'tiny.py', tiny_demo, max_iters=3)
    clock, out = Clock(), io.StringIO()
    progress = DemoProgress([('pre-training', 60)], stream=out, clock=clock)
    seen = []
    update = progress.stage('pre-training')

    def follow(lines):
        update(lines)
        if progress.run.last_train is not None:
            seen.append(progress.run.position())

    run_tool([sys.executable, str(REPO / 'tools' / 'train.py'), str(cfg), '--work-dir',
              str(tmp_path / 'work')], str(tmp_path / 'train.log'), cwd=str(REPO),
             env=dict(__import__('os').environ, CUDA_VISIBLE_DEVICES='',
                      OMP_NUM_THREADS='1'), progress=follow, poll_s=0.5)
    assert seen[-1] == 'iter 3/3'
    assert progress.run.last_train.loss > 0 and progress.run.last_train.eta_s == 0
