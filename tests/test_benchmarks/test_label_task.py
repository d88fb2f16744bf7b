"""tools/benchmarks/diagnose_label_task.py at toy size: runs, resumes, tabulates."""
import json
import os
import subprocess
import sys
from pathlib import Path

from mmhybrid.benchmarks.label_task import VARIANTS, table
from mmhybrid.benchmarks.methods import METHODS, stage_configs

REPO = Path(__file__).resolve().parents[2]


def test_quick_diagnosis_writes_records_and_resumes(tiny_demo, tmp_path):
    results, work = tmp_path / 'diag', tmp_path / 'work'
    cmd = [sys.executable, str(REPO / 'tools/benchmarks/diagnose_label_task.py'),
           '--quick', '--data', str(tiny_demo), '--results', str(results),
           '--work-dir', str(work), '--variants', 'objects-only+lr-3e-4', '--seeds', '0']
    env = dict(os.environ, OMP_NUM_THREADS='2', CUDA_VISIBLE_DEVICES='')
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = json.loads((results / 'objects-only+lr-3e-4-s0.json').read_text())
    assert 0 <= record['val']['garment_map'] <= 100
    assert record['garment_chance'] > 0 and record['iters'] == 2
    # the variant's changes reached the run's config
    from mmengine.config import Config
    cfg = Config.fromfile(str(work / 'objects-only+lr-3e-4-s0' / 'config.py'))
    assert list(cfg.train_dataloader.sampler.ratios) == [1, 0, 0]
    assert cfg.optim_wrapper.optimizer.lr == 3e-4
    assert (results / 'random-s0.json').is_file()
    text = (tmp_path / 'diag.md').read_text()
    assert '| objects-only+lr-3e-4 ' in text and '| random ' in text
    # a rerun trains nothing
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0 and 'objects-only+lr-3e-4-s0:' not in proc.stdout


def test_variants_state_their_whole_recipe():
    base, = stage_configs(METHODS['multilabel'], 10, 4, 0, 'x.json')
    v2 = VARIANTS['protocol-v2']
    assert {'objects-only', 'bce', 'objects+unlabelled+lr-3e-4'} <= set(VARIANTS)
    for variant in VARIANTS.values():
        assert {'train_dataloader.sampler.ratios',
                'optim_wrapper.optimizer.lr'} <= set(variant.options)
        assert len(variant.ratios) == len(base.train_dataloader.dataset.datasets)
    assert VARIANTS['bce'].options['model.multilabel.head.loss']['use_sigmoid']
    assert 'model.multilabel.head.loss' not in v2.options  # the config's ASL
    assert base.model.multilabel.head.loss.type == 'AsymmetricLoss'


def test_table_reports_the_difference_to_random_on_the_same_seeds():
    def rec(variant, seed, knn, linear, garment=None):
        val = dict(knn_top1=knn, linear_top1=linear)
        if garment is not None:
            val['garment_map'] = garment
        return dict(variant=variant, seed=seed, description=variant, val=val)
    text = table([rec('random', 0, 70., 77.), rec('random', 1, 68., 75.),
                  rec('objects-only', 0, 73., 74., 40.),
                  rec('objects-only', 1, 71., 74., 44.)])
    row = next(line for line in text.splitlines() if line.startswith('| objects-only'))
    assert '42.00 ± 2.83' in row  # garment mAP
    assert '3.00 ± 0.00' in row  # kNN vs random: +3 on both seeds
    assert '-2.00 ± 1.41' in row  # linear vs random: -3, -1
