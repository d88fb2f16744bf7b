"""COCO instances JSON -> image-level object labels.

    python tools/dataset_converters/coco_to_multilabel.py \
        data/coco/annotations/instances_train2017.json --path-prefix train2017/ \
        --out data/coco/meta/multilabel_train2017.json
"""
import argparse
import sys

from mmhybrid.datasets import AnnotationError
from mmhybrid.datasets.converters import convert_coco, format_summary


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('instances_json')
    parser.add_argument('--out', required=True, help='annotation JSON to write')
    parser.add_argument('--path-prefix', default='',
                        help="joined before each file_name, e.g. 'train2017/'")
    parser.add_argument('--no-crowd', action='store_true',
                        help='iscrowd instances do not count as positives')
    parser.add_argument('--empty', choices=['negative', 'unlabelled', 'skip'],
                        default='negative',
                        help='images without instances (default: %(default)s)')
    parser.add_argument('--index', action='store_true',
                        help='also write the .lblidx label index')
    return parser.parse_args()


def main():
    args = parse_args()
    try:
        conversion = convert_coco(args.instances_json, path_prefix=args.path_prefix,
                                  include_crowd=not args.no_crowd, empty=args.empty)
        print(format_summary(conversion.write(args.out, index=args.index)))
    except AnnotationError as e:
        sys.exit(f'error: {e}')


if __name__ == '__main__':
    main()
