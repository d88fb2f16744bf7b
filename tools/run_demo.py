"""The demo: pre-train on the Fashion-MNIST scenes, then linear probe, fine-tune,
Mask R-CNN and UperNet from the same checkpoint; prints the result table.

    python tools/run_demo.py [--work-dir work_dirs/demo] [--quick]
"""
import argparse
import os

os.environ.setdefault('HF_HUB_OFFLINE', '1')

from mmhybrid.apis import run_demo  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', default='data/fashion_demo')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--pretrain-options', nargs='*', default=[],
                        help='--cfg-options for the pre-training config')
    parser.add_argument('--downstream-options', nargs='*', default=[],
                        help='--cfg-options for every downstream config')
    args = parser.parse_args()
    print(run_demo(args.data, args.work_dir, args.pretrain_options,
                   args.downstream_options))


if __name__ == '__main__':
    main()
