"""The full-scale downstream configs build, and their Swin-B backbones load a
converted pre-training checkpoint with nothing missing."""
import importlib
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

from mmhybrid.engine import adapt_cfg_for_cpu

BENCHMARKS = Path(__file__).resolve().parents[2] / 'configs' / 'benchmarks'
NEW_NORMS = ['norm0.weight', 'norm0.bias', 'norm1.weight', 'norm1.bias',
             'norm2.weight', 'norm2.bias']
# config -> (scope, declared new keys, resized tables: window 6 -> ?)
CONFIGS = {
    'mmdet/mask-rcnn_swin-b-hybrid_fpn_1x_coco.py': ('mmdet', NEW_NORMS, 7),
    'mmdet/mask-rcnn_swin-b-hybrid_fpn_ms-crop-3x_coco.py': ('mmdet', NEW_NORMS, 7),
    'mmseg/upernet_swin-b-hybrid_8xb2-160k_ade20k-512x512.py': ('mmseg', NEW_NORMS, 7),
    'mmpretrain/swin-b-hybrid_8xb256-ft-coslr-100e_in1k-192px.py':
    ('mmpretrain', [], None),
    'mmpretrain/swin-b-hybrid_8xb2048-linear-coslr-90e_in1k-192px.py':
    ('mmpretrain', [], None),
}


def strings(node):
    """Every string in a nested config."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        node = list(node.values())
    if isinstance(node, (list, tuple)):
        return [s for item in node for s in strings(item)]
    return []


def test_every_config_is_covered():
    shipped = {str(p.relative_to(BENCHMARKS)) for p in BENCHMARKS.glob('mm*/*.py')}
    assert shipped == set(CONFIGS)


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_builds_and_loads_swin_b(name, swin_b_checkpoint):
    scope, new_keys, window = CONFIGS[name]
    cfg = Config.fromfile(str(BENCHMARKS / name))
    assert cfg.default_scope == scope
    assert cfg.custom_imports == dict(imports=['mmhybrid.downstream'],
                                      allow_failed_imports=False)
    init_cfg = cfg.model.backbone.init_cfg
    assert cfg.model.backbone.type == 'HybridSwinTransformer'
    assert init_cfg.type == 'HybridPretrained'
    assert init_cfg.checkpoint == cfg.checkpoint == \
        'work_dirs/hybrid_swin-b/backbone.pth'
    assert not [s for s in strings(cfg.model) if s.startswith(('http:', 'https:'))]
    init_cfg.checkpoint = str(swin_b_checkpoint)
    cfg = adapt_cfg_for_cpu(cfg)
    models = importlib.import_module(f'{scope}.registry').MODELS
    with DefaultScope.overwrite_default_scope(scope):
        model = models.build(cfg.model)
    model.backbone.init_weights()
    report = model.backbone.load_report
    assert report.missing == [] and report.unexpected == []
    assert report.expected_new == new_keys
    assert len(report.loaded) == 327  # Swin-B without derived buffers
    tables = [r for r in report.resized if r[0].endswith('bias_table')]
    if window is None:
        assert tables == []
    else:
        assert len(tables) == 24 and all(r[3] == f'window 6 -> {window}, bicubic'
                                         for r in tables)
    if scope == 'mmpretrain':
        assert cfg.model.head.num_classes == 1000
    if 'linear' in name:
        assert cfg.model.backbone.frozen_stages == 3
        assert cfg.optim_wrapper.optimizer.type == 'LARS'
        assert [n.type for n in cfg.model.neck] == [
            'GlobalAveragePooling', 'ClsBatchNormNeck']
        model.train()  # mmpretrain's Swin freezes its stages in train()
        assert not any(p.requires_grad for p in model.backbone.parameters())
    if name.endswith('ft-coslr-100e_in1k-192px.py'):
        assert cfg.optim_wrapper.constructor == \
            'LearningRateDecayOptimWrapperConstructor'
        assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.9
        with DefaultScope.overwrite_default_scope(scope):
            optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        lrs = {group['lr'] for group in optim_wrapper.param_groups}
        assert max(lrs) == 5e-3 and min(lrs) < 5e-3 * 0.9**24  # decayed per layer
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        # mmdet / mmseg keep the Runner's pseudo_collate (tools/train.py adds
        # default_collate only in mmpretrain's scope); a restated collate_fn must
        # not carry the `_scope_` tag the Runner would pass to the function
        if scope == 'mmpretrain':
            assert cfg[loader].collate_fn.type == 'default_collate'
        if 'collate_fn' in cfg[loader]:
            assert '_scope_' not in cfg[loader].collate_fn
