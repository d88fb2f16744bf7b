"""The converted checkpoint in the stock Swin configs of mmdet, mmseg and mmpretrain.

A ``configs/pretrain/hybrid_swin-t.py`` checkpoint (Swin-T, window 6 at 192 px;
random weights in HybridPretrain's layout, no training) goes through
``tools/model_converters/extract_backbone.py --window-size 7``. The backbone of
each stock config, read from the installed package's ``.mim/configs`` and given
``init_cfg=dict(type='Pretrained', checkpoint=...)`` as a user would, must then hold
every checkpoint tensor (same name, shape and value; only mmdet's and mmseg's
``norm0``-``norm2``, which their necks' ``out_indices`` add, are not in it) and
compute what our ``HybridSwinTransformer`` computes from the unconverted checkpoint.
Without the conversion, mmengine's loader reports the 12 tables as size mismatches
(mmdet / mmseg) or mmpretrain's load hook stops on SciPy's removed ``interp2d``.
"""
import importlib.util
import io
import runpy
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest
import scipy
import torch
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner.checkpoint import load_state_dict
from mmengine.utils import digit_version
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmseg.registry import MODELS as MMSEG_MODELS

from mmhybrid.downstream import relative_position_index
from mmhybrid.downstream.pretrained_loader import fit_rel_pos_bias_table
from tests.test_downstream.pretrain_checkpoints import (save_pretrain_checkpoint,
                                                        simmim_swin)

REPO = Path(__file__).resolve().parents[2]
CONVERTER = REPO / 'tools' / 'model_converters' / 'extract_backbone.py'
REGISTRIES = dict(mmdet=MMDET_MODELS, mmseg=MMSEG_MODELS,
                  mmpretrain=MMPRETRAIN_MODELS)
# the stock Swin-T configs, window 7 at 224 px (mmseg's crop is 512 px)
STOCK_T = dict(
    mmdet='swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py',
    mmseg='swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py',
    mmpretrain='swin_transformer/swin-tiny_16xb64_in1k.py')
# the 384 px Swin-B configs, window 12
STOCK_B_384 = dict(
    mmseg=('swin/swin-base-patch4-window12-in1k-384x384-pre_upernet_'
           '8xb2-160k_ade20k-512x512.py'),
    mmpretrain='swin_transformer/swin-base_16xb64_in1k-384px.py')
NEW_NORMS = sorted(f'norm{i}.{p}' for i in range(3) for p in ('weight', 'bias'))
TABLE = 'relative_position_bias_table'


def stock_config(library, name):
    """A config file as the installed package ships it."""
    root = Path(importlib.util.find_spec(library).origin).parent
    return Config.fromfile(str(root / '.mim' / 'configs' / name))


def build_backbone(library, name, init_cfg, **overrides):
    """The backbone of a stock config, with ``init_cfg`` and nothing else changed
    (``overrides``: a few arguments on purpose, named by the test)."""
    backbone = stock_config(library, name).model.backbone
    backbone.init_cfg = init_cfg
    backbone.update(overrides)
    with DefaultScope.overwrite_default_scope(library):
        return REGISTRIES[library].build(backbone)


def stock_pretrained(library, checkpoint):
    """The ``init_cfg`` a user writes into the stock config: mmpretrain's generic
    ``Pretrained`` needs the prefix, mmdet's and mmseg's Swin strip it themselves."""
    if library == 'mmpretrain':
        return dict(type='Pretrained', checkpoint=str(checkpoint), prefix='backbone.')
    return dict(type='Pretrained', checkpoint=str(checkpoint))


def build_stock(library, name, checkpoint):
    # mmdet's stock config converts the original Swin repo's keys; ours are
    # mmdet's own layout already (test_mmdets_convert_weights_loads_nothing)
    overrides = dict(convert_weights=False) if library == 'mmdet' else {}
    return build_backbone(library, name, stock_pretrained(library, checkpoint),
                          **overrides)


def checkpoint_tensors(path):
    state_dict = torch.load(path, weights_only=True)['state_dict']
    return {k[len('backbone.'):]: v for k, v in state_dict.items()}


def mmengine_report(model, state_dict):
    """What mmengine's ``load_state_dict`` (the loader of ``Pretrained`` init and of
    ``load_from``) reports loading ``state_dict``: '' when it fits exactly."""
    try:
        load_state_dict(model, dict(state_dict), strict=True)
    except NotImplementedError:  # a RuntimeError too: interp2d, not a report
        raise
    except RuntimeError as error:
        return str(error)
    return ''


def run_converter(args, monkeypatch, capsys):
    monkeypatch.setattr(sys, 'argv', [CONVERTER.name] + [str(a) for a in args])
    runpy.run_path(str(CONVERTER), run_name='__main__')
    return capsys.readouterr().out


