import os

import pytest
import torch

os.environ.setdefault('HF_HUB_OFFLINE', '1')

import mmhybrid  # noqa: E402,F401  (registers modules, checkpoint loader)
from mmengine.logging import MessageHub  # noqa: E402


@pytest.fixture
def max_iters():
    """CosineEMA reads ``max_iters`` from the MessageHub (the Runner sets it)."""
    hub = MessageHub.get_current_instance()
    hub.update_info('max_iters', 100)
    yield 100


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
