"""Every image under a folder, as unlabelled samples."""
from typing import List, Sequence

from mmpretrain.datasets import CustomDataset
from mmpretrain.registry import DATASETS

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                  '.tiff', '.webp')


@DATASETS.register_module()
class UnlabelledImageFolder(CustomDataset):
    """All images under a folder (recursively, sorted by relative path), none
    of them labelled: no data info has a ``gt_label`` key.

    This is mmpretrain's ``CustomDataset(with_label=False)`` without an
    ``ann_file``, under a name that says so and with ``get_cat_ids`` defined.
    To mix it with a labelled set in a ``ConcatDataset``, give it the same
    ``classes`` (``ConcatDataset`` requires equal metainfo). An empty folder
    is an error naming the folder.

    Args:
        data_root (str): Root joined with ``data_prefix``. Defaults to ''.
        data_prefix (str | dict): The image folder (relative to
            ``data_root``). Defaults to ''.
        extensions (Sequence[str]): File extensions to take, case-insensitive.
            Defaults to the common image extensions.
        **kwargs: Other arguments of :class:`mmpretrain.datasets.BaseDataset`
            (``classes``, ``metainfo``, ``pipeline``, ``indices``, ...).
    """

    def __init__(self,
                 data_root: str = '',
                 data_prefix='',
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 **kwargs):
        if 'ann_file' in kwargs or 'with_label' in kwargs:
            raise TypeError('UnlabelledImageFolder takes every image under '
                            'data_prefix; it has no ann_file / with_label')
        super().__init__(data_root=data_root, data_prefix=data_prefix,
                         ann_file='', with_label=False, extensions=extensions,
                         **kwargs)

    def get_cat_ids(self, idx: int) -> List[int]:
        """No sample has labels."""
        return []
