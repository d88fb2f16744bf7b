"""DomainNet-style <domain>/<class>/<file> + split lists -> object class and
domain labels in one label space.

    python tools/dataset_converters/domainnet_to_multilabel.py data/domainnet \
        data/domainnet/*_train.txt --out data/domainnet/meta/train.json
"""
import argparse
import sys

from mmhybrid.datasets import AnnotationError
from mmhybrid.datasets.converters import convert_domainnet, format_summary


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', help='data root the list paths are relative to')
    parser.add_argument('split_files', nargs='+',
                        help="split lists, '<domain>/<class>/<file> <index>' lines")
    parser.add_argument('--out', required=True, help='annotation JSON to write')
    parser.add_argument('--domains', nargs='+', help='keep only these domains')
    parser.add_argument('--domain-prefix', default='',
                        help="prefix of domain class names, e.g. 'domain:'")
    parser.add_argument('--check-files', action='store_true',
                        help='skip lines whose image is missing')
    parser.add_argument('--index', action='store_true',
                        help='also write the .lblidx label index')
    return parser.parse_args()


def main():
    args = parse_args()
    try:
        conversion = convert_domainnet(
            args.root, args.split_files, domains=args.domains,
            domain_prefix=args.domain_prefix, check_files=args.check_files)
        print(format_summary(conversion.write(args.out, index=args.index)))
    except AnnotationError as e:
        sys.exit(f'error: {e}')


if __name__ == '__main__':
    main()
