import os.path as osp

import pytest

from mmhybrid.datasets.fashion_demo import DEFAULT_DIR, DemoParams, build_fashion_demo

#: A demo world small enough to build in about a second.
SMALL_DEMO = DemoParams(seed=0, size=64, num_train=40, num_val=10,
                        num_unlabelled=10, num_cls_train=50, num_cls_test=20,
                        num_objects=20)


@pytest.fixture(scope='session')
def fashion_mnist_dir():
    """Debian's dataset-fashion-mnist, a dependency of the demo like mmcv."""
    assert osp.isfile(osp.join(DEFAULT_DIR, 'train-images-idx3-ubyte.gz')), (
        'install the Debian package dataset-fashion-mnist')
    return DEFAULT_DIR


@pytest.fixture(scope='session')
def small_demo(tmp_path_factory, fashion_mnist_dir):
    """``(root, build_info)`` of a small demo world built once per session."""
    root = str(tmp_path_factory.mktemp('demo') / 'fashion_demo')
    info = build_fashion_demo(root, SMALL_DEMO, fashion_mnist=fashion_mnist_dir,
                              log=lambda msg: None)
    return root, info
