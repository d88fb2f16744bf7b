"""The demo: pre-train on the Fashion-MNIST scenes, then linear probe, fine-tune,
Mask R-CNN and UperNet from the same checkpoint; prints the result table.

    python tools/run_demo.py [--work-dir work_dirs/demo] [--dense {short,benchmark,v2}]

``--dense short`` (the default, ``make demo``: about 13 minutes on 2 CPU cores)
fine-tunes Mask R-CNN and UperNet for a few dozen iterations, enough to show the
checkpoint loading and what the models draw; ``--dense benchmark`` runs the
benchmark's frozen-backbone dense evaluations instead (about 10 minutes more),
whose numbers measure the backbones. ``--dense v2`` trains the dense protocol v2's
frozen-backbone heads (``ablation.py --dense-scenes v2``) on scenes_v2/ for 300
iterations; the data root must hold scenes_v2/ (``build_fashion_demo.py
--dense-scenes v2``).
"""
import argparse
import os

os.environ.setdefault('HF_HUB_OFFLINE', '1')

from mmhybrid.apis import run_demo  # noqa: E402
from mmhybrid.apis.demo import DENSE_MODES  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', default='data/fashion_demo')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--pretrain-options', nargs='*', default=[],
                        help='--cfg-options for the pre-training config')
    parser.add_argument('--downstream-options', nargs='*', default=[],
                        help='--cfg-options for every downstream config')
    parser.add_argument('--dense', choices=DENSE_MODES, default='short',
                        help='the detection / segmentation stages: short fine-tuning '
                        'runs (default) or the benchmark\'s frozen-backbone '
                        'evaluations (about 10 minutes more on 2 CPU cores)')
    args = parser.parse_args()
    print(run_demo(args.data, args.work_dir, args.pretrain_options,
                   args.downstream_options, tasks=DENSE_MODES[args.dense]))


if __name__ == '__main__':
    main()
