"""label_map: per-group mAP (mmpretrain's per-class AP) and chance level."""
import pytest
import torch
from mmpretrain.evaluation import AveragePrecision

from mmhybrid.evaluation import label_map, multilabel_targets

# Three classes over four images.
# class 0: positives ranked 1st and 3rd -> AP = (1/1 + 2/3) / 2 = 83.33%
# class 1: its one positive ranked 2nd  -> AP = 1/2 = 50%
# class 2: no positive                  -> AP = 0 (mmpretrain's convention)
SCORES = torch.tensor([[0.9, 0.2, 0.5],
                       [0.8, 0.7, 0.1],
                       [0.3, 0.6, 0.3],
                       [0.1, 0.4, 0.2]])
GT_LABELS = [[0], [], [0, 1], []]


def test_multilabel_targets_are_one_hot_rows():
    targets = multilabel_targets(GT_LABELS, 3)
    assert targets.dtype == torch.float32
    assert targets.tolist() == [[1, 0, 0], [0, 0, 0], [1, 1, 0], [0, 0, 0]]


def test_map_and_chance_per_group_by_hand():
    targets = multilabel_targets(GT_LABELS, 3)
    out = label_map(SCORES, targets, dict(first=[0], pair=[0, 1], last=range(2, 3)))
    assert out['first']['mAP'] == pytest.approx(250 / 3, abs=1e-4)
    assert out['pair']['mAP'] == pytest.approx((250 / 3 + 50) / 2, abs=1e-4)
    assert out['last']['mAP'] == 0
    assert out['first']['chance'] == pytest.approx(50)   # 2 of 4 images
    assert out['pair']['chance'] == pytest.approx(37.5)  # 3 of 8 (image, class)
    assert out['last']['chance'] == 0


def test_default_group_is_mmpretrain_macro_map():
    targets = multilabel_targets(GT_LABELS, 3)
    out = label_map(SCORES, targets)
    assert list(out) == ['all']
    assert out['all']['mAP'] == pytest.approx((250 / 3 + 50 + 0) / 3, abs=1e-4)
    assert out['all']['mAP'] == pytest.approx(
        float(AveragePrecision.calculate(SCORES, targets)), abs=1e-4)
    assert out['all']['chance'] == pytest.approx(100 * 3 / 12)
