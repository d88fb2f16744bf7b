"""mAP of a pre-training run's own label head on held-out labelled scenes.

    python tools/benchmarks/label_head_map.py RUN_DIR [--ann data/fashion_demo/splits/scenes_val_multilabel.json]

RUN_DIR holds the run's dumped config (*.py) and last_checkpoint, as tools/train.py
leaves them. Prints mAP (%) and chance (positive rate, %) for the garment classes
and the image types of the demo world.
"""
import argparse
import glob
import os
import os.path as osp

os.environ.setdefault('HF_HUB_OFFLINE', '1')

from mmhybrid.apis.tool_runs import latest_checkpoint  # noqa: E402
from mmhybrid.benchmarks.label_head_map import label_head_map  # noqa: E402
from mmhybrid.benchmarks.splits import make_splits  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('run_dir')
    parser.add_argument('--data', default='data/fashion_demo')
    parser.add_argument('--ann', default=None,
                        help='default: <data>/splits/scenes_val_multilabel.json')
    args = parser.parse_args()
    ann = args.ann or osp.join(args.data, make_splits(args.data)['scenes_val_multilabel'])
    configs = sorted(glob.glob(osp.join(args.run_dir, '*.py')))
    if not configs:
        raise SystemExit(f'{args.run_dir}: no dumped config (*.py)')
    out = label_head_map(configs[0], latest_checkpoint(args.run_dir), ann,
                         osp.join(args.data, 'scenes'),
                         groups=dict(garments=range(10), image_types=range(10, 15)))
    print(f'{args.run_dir}: ' + ', '.join(
        f'{g} mAP {v["mAP"]:.2f} (chance {v["chance"]:.2f})' for g, v in out.items()))


if __name__ == '__main__':
    main()
