"""ImageNet-21K-style synset folders (<wnid>/*.JPEG) + WordNet is_a ->
hierarchical multi-label annotation (each image: its synset and all ancestors).

    python tools/dataset_converters/imagenet21k_to_multilabel.py \
        data/imagenet21k/images wordnet.is_a.txt --min-depth 3 --min-images 100 \
        --out data/imagenet21k/meta/train.json --index
"""
import argparse
import sys

from mmhybrid.datasets import AnnotationError
from mmhybrid.datasets.converters import convert_imagenet21k, format_summary


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', help='folder of <wnid>/ image folders')
    parser.add_argument('is_a', help="WordNet is_a file, 'parent child' per line")
    parser.add_argument('--out', required=True, help='annotation JSON to write')
    parser.add_argument('--min-depth', type=int, default=0,
                        help='drop classes closer than this to a root')
    parser.add_argument('--max-depth', type=int, default=None,
                        help='cut the hierarchy: no class deeper than this')
    parser.add_argument('--min-images', type=int, default=1,
                        help='drop classes with fewer images')
    parser.add_argument('--index', action='store_true',
                        help='also write the .lblidx label index')
    return parser.parse_args()


def main():
    args = parse_args()
    try:
        conversion = convert_imagenet21k(
            args.root, args.is_a, min_depth=args.min_depth,
            max_depth=args.max_depth, min_images=args.min_images)
        print(format_summary(conversion.write(args.out, index=args.index)))
    except AnnotationError as e:
        sys.exit(f'error: {e}')


if __name__ == '__main__':
    main()
