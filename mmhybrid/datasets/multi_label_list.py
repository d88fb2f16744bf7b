"""Multi-label annotations as a plain-text list: ``path<TAB>3,17,205``."""
from typing import Any, List, Tuple

from mmengine.fileio import get_text
from mmpretrain.registry import DATASETS

from .partial_multi_label import AnnotationError, PartialMultiLabelDataset


@DATASETS.register_module()
class MultiLabelListDataset(PartialMultiLabelDataset):
    """Multi-label dataset read from a tab-separated list file.

    Each non-blank line is ``relative/path.png<TAB>labels`` where ``labels``
    is a comma-separated list of class indices (spaces around them are
    allowed). An empty label field, or no tab at all, means the image is
    **unlabelled** (its data info has no ``gt_label`` key). Lines starting with
    ``#`` are comments.

    Class names come from ``classes`` (a list, or the path of a file with one
    name per line) or ``metainfo``; they are required. Validation and
    duplicate handling are those of :class:`PartialMultiLabelDataset`; errors
    name the file and the line number (1-based).

    Args:
        ann_file (str): The list file.
        on_duplicate (str): ``'error'`` (default) or ``'skip'``.
        **kwargs: Other arguments of :class:`mmpretrain.datasets.BaseDataset`
            (``data_root``, ``data_prefix``, ``classes``, ``pipeline``, ...).
    """

    def read_entries(self) -> List[Tuple[str, Any]]:
        try:
            text = get_text(self.ann_file)
        except FileNotFoundError:
            raise AnnotationError(
                f"annotation file '{self.ann_file}' not found") from None
        entries = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith('#'):
                continue
            position = f'line {lineno}'
            path, _, label_field = line.rstrip('\r\n').partition('\t')
            if '\t' in label_field:
                raise AnnotationError(
                    f"'{self.ann_file}', {position}: expected "
                    f"'path<TAB>labels', found more than one tab")
            labels = []
            for token in label_field.split(','):
                token = token.strip()
                if not token:
                    if label_field.strip():
                        raise AnnotationError(
                            f"'{self.ann_file}', {position}: empty label in "
                            f'{label_field.strip()!r}')
                    continue
                try:
                    labels.append(int(token))
                except ValueError:
                    raise AnnotationError(
                        f"'{self.ann_file}', {position}: label {token!r} is "
                        'not an integer class index') from None
            entries.append((position, dict(img_path=path.strip(),
                                           gt_label=labels)))
        return entries
