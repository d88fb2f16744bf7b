"""The demo: pre-train on the Fashion-MNIST scenes, then linear probe, fine-tune,
Mask R-CNN and UperNet from the same checkpoint; prints the result table.

    python tools/run_demo.py [--work-dir work_dirs/demo] [--dense {short,benchmark,v2,v3-finetuned}]

``--dense v2`` (the default, ``make demo``: about 14 minutes on 2 CPU cores, the
demo world's build apart) trains the dense protocol v2's frozen-backbone Mask R-CNN
and UperNet heads (``ablation.py --dense-scenes v2``) on scenes_v2/ for 300
iterations; the data root must hold scenes_v2/ (``build_fashion_demo.py
--dense-scenes v2``, as ``make demo`` builds it). ``--dense benchmark`` runs the
first frozen protocol's 1000-iteration evaluations on scenes/ instead (about 8
minutes more); ``--dense v3-finetuned`` fine-tunes the benchmark's GroupNorm Mask
R-CNN and its UperNet end to end on scenes_v3/ for 2000 iterations each (a
longer demo whose dense models learn enough to draw garments; the data root must
hold scenes_v3/: ``make demo DENSE=v3-finetuned`` builds it); ``--dense short``
fine-tunes Mask R-CNN and UperNet for 60 / 100 iterations on scenes/ (a
walk-through: both backbones score background only).
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
    parser.add_argument('--dense', choices=DENSE_MODES, default='v2',
                        help='the detection / segmentation stages (above): v2 '
                        '(default) the dense protocol v2\'s frozen-backbone heads, '
                        '300 iterations; v3-finetuned the fine-tuned dense protocol '
                        'v3, 2000 iterations; benchmark the first frozen protocol; '
                        'short a fine-tuned walk-through')
    args = parser.parse_args()
    print(run_demo(args.data, args.work_dir, args.pretrain_options,
                   args.downstream_options, tasks=DENSE_MODES[args.dense]))


if __name__ == '__main__':
    main()
