"""Convert a multi-label annotation (JSON, or the path<TAB>labels list) into a
memory-mapped .lblidx label index, for data sets of millions of images.

    python tools/dataset_converters/build_label_index.py \
        data/ml-images/meta/train.json data/ml-images/meta/train.lblidx
"""
import argparse
import sys

from mmhybrid.datasets import AnnotationError, build_label_index


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('ann_file')
    parser.add_argument('out', help='index folder to write, *.lblidx')
    parser.add_argument('--classes', help='class names file (required for a list)')
    parser.add_argument('--list', action='store_true',
                        help='ann_file is a path<TAB>labels list')
    parser.add_argument('--on-duplicate', choices=['error', 'skip'], default='error')
    return parser.parse_args()


def main():
    args = parse_args()
    try:
        build_label_index(
            args.ann_file, args.out, classes=args.classes,
            dataset_type='MultiLabelListDataset' if args.list else
            'PartialMultiLabelDataset', on_duplicate=args.on_duplicate)
    except (AnnotationError, ValueError) as e:
        sys.exit(f'error: {e}')


if __name__ == '__main__':
    main()
