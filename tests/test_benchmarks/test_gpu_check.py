"""gpu_check's parts on CPU: the check configs read the synthetic data, the
precision each run must keep, and the summary's verdict.

``tools/benchmarks/gpu_check.sh --dry-run`` runs the whole chain (every
config trained for one iteration on CPU, minutes); these tests check the
pieces quickly."""
import json
import os
import os.path as osp
import subprocess
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmhybrid.benchmarks import gpu_check

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def prepared(tmp_path_factory):
    work = tmp_path_factory.mktemp('gpu_check')
    rows = gpu_check.prepare(str(work), device='cpu', dry_run=True,
                             headline_iters=2, downstream_iters=1)
    return work, rows


def build_dataset(cfg):
    scope = cfg.get('default_scope', 'mmpretrain')
    registry = {'mmpretrain': 'mmpretrain.registry', 'mmdet': 'mmdet.registry',
                'mmseg': 'mmseg.registry'}[scope]
    datasets = __import__(registry, fromlist=['DATASETS']).DATASETS
    if scope == 'mmdet':
        from mmdet.utils import register_all_modules
        register_all_modules(init_default_scope=False)
    elif scope == 'mmseg':
        from mmseg.utils import register_all_modules
        register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope(scope):
        return datasets.build(cfg.train_dataloader.dataset)


def test_every_recipe_gets_a_check_config(prepared):
    work, rows = prepared
    names = [r['name'] for r in rows]
    assert names[0] == 'hybrid_swin-b'
    downstream = sorted(p.stem for d in ('mmdet', 'mmseg')
                        for p in (REPO / 'configs/benchmarks' / d).glob('*.py'))
    assert sorted(names[1:]) == downstream
    tsv = (work / 'runs.tsv').read_text().splitlines()
    assert [line.split('\t')[0] for line in tsv] == names
    assert tsv[0].split('\t')[2] == gpu_check.HEADLINE_ARGS


def test_headline_only_writes_no_dense_rows_or_their_data(tmp_path):
    # what an mmcv without compiled ops can run: the synthetic COCO data needs mmdet
    rows = gpu_check.prepare(str(tmp_path), device='cpu', dry_run=True,
                             headline_iters=2, downstream_iters=1, downstream=False)
    assert [r['name'] for r in rows] == ['hybrid_swin-b']
    assert (tmp_path / 'runs.tsv').read_text().count('\n') == 1
    assert sorted(os.listdir(tmp_path / 'data')) == ['ml-images']


@pytest.mark.parametrize('index', [0, 1, 3])
def test_check_config_is_the_recipe_on_synthetic_data(prepared, index):
    work, rows = prepared
    row = rows[index]
    cfg = Config.fromfile(row['config'])
    check = [h for h in cfg.custom_hooks if h['type'] == 'DeviceCheckHook']
    assert check == [dict(type='DeviceCheckHook', device='cpu', dtype='float32',
                          name=row['name'], skip=1 if index == 0 else 0,
                          out=osp.join(str(work), row['name'], 'device_check.json'))]
    assert cfg.train_cfg == dict(type='IterBasedTrainLoop',
                                 max_iters=2 if index == 0 else 1)
    assert cfg.val_dataloader is None
    assert cfg.default_hooks.checkpoint is None
    if index == 0:  # the headline: Swin-B HybridPretrain, its hooks kept
        assert cfg.model.type == 'HybridPretrain'
        assert cfg.model.backbone.arch == 'base'
        assert [h['type'] for h in cfg.custom_hooks] == [
            'RandomStateHook', 'LabelSpaceHook', 'DeviceCheckHook']
    else:  # random init of the downstream backbone
        assert cfg.model.backbone.init_cfg is None
        assert cfg.model.backbone.type == 'HybridSwinTransformer'
    dataset = build_dataset(cfg)
    assert len(dataset) >= 2
    item = dataset[0]
    assert item['inputs'] is not None and item['data_samples'] is not None


def test_expected_precision_follows_the_recipe():
    head = Config.fromfile(str(REPO / gpu_check.HEADLINE))
    assert gpu_check.expected_dtype(head, gpu_check.HEADLINE_ARGS) == 'bfloat16'
    det = Config.fromfile(
        str(REPO / 'configs/benchmarks/mmdet/mask-rcnn_swin-b-hybrid_fpn_1x_coco.py'))
    assert gpu_check.expected_dtype(det, '') == 'float32'  # mmdet's recipe: fp32
    assert gpu_check.expected_dtype(det, '--amp') == 'float16'


def test_summary_fails_on_a_failed_or_missing_run(tmp_path, capsys):
    (tmp_path / 'runs.tsv').write_text('a\tA.py\t\nb\tB.py\t\n')
    ok = dict(name='a', status='ok', problems=[], device='cuda', dtype='bfloat16',
              device_name='NVIDIA H200', optim_wrapper='AmpOptimWrapper', batch=128,
              iters=10, timed_iters=8, iter_s=0.5, img_s=256.0, peak_mib=40000.)
    os.makedirs(tmp_path / 'a')
    (tmp_path / 'a' / 'device_check.json').write_text(json.dumps(ok))
    assert gpu_check.summary(str(tmp_path)) == 1  # b never finished
    out = capsys.readouterr()
    row = next(line for line in out.out.splitlines() if line.startswith('a '))
    assert row.split() == ['a', 'NVIDIA', 'H200', 'bfloat16', 'AmpOptimWrapper',
                           '128', '8/10', '0.500', '256', '40000', 'ok']
    assert 'FAILED: b: no device_check.json' in out.err
    os.makedirs(tmp_path / 'b')
    bad = dict(ok, name='b', status='FAILED', problems=['backbone ran on cpu'])
    (tmp_path / 'b' / 'device_check.json').write_text(json.dumps(bad))
    assert gpu_check.summary(str(tmp_path)) == 1
    assert 'FAILED: b: backbone ran on cpu' in capsys.readouterr().err
    (tmp_path / 'b' / 'device_check.json').write_text(json.dumps(dict(ok, name='b')))
    assert gpu_check.summary(str(tmp_path)) == 0


def test_script_is_valid_bash_and_documents_dry_run():
    script = REPO / 'tools/benchmarks/gpu_check.sh'
    assert os.access(script, os.X_OK)
    subprocess.run(['bash', '-n', str(script)], check=True)
    help_text = subprocess.run(['bash', str(script), '--help'], capture_output=True,
                               text=True, check=True).stdout
    assert '--dry-run' in help_text and 'GPU check' in help_text
    assert '--switches-only' in help_text and 'SWITCHES_BUDGET' in help_text
    bad = subprocess.run(['bash', str(script), '--bogus'], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and 'unknown argument' in bad.stderr
