"""The test split's own noise in a trained dense evaluation (issue #26).

Give it the work directories of finished detection / segmentation evaluations
(an ablation unit's ``work_dirs/ablation/<method>-s<seed>/{detection,segmentation}-<hash>/``:
the config ``tools/train.py`` dumped there and its last checkpoint). It runs each
model over the split once and prints the metric with its split-half std
(:mod:`mmhybrid.benchmarks.dense_eval_noise`): the part of a metric's spread over
seeds that a larger split would shrink. For every two evaluations of one task it
also prints their gap with its split-half std (the images both find hard cancel).
Run from the repository root (the configs read ``data/fashion_demo/``).

    python tools/benchmarks/dense_eval_noise.py work_dirs/ablation/multilabel-s0/detection-* \\
        work_dirs/ablation/multilabel-s0/segmentation-* --out results/dense_v2/eval_noise.json
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys

os.environ.setdefault('HF_HUB_OFFLINE', '1')

from mmengine.config import Config  # noqa: E402

import mmhybrid  # noqa: E402,F401
from mmhybrid.apis.tool_runs import latest_checkpoint  # noqa: E402
from mmhybrid.benchmarks.dense_eval_noise import (evaluation_metrics,  # noqa: E402
                                                  gap_noise, noise)


def dumped_config(eval_dir: str) -> str:
    """The config ``tools/train.py`` dumped into ``eval_dir`` (the one ``.py``)."""
    configs = glob.glob(osp.join(eval_dir, '*.py'))
    if len(configs) != 1:
        raise FileNotFoundError(f'{eval_dir}: expected the one config tools/train.py '
                                f'dumps there, found {sorted(configs) or "none"}')
    return configs[0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('eval_dirs', nargs='+')
    parser.add_argument('--split', default='test', choices=['val', 'test'])
    parser.add_argument('--num-splits', type=int, default=None,
                        help='random halvings (default 50 detection, 200 segmentation)')
    parser.add_argument('--out', help='add the results to this JSON file')
    args = parser.parse_args(argv)
    results = {}
    if args.out and osp.isfile(args.out):
        with open(args.out) as f:
            results = json.load(f)

    def save():
        if args.out:
            with open(args.out, 'w') as f:
                json.dump(results, f, indent=1, sort_keys=True)
                f.write('\n')

    evaluated = []  # (eval dir, {metric: SubsetMetric})
    for eval_dir in args.eval_dirs:
        config, checkpoint = dumped_config(eval_dir), latest_checkpoint(eval_dir)
        metrics = evaluation_metrics(config, checkpoint, args.split)
        num_splits = args.num_splits or (200 if 'miou' in metrics else 50)
        out = {name: noise(m, num_splits) for name, m in metrics.items()}
        for name, value in out.items():
            print(f'{eval_dir} {args.split} {name}: {value["full"]:.2f}, split-half '
                  f'std {value["std"]:.2f} ({value["num_images"]} images, '
                  f'{value["num_splits"]} halvings)', flush=True)
        results[f'{osp.normpath(eval_dir)}:{args.split}'] = dict(
            out, checkpoint=checkpoint, config=config)
        for other_dir, other in evaluated:
            if set(other) != set(metrics):
                continue  # another task
            gaps = {name: gap_noise(metrics[name], other[name], num_splits)
                    for name in metrics}
            for name, value in gaps.items():
                print(f'{eval_dir} - {other_dir} {args.split} {name}: '
                      f'{value["full"]:+.2f}, split-half std {value["std"]:.2f}',
                      flush=True)
            results[f'{osp.normpath(eval_dir)} - {osp.normpath(other_dir)}:'
                    f'{args.split}'] = gaps
        evaluated.append((eval_dir, metrics))
        save()
    return 0


if __name__ == '__main__':
    sys.exit(main())
