import gzip

import numpy as np
import pytest

from mmhybrid.datasets.fashion_demo import (CLASSES, FashionMNISTNotFound,
                                            load_split)
from mmhybrid.datasets.fashion_demo.fashion_mnist import FILES


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b''.join(
        int(n).to_bytes(4, 'big') for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_split(root, split, images, labels, gz):
    for kind, array in (('images', images), ('labels', labels)):
        name = FILES[(split, kind)]
        data = idx_bytes(array)
        if gz:
            (root / (name + '.gz')).write_bytes(gzip.compress(data))
        else:
            (root / name).write_bytes(data)


@pytest.mark.parametrize('gz', [True, False])
def test_reads_idx_files_gzipped_or_not(tmp_path, gz):
    images = np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256
    labels = np.array([9, 0, 4])
    write_split(tmp_path, 'test', images, labels, gz)
    split = load_split('test', str(tmp_path))
    np.testing.assert_array_equal(split.images, images)
    np.testing.assert_array_equal(split.labels, labels)


def test_debian_package_has_both_splits(fashion_mnist_dir):
    test = load_split('test', fashion_mnist_dir)
    assert test.images.shape == (10000, 28, 28)
    assert sorted(set(test.labels.tolist())) == list(range(len(CLASSES)))


def test_missing_source_says_how_to_get_it(tmp_path):
    with pytest.raises(FashionMNISTNotFound) as error:
        load_split('train', str(tmp_path))
    message = str(error.value)
    assert 'train-images-idx3-ubyte' in message
    assert 'apt-get install dataset-fashion-mnist' in message
    assert '--fashion-mnist' in message


def test_truncated_idx_file_is_an_error(tmp_path):
    write_split(tmp_path, 'test', np.zeros((2, 28, 28)), np.zeros(2), True)
    path = tmp_path / (FILES[('test', 'images')] + '.gz')
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-5]))
    with pytest.raises(ValueError, match='header says'):
        load_split('test', str(tmp_path))
