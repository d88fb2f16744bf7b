"""Pictures of a run directory: losses.png, probe.png, reconstructions.png
(pre-training), detections.png / segmentations.png (downstream); each only when
the run has what it needs, the others listed as skipped with the reason.

    python tools/visualize.py RUN_DIR [--out-dir DIR] [--num-images 4]
"""
import argparse
import os

os.environ.setdefault('HF_HUB_OFFLINE', '1')

from mmhybrid.visualization import visualize_run  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('run_dir', help='a work directory of tools/train.py')
    parser.add_argument('--out-dir', help='where to write (default: RUN_DIR)')
    parser.add_argument('--num-images', type=int, default=4,
                        help='images in the reconstruction / prediction pictures')
    args = parser.parse_args()
    visualize_run(args.run_dir, args.out_dir, args.num_images)


if __name__ == '__main__':
    main()
