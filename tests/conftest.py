import importlib.util
import logging
import os
import shutil
from pathlib import Path

import pytest
import torch

os.environ.setdefault('HF_HUB_OFFLINE', '1')

import mmhybrid  # noqa: E402,F401  (registers modules)
from mmengine.logging import MessageHub, MMLogger  # noqa: E402


REPO = Path(__file__).resolve().parents[1]


def load_script(relative_path: str):
    """The module of a script of the repository that is not a package module
    (``tools/...py``), loaded from its file."""
    path = REPO / relative_path
    spec = importlib.util.spec_from_file_location(path.stem + '_script', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def max_iters():
    """CosineEMA reads ``max_iters`` from the MessageHub (the Runner sets it)."""
    hub = MessageHub.get_current_instance()
    hub.update_info('max_iters', 100)
    yield 100


@pytest.fixture
def logged():
    """The messages mmengine's current logger emits during the test."""
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield messages
    logger.removeHandler(handler)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _default_scope():
    """Each test starts in mmpretrain's scope, and a Runner built by one test
    (default_scope='mmdet', 'mmseg', ...) does not leak its scope into the next."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        yield


@pytest.fixture(scope='session')
def tiny_demo(tmp_path_factory):
    """A tiny demo world (real Fashion-MNIST garments) built once per session."""
    from mmhybrid.datasets.fashion_demo.builder import DemoParams, build_fashion_demo
    out = tmp_path_factory.mktemp('demo') / 'fashion_demo'
    build_fashion_demo(str(out), DemoParams(num_train=48, num_val=8, num_unlabelled=16,
                                            num_cls_train=60, num_cls_test=20,
                                            num_objects=20),
                       log=lambda msg: None)
    return out


def _tiny_dense_world(tmp_path_factory, name):
    """:func:`tiny_demo` with a tiny dense scene set ``name`` (``scenes_<name>/``:
    8 train, 3 val, 3 test scenes)."""
    import dataclasses

    from mmhybrid.datasets.fashion_demo import DENSE_SCENE_STYLES
    from mmhybrid.datasets.fashion_demo.builder import DemoParams, build_fashion_demo
    tiny = dataclasses.replace(DENSE_SCENE_STYLES[name], num_train=8, num_val=3,
                               num_test=3)
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(DENSE_SCENE_STYLES, name, tiny)
        out = tmp_path_factory.mktemp(f'demo_{name}') / 'fashion_demo'
        build_fashion_demo(str(out), DemoParams(
            num_train=48, num_val=8, num_unlabelled=16, num_cls_train=60,
            num_cls_test=20, num_objects=20, dense_scenes=name), log=lambda msg: None)
    return out


@pytest.fixture(scope='session')
def tiny_demo_v2(tmp_path_factory):
    """:func:`tiny_demo` with a tiny dense scene set v2 (``scenes_v2/``)."""
    return _tiny_dense_world(tmp_path_factory, 'v2')


@pytest.fixture(scope='session')
def tiny_demo_v3(tmp_path_factory):
    """:func:`tiny_demo` with a tiny dense scene set v3 (``scenes_v3/``)."""
    return _tiny_dense_world(tmp_path_factory, 'v3')


@pytest.fixture
def demo(tiny_demo, tmp_path):
    """A writable copy of :func:`tiny_demo` (tests that write splits into it)."""
    root = tmp_path / 'demo'
    shutil.copytree(tiny_demo, root)
    return root
