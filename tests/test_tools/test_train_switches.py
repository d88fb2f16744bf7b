"""The GPU path's switches through tools/train.py on CPU: each trains as the
plain recipe does."""
import json
from pathlib import Path

import pytest

from tests.test_tools.train_helpers import run_tool, write_tiny_config

# the backbone compiled with a backend that runs the captured graphs eagerly
# (fast on CPU) and prints a line per graph
COMPILED_BACKBONE = '''
custom_imports = dict(imports=['mmhybrid', 'tests.test_tools.compile_backend'],
                      allow_failed_imports=False)
model['backbone'].update(type='HybridSimMIMSwinTransformer',
                         compile=dict(backend='counting_eager'))
'''
LOSSES = ('loss', 'loss_mim', 'loss_contrastive', 'loss_multilabel', 'grad_norm')


def logged(work):
    scalars = sorted(Path(work).glob('*/vis_data/scalars.json'))[-1]
    rows = [json.loads(line) for line in scalars.read_text().splitlines()]
    return [{k: r[k] for k in LOSSES} for r in rows if 'loss' in r]


def test_compiled_backbone_trains_as_the_plain_one(tiny_demo, tmp_path):
    runs = {}
    for name, extra in (('plain', ''), ('compiled', COMPILED_BACKBONE)):
        cfg = write_tiny_config(tmp_path / f'{name}.py', tiny_demo, max_iters=2,
                                ckpt_interval=2, extra=extra)
        proc = run_tool(['train.py', str(cfg), '--work-dir', str(tmp_path / name)])
        runs[name] = (logged(tmp_path / name), proc.stdout + proc.stderr)
    (plain, _), (compiled, out) = runs['plain'], runs['compiled']
    # the online masked pass and the momentum pass at least, each a graph
    assert out.count('counting_eager: compiled a graph') >= 2, out[-3000:]
    assert len(plain) == len(compiled) == 2
    for a, b in zip(plain, compiled):
        assert b == pytest.approx(a, rel=1e-6, abs=1e-6)
