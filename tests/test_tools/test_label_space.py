"""A checkpoint trained on one label list is refused with another."""
import json


from tests.test_tools.train_helpers import run_tool, write_tiny_config

HOOKS = '''
custom_hooks = [dict(type='LabelSpaceHook')]
'''


def test_resume_with_reordered_label_list_fails_clearly(tiny_demo, tmp_path):
    cfg = write_tiny_config(tmp_path / 'tiny.py', tiny_demo, max_iters=2, ckpt_interval=2,
                            extra=HOOKS)
    work = tmp_path / 'work'
    run_tool(['train.py', str(cfg), '--work-dir', str(work)])
    ann = json.loads((tiny_demo / 'scenes' / 'meta' / 'train_partial.json').read_text())
    classes = ann['metainfo']['classes']
    classes[0], classes[1] = classes[1], classes[0]  # same names, another order
    swapped = tmp_path / 'swapped.json'
    swapped.write_text(json.dumps(ann))
    proc = run_tool(['train.py', str(cfg), '--work-dir', str(tmp_path / 'ft'),
                     '--resume', str(work / 'iter_2.pth'), '--cfg-options',
                     f'train_dataloader.dataset.datasets.0.ann_file={swapped}',
                     'train_cfg.max_iters=3'], check=False)
    assert proc.returncode != 0
    assert ("label space mismatch" in proc.stderr
            and "first difference at index 0: checkpoint 'T-shirt/top', data 'Trouser'"
            in proc.stderr), proc.stderr[-2000:]


def test_head_size_must_match_the_label_list(tiny_demo, tmp_path):
    cfg = write_tiny_config(tmp_path / 'tiny.py', tiny_demo, max_iters=1, extra=HOOKS)
    proc = run_tool(['train.py', str(cfg), '--work-dir', str(tmp_path / 'w'),
                     '--cfg-options', 'model.multilabel.head.num_classes=12'], check=False)
    assert proc.returncode != 0
    assert 'the multi-label head has 12 outputs but the training data names 15 classes' \
        in proc.stderr


def test_same_label_list_resumes(tiny_demo, tmp_path):
    cfg = write_tiny_config(tmp_path / 'tiny.py', tiny_demo, max_iters=2, ckpt_interval=2,
                            extra=HOOKS)
    work = tmp_path / 'work'
    run_tool(['train.py', str(cfg), '--work-dir', str(work)])
    run_tool(['train.py', str(cfg), '--work-dir', str(work), '--resume',
              '--cfg-options', 'train_cfg.max_iters=3'])
    assert (work / 'iter_3.pth').is_file()  # resumed from 2, trained the 3rd
