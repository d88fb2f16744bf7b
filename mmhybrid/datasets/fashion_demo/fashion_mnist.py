"""Read the Fashion-MNIST IDX files (Debian's ``dataset-fashion-mnist``)."""
import gzip
import hashlib
import os.path as osp
from typing import Dict, NamedTuple, Optional

import numpy as np

DEFAULT_DIR = '/usr/share/datasets/fashion-mnist'
CLASSES = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal',
           'Shirt', 'Sneaker', 'Bag', 'Ankle boot')
FILES = {
    ('train', 'images'): 'train-images-idx3-ubyte',
    ('train', 'labels'): 'train-labels-idx1-ubyte',
    ('test', 'images'): 't10k-images-idx3-ubyte',
    ('test', 'labels'): 't10k-labels-idx1-ubyte',
}


class FashionMNISTNotFound(FileNotFoundError):
    """The Fashion-MNIST IDX files are not where we looked."""


class Split(NamedTuple):
    """One Fashion-MNIST split: ``images`` (N, 28, 28) uint8, ``labels`` (N,)
    uint8 class indices into :data:`CLASSES`."""
    images: np.ndarray
    labels: np.ndarray


def find_file(root: str, name: str) -> str:
    """The path of IDX file ``name`` under ``root``, gzipped or not."""
    for candidate in (name + '.gz', name):
        path = osp.join(root, candidate)
        if osp.isfile(path):
            return path
    raise FashionMNISTNotFound(
        f"Fashion-MNIST file '{name}[.gz]' not found in '{root}'. Install "
        'the Debian package (`sudo apt-get install dataset-fashion-mnist`, '
        f'which puts it in {DEFAULT_DIR}) or pass --fashion-mnist DIR with '
        'the original IDX files (gzipped or not).')


def _read_idx(path: str) -> np.ndarray:
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        data = f.read()
    if len(data) < 4 or data[:2] != b'\x00\x00' or data[2] != 0x08:
        raise ValueError(f"'{path}' is not an IDX file of unsigned bytes")
    ndim = data[3]
    shape = tuple(
        int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim))
    offset = 4 + 4 * ndim
    expected = int(np.prod(shape))
    if len(data) - offset != expected:
        raise ValueError(f"'{path}': header says {shape} ({expected} bytes) "
                         f'but the file holds {len(data) - offset} bytes')
    return np.frombuffer(data, np.uint8, offset=offset).reshape(shape)


def source_fingerprint(root: Optional[str] = None) -> Dict[str, str]:
    """SHA-256 of each source file, keyed by its file name: what a build
    records to know whether its source changed."""
    root = root or DEFAULT_DIR
    result = {}
    for name in FILES.values():
        path = find_file(root, name)
        with open(path, 'rb') as f:
            result[osp.basename(path)] = hashlib.sha256(f.read()).hexdigest()
    return result


def load_split(split: str, root: Optional[str] = None) -> Split:
    """Load the ``'train'`` (60000) or ``'test'`` (10000) split.

    Args:
        split (str): ``'train'`` or ``'test'``.
        root (str, optional): Folder with the IDX files. Defaults to Debian's
            install folder.
    """
    root = root or DEFAULT_DIR
    images = _read_idx(find_file(root, FILES[(split, 'images')]))
    labels = _read_idx(find_file(root, FILES[(split, 'labels')]))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"Fashion-MNIST {split} files in '{root}' disagree: "
                         f'images {images.shape}, labels {labels.shape}')
    if labels.max() >= len(CLASSES):
        raise ValueError(f'Fashion-MNIST {split} labels exceed '
                         f'{len(CLASSES) - 1}')
    return Split(images, labels)
