"""Datasets, samplers and transforms, registered in mmpretrain's registries.

The Fashion-MNIST demo world builder lives in :mod:`mmhybrid.datasets.fashion_demo`
(not imported here: only ``tools/dataset_converters/build_fashion_demo.py``
and the tests need it).
"""
from .label_index import (LabelIndex, LabelIndexWriter, build_label_index,
                          write_label_index)
from .multi_label_list import MultiLabelListDataset
from .partial_multi_label import AnnotationError, PartialMultiLabelDataset
from .samplers import RatioSampler
from .transforms import CorruptImageError, LoadImageRobust, num_skipped_images
from .unlabelled_image_folder import UnlabelledImageFolder

__all__ = [
    'AnnotationError', 'CorruptImageError', 'LabelIndex', 'LabelIndexWriter',
    'LoadImageRobust', 'MultiLabelListDataset', 'PartialMultiLabelDataset',
    'RatioSampler', 'UnlabelledImageFolder', 'build_label_index',
    'num_skipped_images', 'write_label_index'
]