@pytest.fixture(scope='module')
def swin_t(tmp_path_factory):
    """A pre-training checkpoint of configs/pretrain/hybrid_swin-t.py's backbone
    (built from that config: Swin-T, 192 px, window 6) with random weights."""
    cfg = Config.fromfile(str(REPO / 'configs/pretrain/hybrid_swin-t.py'))
    arch = cfg.model.backbone
    assert arch.type == 'SimMIMSwinTransformer' and arch.arch == 'tiny'
    backbone = simmim_swin(arch='tiny', img_size=arch.img_size,
                           window_size=arch.stage_cfgs.block_cfgs.window_size,
                           pad_small_map=arch.get('pad_small_map', False))
    assert backbone.stages[0].blocks[0].attn.w_msa.window_size == (6, 6)
    path = tmp_path_factory.mktemp('swin_t') / 'iter_2.pth'
    return save_pretrain_checkpoint(path, backbone)


@pytest.fixture(scope='module')
def converted(swin_t, tmp_path_factory):
    """``extract_backbone.py`` without and with ``--window-size 7``: the paths and
    what the window-7 run printed."""
    out = tmp_path_factory.mktemp('converted')
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as monkeypatch, redirect_stdout(printed):
        for args in ([swin_t, out / 'backbone.pth'],
                     [swin_t, out / 'backbone_w7.pth', '--window-size', '7']):
            monkeypatch.setattr(sys, 'argv', [CONVERTER.name] + [str(a) for a in args])
            runpy.run_path(str(CONVERTER), run_name='__main__')
    return dict(as_trained=out / 'backbone.pth', w7=out / 'backbone_w7.pth',
                printed=printed.getvalue())


def test_the_converter_prints_the_12_resized_tables(converted):
    printed = converted['printed']
    assert 'kept 171 backbone keys' in printed
    assert ('window 7: resized 12 relative_position_bias_tables, wrote 12 '
            'relative_position_index buffers for window 7') in printed
    assert ('  resized backbone.stages.2.blocks.5.attn.w_msa.relative_position_bias'
            '_table: (121, 12) -> (169, 12) (window 6 -> 7, bicubic)') in printed
    assert printed.count('(window 6 -> 7, bicubic)') == 12
    as_trained = checkpoint_tensors(converted['as_trained'])
    w7 = checkpoint_tensors(converted['w7'])
    assert not [k for k in as_trained if k.endswith('relative_position_index')]
    assert sorted(set(w7) - set(as_trained)) == sorted(
        k.replace(TABLE, 'relative_position_index') for k in as_trained
        if k.endswith(TABLE))
    for key, value in as_trained.items():
        if key.endswith(TABLE):
            assert value.shape[0] == 121 and w7[key].shape[0] == 169
            # the loader's function, not a copy of it
            assert torch.equal(w7[key], fit_rel_pos_bias_table(value, 169)[0])
            assert torch.equal(w7[key.replace(TABLE, 'relative_position_index')],
                               relative_position_index(7))
        else:
            assert torch.equal(w7[key], value), key


@pytest.mark.parametrize('library', sorted(STOCK_T))
def test_stock_config_loads_the_converted_checkpoint_whole(library, converted):
    """Every tensor of the converted checkpoint is in the stock backbone with its
    shape and value after ``init_weights``; the backbone's only keys not from the
    checkpoint are mmdet's and mmseg's norm0-2; mmengine's loader reports exactly
    those as missing and nothing else."""
    tensors = checkpoint_tensors(converted['w7'])
    model = build_stock(library, STOCK_T[library], converted['w7'])
    model.init_weights()
    own = model.state_dict()
    expected_new = [] if library == 'mmpretrain' else NEW_NORMS
    assert sorted(set(own) - set(tensors)) == expected_new
    assert sorted(set(tensors) - set(own)) == []
    for key, value in tensors.items():
        assert own[key].shape == value.shape, key
        assert torch.equal(own[key], value), key
    report = mmengine_report(model, tensors)
    if library == 'mmpretrain':
        assert report == ''
    else:
        assert report == ('The model and loaded state dict do not match exactly\n\n'
                          'missing keys in source state_dict: ' +
                          ', '.join(f'norm{i}.{p}' for i in range(3)
                                    for p in ('weight', 'bias')) + '\n')


@pytest.mark.parametrize('library', sorted(STOCK_T))
def test_stock_backbone_computes_what_ours_computes(library, swin_t, converted,
                                                    monkeypatch):
    """The stock backbone from the converted checkpoint and our
    HybridSwinTransformer (same config, type changed) from the unconverted
    pre-training checkpoint, which its loader resizes: the same features. Our load
    never reaches mmpretrain's interp2d resize (made to fail here)."""
    def no_scipy_resize(*args, **kwargs):
        raise AssertionError("mmpretrain's interp2d table resize was called")
    monkeypatch.setattr('mmpretrain.models.backbones.swin_transformer.'
                        'resize_relative_position_bias_table', no_scipy_resize)
    stock = build_stock(library, STOCK_T[library], converted['w7'])
    stock.init_weights()
    expected_new = [] if library == 'mmpretrain' else NEW_NORMS
    ours = build_backbone(
        library, STOCK_T[library],
        dict(type='HybridPretrained', checkpoint=str(swin_t),
             expected_new_keys=expected_new),
        type='HybridSwinTransformer')
    ours.init_weights()
    assert len(ours.load_report.resized) == 12
    assert {note for *_, note in ours.load_report.resized} == \
        {'window 6 -> 7, bicubic'}
    if expected_new:  # the necks' norms are new in both: make them the same
        ours.load_state_dict({k: stock.state_dict()[k] for k in expected_new},
                             strict=False)
    stock.eval()
    ours.eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        theirs, mine = stock(x), ours(x)
    assert len(theirs) == len(mine) == (1 if library == 'mmpretrain' else 4)
    for a, b in zip(theirs, mine):
        assert a.shape == b.shape
        assert (a - b).abs().max() < 1e-4


