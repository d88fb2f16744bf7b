"""Converters from public data set formats to our multi-label annotation
(:class:`mmhybrid.datasets.PartialMultiLabelDataset`'s JSON, optionally a
``.lblidx`` label index), each with a summary of what it converted and
skipped. The command-line tools are in ``tools/dataset_converters/``."""
from .coco import convert_coco
from .conversion import Conversion, format_summary
from .domainnet import convert_domainnet
from .imagenet21k import Hierarchy, convert_imagenet21k
from .merge import Source, merge_annotations
from .open_images import convert_open_images

__all__ = [
    'Conversion', 'Hierarchy', 'Source', 'convert_coco', 'convert_domainnet',
    'convert_imagenet21k', 'convert_open_images', 'format_summary',
    'merge_annotations'
]
