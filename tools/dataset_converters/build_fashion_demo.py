"""Build the Fashion-MNIST demo world (classification images, multi-label scenes,
COCO instances, semantic maps) into one folder. Does nothing when the folder
already holds a build of the same parameters. Then writes the object lists of
the few-label recipes (``splits/objects_{labelled,unlabelled}_<pct>pct.json``,
the benchmark's label budgets; ``--label-budgets`` with no value: none).

    python tools/dataset_converters/build_fashion_demo.py --out data/fashion_demo
"""
import argparse
import dataclasses
import os
import sys

os.environ.setdefault('HF_HUB_OFFLINE', '1')

from mmhybrid.benchmarks.splits import label_budget_splits  # noqa: E402
from mmhybrid.datasets.fashion_demo import (  # noqa: E402
    DemoParams, FashionMNISTNotFound, build_fashion_demo)


def parse_args():
    defaults = DemoParams()
    parser = argparse.ArgumentParser(
        description='Build the Fashion-MNIST demo world',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument(
        '--fashion-mnist', metavar='DIR', default=None,
        help='folder with the Fashion-MNIST IDX files, gzipped or not '
        '(default: /usr/share/datasets/fashion-mnist from the Debian package '
        'dataset-fashion-mnist)')
    parser.add_argument(
        '--label-budgets', metavar='L', nargs='*', type=float, default=[0.1, 0.01],
        help='also write the labelled / unlabelled object lists that keep the labels '
        'of a class-balanced share L of the objects (what '
        'configs/pretrain/hybrid_swin-demo_fashion-64px_10pct-labels.py reads)')
    for field in dataclasses.fields(DemoParams):
        if field.name == 'max_garments':
            continue
        parser.add_argument('--' + field.name.replace('_', '-'),
                            type=field.type if callable(field.type) else
                            type(getattr(defaults, field.name)),
                            default=getattr(defaults, field.name))
    return parser.parse_args()


def main():
    args = parse_args()
    params = DemoParams(**{
        f.name: getattr(args, f.name) for f in dataclasses.fields(DemoParams)
        if hasattr(args, f.name)
    })
    try:
        build_fashion_demo(args.out, params, fashion_mnist=args.fashion_mnist)
    except (FashionMNISTNotFound, FileExistsError, ValueError) as e:
        sys.exit(f'error: {e}')
    for fraction in args.label_budgets:
        try:
            files = label_budget_splits(args.out, fraction)
        except ValueError as e:
            sys.exit(f'error: {e} (in {args.out}/objects/meta/train.json); '
                     'give a larger --num-objects, or --label-budgets with '
                     'fewer or no values')
        print(f'label budget {fraction:g}: {files["labelled"]}, '
              f'{files["unlabelled"]}')


if __name__ == '__main__':
    main()
