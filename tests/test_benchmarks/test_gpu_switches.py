"""The switch table of the GPU check (mmhybrid/benchmarks/gpu_switches.py) on
CPU: the dry run end to end, and the guards that keep a row honest."""
import json
import os
import subprocess
from pathlib import Path

import pytest
import torch

from mmhybrid.benchmarks import gpu_switches as gs
from mmhybrid.benchmarks.step_cost import prepare

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def dry_run(tmp_path_factory):
    work = tmp_path_factory.mktemp('switches')
    proc = subprocess.run(
        ['bash', str(REPO / 'tools/benchmarks/gpu_check.sh'), '--dry-run',
         '--switches-only', '--work-dir', str(work)],
        cwd=REPO, capture_output=True, text=True, timeout=900,
        env=dict(os.environ, OMP_NUM_THREADS='1', PYTHON=str(REPO / '.venv/bin/python')
                 if (REPO / '.venv/bin/python').exists() else 'python'))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return work, proc.stdout


def test_dry_run_measures_every_row_with_its_switches(dry_run):
    work, out = dry_run
    assert 'gpu_check --switches-only (cpu, dry run): done' in out
    rows = json.loads((work / 'switches.json').read_text())['rows']
    assert [r['row'] for r in rows] == [name for name, _ in gs.ROWS]
    assert all(r['status'] == 'ok' for r in rows), rows
    by = {r['row']: r for r in rows}
    off = dict(attention='attention explicit', graphs='compiled graphs 0',
               adamw='AdamW default', ema='EMA CosineEMA')
    on = {'+fused attention': ('attention', 'attention fused'),
          '+compile': ('graphs', 'compiled graphs'),
          '+fused AdamW': ('adamw', 'AdamW fused'),
          '+foreach EMA': ('ema', 'EMA ForeachCosineEMA')}
    for name, r in by.items():
        assert r['check'].startswith('cpu float32; ')
        for key, text in off.items():
            switched = name == 'all on' or on.get(name, ('', ''))[0] == key
            if switched:
                assert text not in r['check'], (name, r['check'])
            else:
                assert text in r['check'], (name, r['check'])
    for name in ('+compile', 'all on'):  # masked, unmasked, momentum (no grad)
        assert int(by[name]['check'].split('compiled graphs ')[1].split(';')[0]) >= 3
    # the same initial weights and batch: step 1 agrees to rounding. Step 2 follows
    # one AdamW update, whose first step moves every weight by about lr whatever its
    # gradient's size, so a near-zero gradient whose sign flips with a kernel's
    # rounding (fused attention, fused AdamW) moves a full lr: step 2 agrees to a
    # small fraction of what the update changed (CI measured 0.14% of it, this
    # machine 0.01%), and a row whose update differs (none, another lr) is far off.
    base1, base2 = by['baseline']['loss_step1'], by['baseline']['loss_step2']
    drop = abs(base1 - base2)
    assert drop > 0.01 * base1
    for r in rows:
        assert r['loss_step1'] == pytest.approx(base1, rel=1e-5)
        assert abs(r['loss_step2'] - base2) <= 0.01 * drop, (r['row'], r['loss_step2'], base2)
    assert by['baseline']['flops'] > 0 and by['baseline']['img_s'] > 0
    md = (work / 'switches.md').read_text()
    assert md.startswith('## GPU path switches, ')
    assert 'goal (issue 28)' in md and '>= 708 img/s' in md
    assert '| row | first step s | step s (median) | min-max s | img/s | x baseline ' \
           '| TFLOP/s | % bf16 peak | peak MiB |' in md
    assert ('+compile: `model.backbone.type=HybridSimMIMSwinTransformer '
            'model.backbone.compile.backend=aot_eager`') in md
    assert 'all on: 'in md and '(CPU dry run: not judged' in md


@pytest.fixture(scope='module')
def demo():
    from mmengine.config import Config
    cfg = Config.fromfile(str(REPO / gs.DEMO))
    return prepare(cfg, batch=2)


def test_a_row_stops_when_a_switch_is_not_in_effect(demo, max_iters):
    # the options of no switch, the row named for two: both are reported
    cfg = gs.row_config(str(REPO / gs.DEMO), (), 'cpu', True)
    run = gs.SwitchRun(cfg, 'broken', ('fused AdamW', 'compile'), demo, 'cpu')
    run.first_step()
    with pytest.raises(SystemExit) as stop:
        run.check(graphs=0)
    assert 'optimizer fused=None, fused AdamW on' in str(stop.value)
    assert '0 graphs compiled, compile on' in str(stop.value)
    # and where it ran: a row asked for cuda that ran on the CPU
    run.switches, run.device = (), 'cuda'
    with pytest.raises(SystemExit, match='backbone ran on cpu, asked cuda'):
        run.check(graphs=0)


def test_a_row_stops_on_the_wrong_precision(demo, max_iters):
    cfg = gs.row_config(str(REPO / gs.DEMO), ('fused attention', ), 'cpu', True)
    run = gs.SwitchRun(cfg, 'amp', ('fused attention', ), demo, 'cpu')
    run.first_step()
    assert 'attention fused' in run.check(graphs=0)
    run.dtype = 'bfloat16'  # what an AmpOptimWrapper in bf16 would ask
    with pytest.raises(SystemExit, match='backbone ran in float32, the optim '
                       'wrapper asks bfloat16'):
        run.check(graphs=0)


def test_flop_count_includes_the_backward():
    class Run:
        model = torch.nn.Linear(64, 32)

        def step(self):
            x = torch.randn(8, 64, requires_grad=True)
            self.model(x).sum().backward()
    # forward 2*B*I*O; backward: the input's and the weight's gradients, as many
    assert gs.flop_count(Run()) == 3 * 2 * 8 * 64 * 32


def test_goal_verdict_on_the_all_on_row():
    rows = [dict(row='baseline', status='ok', img_s=350.),
            dict(row='all on', status='ok', img_s=720.)]
    assert gs.goal_lines(rows, 'cuda') == [
        'all on: 720.0 img/s = 2.03x the 354 img/s of results/gpu_check '
        '(goal >= 2x = 708: meets)']
    rows[1]['img_s'] = 700.
    assert 'MISSES' in gs.goal_lines(rows, 'cuda')[0]
    assert 'not judged' in gs.goal_lines(rows, 'cpu')[0]


def test_rows_past_the_budget_are_listed_as_not_run(tmp_path):
    out = tmp_path / 'switches.md'
    assert gs.main(['--dry-run', '--budget-s', '0', '--out', str(out)]) == 0
    md = out.read_text()
    for name, _ in gs.ROWS:
        assert f'| {name} | - |' in md and 'not run: past --budget-s 0' in md


def test_options_are_the_documented_cfg_options():
    assert gs.options_text((), True) == '(as shipped)'
    assert gs.options_text(gs.SWITCHES, True) == (
        'model.backbone.type=HybridSimMIMSwinTransformer '
        'model.backbone.fused_attention=True model.backbone.compile=True '
        'optim_wrapper.optimizer.fused=True '
        'model.contrastive.ema_type=ForeachCosineEMA')
