"""Does the supervised label task learn, and which data / optimiser lets it?

A diagnostic of the pre-training itself, before any downstream run: the
ablation's ``multilabel`` pre-training (the demo recipe with only the label
task), one change at a time, short runs over seeds. Each run is judged on the
**validation** images of the classification split (Fashion-MNIST garments the
pre-training never sees):

- the run's own label head: garment mAP (%, chance 10) on those images;
- the backbone's frozen kNN and linear top-1 (:mod:`.frozen_probe`), beside
  the same probes of a random backbone of the same seed.

Every finished (variant, seed) is written at once to
``<results>/<variant>-s<seed>.json``, so a stopped run resumes; the table
(mean ± std over seeds) goes to ``<results>.md``.
"""
import json
import os
import os.path as osp
import sys
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

from mmhybrid.apis.tool_runs import format_table, latest_checkpoint, run_tool
from .ablation import REPO, write_json
from .frozen_probe import run_frozen_probes
from .label_head_map import label_head_map
from .methods import METHODS, stage_configs
from .protocol import FINETUNE_CONFIG
from .report import load_records, mean_std, stat_cell
from .splits import make_splits

# the sources of the demo pre-training config, in its RatioSampler order:
# labelled objects, partially labelled scenes, unlabelled scenes
V2_MIX = [2, 1, 1]
OBJECTS_ONLY = [1, 0, 0]
OBJECTS_AND_UNLABELLED = [2, 0, 1]
ASL = None  # the config's own loss (mmpretrain's AsymmetricLoss)
BCE = dict(_delete_=True, type='CrossEntropyLoss', use_sigmoid=True)


@dataclass(frozen=True)
class Variant:
    """One multilabel pre-training recipe; every variant states the data mix,
    learning rate and loss it trains with, so a variant means the same run
    whatever the demo config's defaults are at the time.

    Args:
        name (str): Row name.
        description (str): What it is.
        ratios (list): RatioSampler ratios over the three demo sources.
        lr (float): AdamW learning rate (32 images a step).
        loss (dict, optional): The label head's loss; None keeps the
            config's ASL.
    """
    name: str
    description: str
    ratios: List[int]
    lr: float
    loss: Optional[dict] = ASL

    @property
    def options(self) -> Dict[str, object]:
        """Dotted config keys -> values, merged into the stage config."""
        out = {'train_dataloader.sampler.ratios': list(self.ratios),
               'optim_wrapper.optimizer.lr': self.lr}
        if self.loss is not None:
            out['model.multilabel.head.loss'] = dict(self.loss)
        return out


VARIANTS: Dict[str, Variant] = {v.name: v for v in [
    Variant('protocol-v2', 'protocol v2: objects : partial scenes : unlabelled '
            'scenes 2:1:1, AdamW lr 1e-3, ASL', V2_MIX, 1e-3),
    Variant('objects-only', 'labelled objects only, lr 1e-3', OBJECTS_ONLY, 1e-3),
    Variant('objects+unlabelled', 'objects : unlabelled scenes 2:1 (no scene '
            'labels), lr 1e-3', OBJECTS_AND_UNLABELLED, 1e-3),
    Variant('lr-3e-4', 'protocol-v2 mix at lr 3e-4', V2_MIX, 3e-4),
    Variant('objects-only+lr-3e-4', 'labelled objects only, lr 3e-4',
            OBJECTS_ONLY, 3e-4),
    Variant('objects+unlabelled+lr-3e-4', 'objects : unlabelled scenes 2:1, '
            'lr 3e-4', OBJECTS_AND_UNLABELLED, 3e-4),
    Variant('bce', 'protocol-v2 with BCE instead of ASL', V2_MIX, 1e-3, BCE),
]}
GARMENTS = range(10)  # class indices of the demo world's label space
PHOTO = 10  # the 'photo' image type: the classification images are plain


def garment_ann(data_root: str, list_file: str, out: str) -> str:
    """A MultiLabelDataset JSON of a classification list (garment + 'photo')."""
    with open(osp.join(data_root, list_file)) as f:
        entries = [line.split() for line in f if line.strip()]
    with open(out, 'w') as f:
        json.dump(dict(data_list=[dict(img_path=rel, gt_label=[int(label), PHOTO])
                                  for rel, label in entries]), f)
    return out


