"""Open Images image-level labels -> partial multi-label annotation
(confidence 1 = positive, 0 = verified negative, not listed = unknown).

    python tools/dataset_converters/open_images_to_multilabel.py \
        oidv6-train-annotations-human-imagelabels.csv oidv7-class-descriptions.csv \
        --out data/openimages/meta/train.json --index
"""
import argparse
import sys

from mmhybrid.datasets import AnnotationError
from mmhybrid.datasets.converters import convert_open_images, format_summary


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('labels_csv', help='ImageID,Source,LabelName,Confidence')
    parser.add_argument('class_descriptions_csv', help='LabelName,DisplayName')
    parser.add_argument('--out', required=True, help='annotation JSON to write')
    parser.add_argument('--path-template', default='{image_id}.jpg',
                        help='image path of an ImageID (default: %(default)s)')
    parser.add_argument('--trainable-classes', help='file of label names to keep')
    parser.add_argument('--sources', nargs='+', help='keep only these Source values')
    parser.add_argument('--all-classes', action='store_true',
                        help='keep described classes that no row uses')
    parser.add_argument('--index', action='store_true',
                        help='also write the .lblidx label index')
    return parser.parse_args()


def main():
    args = parse_args()
    try:
        conversion = convert_open_images(
            args.labels_csv, args.class_descriptions_csv,
            path_template=args.path_template,
            trainable_classes=args.trainable_classes, sources=args.sources,
            all_classes=args.all_classes)
        print(format_summary(conversion.write(args.out, index=args.index)))
    except AnnotationError as e:
        sys.exit(f'error: {e}')


if __name__ == '__main__':
    main()