@pytest.mark.parametrize('library', sorted(STOCK_T))
def test_without_conversion_mmengines_loader_reports_the_tables(library, converted):
    """The unconverted checkpoint as mmengine's ``load_state_dict`` loads it (the
    path of mmpretrain's ``Pretrained`` init and of every library's ``load_from``):
    12 size mismatches and 12 missing index buffers for mmdet's and mmseg's Swin;
    mmpretrain's Swin resizes the tables in a load hook that calls SciPy's
    ``interp2d``, which SciPy 1.14 removed."""
    tensors = checkpoint_tensors(converted['as_trained'])
    model = build_stock(library, STOCK_T[library], converted['as_trained'])
    if library == 'mmpretrain':
        if digit_version(scipy.__version__) < digit_version('1.14.0'):
            pytest.skip('SciPy < 1.14 still has interp2d')
        with pytest.raises(NotImplementedError, match='interp2d'):
            mmengine_report(model, tensors)
        with pytest.raises(NotImplementedError, match='interp2d'):
            model.init_weights()  # the stock Pretrained init: the same call
        return
    report = mmengine_report(model, tensors)
    assert report.count('size mismatch for ') == 12
    assert ('size mismatch for stages.0.blocks.0.attn.w_msa.relative_position_bias_'
            'table: copying a param with shape torch.Size([121, 3]) from checkpoint, '
            'the shape in current model is torch.Size([169, 3])') in report
    missing = report.split('missing keys in source state_dict: ')[1].split('\n')[0]
    assert sorted(missing.split(', ')) == sorted(
        NEW_NORMS + [k.replace(TABLE, 'relative_position_index')
                     for k in tensors if k.endswith(TABLE)])


@pytest.mark.parametrize('library', ['mmdet', 'mmseg'])
def test_mmdet_and_mmseg_swins_own_init_resizes_as_ours(library, converted):
    """What the conversion changes for mmdet's and mmseg's Swin when they load the
    checkpoint themselves (``init_cfg`` on the backbone): their ``init_weights``
    resizes the tables bicubically, as ours, and passes the result to torch's
    ``load_state_dict(strict=False)``, which drops its report: the 12
    ``relative_position_index`` buffers are missing without a word (kept as built).
    Converted or not, the same tables."""
    as_trained = build_stock(library, STOCK_T[library], converted['as_trained'])
    as_trained.init_weights()
    w7 = checkpoint_tensors(converted['w7'])
    for key, value in as_trained.state_dict().items():
        if key in w7:
            assert torch.equal(value, w7[key]), key


def test_mmdets_convert_weights_is_to_be_turned_off(converted):
    """mmdet's stock Swin configs say ``convert_weights=True`` (the original Swin
    repo's keys). Ours are mmdet's layout already: converted again they become
    ``backbone.backbone.*``, match no key, and mmdet's table resizing stops on the
    first of them. Hence ``model.backbone.convert_weights=False`` in README."""
    model = build_backbone('mmdet', STOCK_T['mmdet'],
                           stock_pretrained('mmdet', converted['w7']))
    assert model.convert_weights
    with pytest.raises(KeyError, match='backbone.stages.0.blocks.0.attn.w_msa.'
                       'relative_position_bias_table'):
        model.init_weights()


@pytest.mark.parametrize('library', sorted(STOCK_B_384))
def test_384_configs_load_a_window_12_conversion_whole(library, swin_b_checkpoint,
                                                       tmp_path, monkeypatch,
                                                       capsys):
    """The 384 px Swin-B configs (window 12) and the headline Swin-B (window 6)
    converted with ``--window-size 12``: loaded whole (no forward: Swin-B)."""
    out = tmp_path / 'backbone_w12.pth'
    printed = run_converter([swin_b_checkpoint, out, '--window-size', '12'],
                            monkeypatch, capsys)
    assert printed.count('(window 6 -> 12, bicubic)') == 24
    tensors = checkpoint_tensors(out)
    model = build_stock(library, STOCK_B_384[library], out)
    assert model.stages[0].blocks[0].attn.w_msa.window_size in (12, (12, 12))
    model.init_weights()
    own = model.state_dict()
    expected_new = [] if library == 'mmpretrain' else NEW_NORMS
    assert sorted(set(own) - set(tensors)) == expected_new
    assert sorted(set(tensors) - set(own)) == []
    for key, value in tensors.items():
        assert torch.equal(own[key], value), key
