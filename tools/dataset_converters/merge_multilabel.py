"""Merge converted annotations into one label space; every source's entries
know only that source's classes. Name collisions between sources must be
resolved in a mapping file ({"source": {"class": "merged name"}}).

    python tools/dataset_converters/merge_multilabel.py \
        --source coco data/coco/meta/multilabel_train2017.json coco/train2017/ \
        --source openimages data/openimages/meta/train.json openimages/train/ \
        --mapping mapping.json --out data/merged/meta/train.json \
        --per-source-dir data/merged/meta/sources --index
"""
import argparse
import json
import os.path as osp
import sys

from mmhybrid.datasets import AnnotationError
from mmhybrid.datasets.converters import Source, format_summary, merge_annotations


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--source', nargs=3, action='append', required=True,
                        metavar=('NAME', 'ANN_FILE', 'PREFIX'),
                        help='a source: name, annotation, prefix of its image '
                        "paths ('' for none); repeat for each source")
    parser.add_argument('--mapping', help='JSON {source: {class: merged name}}')
    parser.add_argument('--out', required=True, help='merged annotation JSON')
    parser.add_argument('--per-source-dir',
                        help='also write <dir>/<source>.json per source, in the '
                        'merged label space (to mix them with RatioSampler)')
    parser.add_argument('--index', action='store_true',
                        help='also write .lblidx label indexes')
    return parser.parse_args()


def main():
    args = parse_args()
    try:
        mapping = None
        if args.mapping:
            with open(args.mapping) as f:
                mapping = json.load(f)
        merged, per_source = merge_annotations(
            [Source(*s) for s in args.source], mapping)
        print(format_summary(merged.write(args.out, index=args.index)))
        for name, part in (per_source.items() if args.per_source_dir else ()):
            summary = part.write(osp.join(args.per_source_dir, f'{name}.json'),
                                 index=args.index)
            print(format_summary(summary))
    except (AnnotationError, OSError, json.JSONDecodeError) as e:
        sys.exit(f'error: {e}')


if __name__ == '__main__':
    main()
