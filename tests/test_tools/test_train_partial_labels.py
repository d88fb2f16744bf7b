"""A few training iterations of the tiny demo config with per-class partial
labels: verified negatives, unknown classes ignored by the label head, the
annotation read from a label index."""
import json
import math
import re

from mmengine.config import Config
from mmpretrain.registry import DATASETS

from mmhybrid.datasets import build_label_index
from tests.test_tools.train_helpers import run_tool, write_tiny_config


def write_partial_index(demo_root, out_dir):
    """The demo's scenes with a third unlabelled, a third fully labelled and
    a third partial (positives + every other non-positive class verified
    negative, the rest unknown), as JSON and as a label index."""
    full = json.loads((demo_root / 'scenes/meta/train_multilabel.json').read_text())
    num_classes = len(full['metainfo']['classes'])
    data_list = []
    for i, entry in enumerate(full['data_list']):
        if i % 3 == 0:
            entry = dict(img_path=entry['img_path'], gt_label=[])
        elif i % 3 == 1:
            others = [c for c in range(num_classes) if c not in entry['gt_label']]
            entry = dict(entry, gt_negative=others[i % 2::2])
        data_list.append(entry)
    ann = out_dir / 'train_partial_labels.json'
    ann.write_text(json.dumps(dict(metainfo=full['metainfo'], data_list=data_list)))
    index = build_label_index(str(ann), str(out_dir / 'train_partial_labels.lblidx'),
                              log=lambda msg: None)
    return index


def test_train_with_per_class_partial_labels(tiny_demo, tmp_path):
    index = write_partial_index(tiny_demo, tmp_path)
    assert index.meta['counts']['partial'] > 0
    extra = f'''
train_dataloader['dataset']['datasets'][0]['ann_file'] = {str(index.root)!r}
model['multilabel']['head']['unknown'] = 'ignore'
'''
    cfg = write_tiny_config(tmp_path / 'tiny.py', tiny_demo, max_iters=3,
                            ckpt_interval=3, extra=extra)

    # the pipeline packs the verified negatives for the head
    dataset_cfg = Config.fromfile(str(cfg)).train_dataloader.dataset.datasets[0]
    dataset = DATASETS.build(dataset_cfg)
    partial = next(i for i in range(len(dataset))
                   if 'gt_negative' in dataset.get_data_info(i))
    packed = dataset[partial]['data_samples']
    assert list(packed.gt_negative) == dataset.get_data_info(partial)['gt_negative']

    work = tmp_path / 'work'
    proc = run_tool(['train.py', str(cfg), '--work-dir', str(work)])
    out = proc.stdout + proc.stderr
    raw = [float(v) for v in re.findall(r'raw_multilabel: (\S+)', out)]
    assert len(raw) == 3 and all(math.isfinite(v) and v > 0 for v in raw), out[-2000:]
    assert (work / 'iter_3.pth').is_file()