class LabelTaskDiagnosis:
    """Variants x seeds of the multilabel pre-training, judged on validation.

    Args:
        results (str): Directory of the per-run JSON files (``<results>.md``
            gets the table).
        work_dir (str): Checkpoints and logs.
        iters (int): Pre-training iterations of 32 images.
        data_root (str): The demo world.
        probe_limit (int, optional): Images per split for the frozen probes.
        batch_size (int): Images per iteration.
        log (callable): Progress lines.
    """

    def __init__(self, results: str, work_dir: str, iters: int = 600,
                 data_root: str = 'data/fashion_demo', probe_limit: Optional[int] = 2000,
                 batch_size: int = 32, log: Callable[[str], None] = print) -> None:
        self.results, self.work_dir, self.iters = results, work_dir, iters
        self.data_root, self.probe_limit = data_root, probe_limit
        self.batch_size, self.log = batch_size, log
        self.splits = make_splits(data_root)
        os.makedirs(results, exist_ok=True)
        os.makedirs(work_dir, exist_ok=True)
        self.val_ann = garment_ann(data_root, self.splits['cls_val'],
                                   osp.join(work_dir, 'cls_val_garments.json'))

    def _probes(self, checkpoint: Optional[str], seed: int) -> Dict[str, float]:
        out = run_frozen_probes(self.data_root, self.splits,
                                osp.join(REPO, FINETUNE_CONFIG), checkpoint, seed,
                                limit=self.probe_limit)
        return out['val']  # choices are made on validation: test stays unread

    def random_baseline(self, seed: int) -> dict:
        path = osp.join(self.results, f'random-s{seed}.json')
        if not osp.isfile(path):
            record = dict(variant='random', seed=seed, description='no pre-training',
                          val=self._probes(None, seed))
            write_json(path, record)
        with open(path) as f:
            return json.load(f)

    def run_variant(self, name: str, seed: int) -> dict:
        path = osp.join(self.results, f'{name}-s{seed}.json')
        if osp.isfile(path):
            with open(path) as f:
                return json.load(f)
        variant = VARIANTS[name]
        cfg, = stage_configs(METHODS['multilabel'], self.iters, self.batch_size, seed,
                             self.splits['pretrain_partial'],
                             data_root=self.data_root.rstrip('/') + '/')
        cfg.merge_from_dict(variant.options)
        run_dir = osp.join(self.work_dir, f'{name}-s{seed}')
        os.makedirs(run_dir, exist_ok=True)
        config = osp.join(run_dir, 'config.py')
        cfg.dump(config)
        self.log(f'{name}-s{seed}: {variant.description}')
        seconds = run_tool([sys.executable, osp.join(REPO, 'tools/train.py'), config,
                            '--work-dir', run_dir], osp.join(run_dir, 'train.log'),
                           env=dict(os.environ, HF_HUB_OFFLINE='1'))
        checkpoint = latest_checkpoint(run_dir)
        head = label_head_map(config, checkpoint, self.val_ann,
                              osp.join(self.data_root, 'cls'),
                              groups=dict(garments=GARMENTS))['garments']
        backbone = osp.join(run_dir, 'backbone.pth')
        run_tool([sys.executable, osp.join(REPO, 'tools/model_converters/extract_backbone.py'),
                  checkpoint, backbone], osp.join(run_dir, 'extract.log'))
        val = dict(self._probes(backbone, seed), garment_map=head['mAP'])
        record = dict(variant=name, seed=seed, description=variant.description,
                      options={k: str(v) for k, v in variant.options.items()},
                      iters=self.iters, batch_size=self.batch_size,
                      pretrain_s=seconds, garment_chance=head['chance'], val=val,
                      finished=time.strftime('%Y-%m-%d %H:%M:%S'))
        write_json(path, record)
        self.log(f'{name}-s{seed}: ' + ', '.join(f'{k} {v:.2f}' for k, v in val.items()))
        return record

    def run(self, variants: Sequence[str], seeds: Sequence[int]) -> List[dict]:
        unknown = [v for v in variants if v not in VARIANTS]
        if unknown:
            raise ValueError(f'unknown variants {unknown}; known: {list(VARIANTS)}')
        records = [self.random_baseline(s) for s in seeds]
        return records + [self.run_variant(v, s) for s in seeds for v in variants]


def _cell(values: List[float]) -> str:
    return stat_cell(mean_std(values), False) if values else 'n/a'


def table(records: List[dict]) -> str:
    """One row per variant (random first): mean ± std over seeds of the label
    head's garment mAP and the probes, and the probes' difference to random
    init on the same seeds."""
    random = {r['seed']: r['val'] for r in records if r['variant'] == 'random'}
    names = ['random'] + [v for v in VARIANTS if any(r['variant'] == v for r in records)]
    rows = []
    for name in names:
        runs = [r for r in records if r['variant'] == name]
        row = [name, runs[0]['description'], str(len(runs))]
        row.append(_cell([r['val']['garment_map'] for r in runs
                          if 'garment_map' in r['val']]))
        for key in ('knn_top1', 'linear_top1'):
            row.append(_cell([r['val'][key] for r in runs]))
            row.append(_cell([r['val'][key] - random[r['seed']][key] for r in runs
                              if r['seed'] in random and name != 'random']))
        rows.append(row)
    return format_table(rows, ['variant', 'change', 'seeds', 'label head garment mAP',
                               'kNN top-1', 'kNN vs random', 'linear top-1',
                               'linear vs random'])


def write_table(results: str, command: str) -> str:
    records = load_records(results)
    done = [r for r in records if r['variant'] != 'random']
    lines = ['# Does the label task learn? (validation split)', '',
             f'Command: `{command}`  ',
             f'Runs: {len(done)}, ' + (
                 f'{done[0]["iters"]} iterations x {done[0]["batch_size"]} images each '
                 '(the ablation\'s multilabel pre-training, one change at a time)'
                 if done else 'none yet') + '  ',
             'Judged on the validation images of the classification split: the '
             'label head\'s garment mAP (chance 10), frozen kNN / linear top-1 '
             '(2000 images a split) and their difference to a random backbone of '
             'the same seed.', '', table(records), '']
    text = '\n'.join(lines)
    with open(results.rstrip('/') + '.md', 'w') as f:
        f.write(text)
    return text
