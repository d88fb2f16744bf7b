"""Every packaged pre-training config builds exactly the views its model reads."""
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

PRETRAIN = Path(__file__).resolve().parents[2] / 'configs' / 'pretrain'
CONFIGS = sorted(str(p.relative_to(PRETRAIN)) for p in PRETRAIN.rglob('*.py'))


def hybrid_views(dataset_cfg):
    """The ``views`` of every HybridViews transform in a dataset config."""
    if 'datasets' in dataset_cfg:
        return [v for d in dataset_cfg['datasets'] for v in hybrid_views(d)]
    return [tuple(t['views']) for t in dataset_cfg['pipeline']
            if t['type'] == 'HybridViews']


@pytest.mark.parametrize('name', CONFIGS)
def test_pipeline_builds_exactly_the_views_the_model_reads(name):
    cfg = Config.fromfile(str(PRETRAIN / name))
    model_cfg = cfg.model.to_dict()
    # the plan does not depend on the backbone's size: build a small one
    model_cfg['backbone'].update(arch='tiny')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(model_cfg)
    views = hybrid_views(cfg.train_dataloader.dataset)
    assert views, f'{name}: no HybridViews in the train pipeline'
    assert all(v == model.required_views for v in views), (name, views,
                                                           model.plan.describe())
