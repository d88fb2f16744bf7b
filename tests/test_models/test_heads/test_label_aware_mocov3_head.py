"""LabelAwareMoCoV3Head: MoCo v3's loss with same-class keys of labelled
samples as extra positives; the same loss as MoCoV3Head without labels, on
one rank and on two, and inside HybridPretrain."""
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from mmengine.registry import DefaultScope
from mmpretrain.models.heads import MoCoV3Head
from mmpretrain.registry import MODELS

from mmhybrid.models.heads import LabelAwareMoCoV3Head
from mmhybrid.models.heads.label_aware_mocov3_head import label_positive_targets
from tests.test_models import tiny_models as tm

C = 4
T = 0.2


def heads():
    """The label-aware head and mmpretrain's, with the same predictor."""
    cfg = tm.contrastive(T)['head']
    cfg.pop('type')
    torch.manual_seed(0)
    plain = MoCoV3Head(**cfg)
    aware = LabelAwareMoCoV3Head(
        **dict(cfg, loss=dict(cfg['loss'], use_soft=True)), num_classes=C)
    aware.load_state_dict(plain.state_dict())
    return aware, plain


g = torch.Generator().manual_seed(3)
Q, K = torch.randn(6, 16, generator=g), torch.randn(6, 16, generator=g)
LABELS = [(0, ), None, (1, 2), (0, ), (2, ), None]  # ranks 0 | 1: 0~3, 2~4


def test_targets_weigh_own_key_one_and_others_by_class_overlap():
    local = torch.tensor([[1., 0, 0], [0, 0, 0], [1, 0, 0], [0, 1, 1]])
    soft = label_positive_targets(local, local, 0)
    # same single class: its own key and the other's, half each
    assert torch.allclose(soft[0], torch.tensor([.5, 0, .5, 0]))
    assert torch.allclose(soft[2], torch.tensor([.5, 0, .5, 0]))
    # unlabelled: its own key alone (MoCo v3)
    assert torch.equal(soft[1], torch.tensor([0., 1, 0, 0]))
    # no shared class with anyone: its own key alone
    assert torch.equal(soft[3], torch.tensor([0., 0, 0, 1]))
    # Jaccard: {1, 2} and {2} share one of two classes
    pair = label_positive_targets(torch.tensor([[0., 1, 1], [0, 0, 1]]),
                                  torch.tensor([[0., 1, 1], [0, 0, 1]]), 0)
    assert torch.allclose(pair, torch.tensor([[2 / 3, 1 / 3], [1 / 3, 2 / 3]]))
    # this rank's keys start at the offset among the gathered ones
    shifted = label_positive_targets(local[:2], torch.cat([local[2:], local[:2]]), 2)
    assert torch.allclose(shifted[0], torch.tensor([.5, 0, .5, 0]))
    assert torch.equal(shifted[1], torch.tensor([0., 0, 0, 1]))


@pytest.mark.parametrize('labels', [None, [None] * 6, [(0, ), (1, ), (2, ), (3, ),
                                                       None, None]])
def test_without_a_labelled_pair_it_is_mocov3s_loss(labels):
    """No data samples, no labelled sample, or labelled samples that share no
    class: the target is each query's own key, the loss MoCoV3Head's."""
    aware, plain = heads()
    args = () if labels is None else (tm.label_samples(labels), )
    torch.testing.assert_close(aware.loss(Q, K, *args), plain.loss(Q, K))


def test_with_labelled_pairs_it_is_the_soft_cross_entropy_to_the_targets():
    """With same-class samples in the batch the loss is the soft cross
    entropy against :func:`label_positive_targets` (MoCo v3's scale, the
    loss weight 2T), no longer MoCo v3's."""
    aware, plain = heads()
    data = tm.label_samples(LABELS)
    loss = aware.loss(Q, K, data)
    pred = F.normalize(aware.predictor([Q])[0], dim=1)
    logits = pred @ F.normalize(K, dim=1).t() / T
    local = torch.zeros(6, C)
    for i, label in enumerate(LABELS):
        if label is not None:
            local[i, list(label)] = 1
    soft = label_positive_targets(local, local, 0)
    want = 2 * T * (-(soft * F.log_softmax(logits, 1)).sum(1)).mean()
    torch.testing.assert_close(loss, want)
    assert not torch.allclose(loss, plain.loss(Q, K))


def test_bad_settings_and_inputs_are_named():
    cfg = tm.contrastive(T)['head']
    cfg.pop('type')
    with pytest.raises(ValueError, match='use_soft=True'):
        LabelAwareMoCoV3Head(**cfg, num_classes=C)
    aware, _ = heads()
    with pytest.raises(ValueError, match='outside num_classes=4'):
        aware.loss(Q, K, tm.label_samples([(4, )] + [None] * 5))
    with pytest.raises(ValueError, match='5 data samples for 6 queries'):
        aware.loss(Q, K, tm.label_samples(LABELS[:5]))


def test_two_ranks_equal_one_process_with_the_global_batch(tmp_path):
    """Labels are gathered with the keys: samples 0 and 3 (class 0), 2 and 4
    (class 2) are positives across the two ranks' halves, and the ranks'
    mean loss and gradients are the single process's."""
    aware, _ = heads()
    aware.eval()  # BN1d in the predictor normalises per rank in train mode
    want = aware.loss(Q, K, tm.label_samples(LABELS))
    want.backward()
    want_grads = torch.cat([p.grad.flatten() for p in aware.parameters()])
    state = {k: v.clone() for k, v in aware.state_dict().items()}
    results = mp.Manager().dict()
    mp.spawn(_worker, nprocs=2, join=True,
             args=(f'file://{tmp_path}/init', state, results))
    for rank in range(2):
        loss, grads = results[rank]
        torch.testing.assert_close(loss[0], want.detach())
        torch.testing.assert_close(grads, want_grads)


def _worker(rank, init, state, results):
    dist.init_process_group('gloo', init_method=init, rank=rank, world_size=2)
    try:
        aware, _ = heads()
        aware.load_state_dict(state)
        aware.eval()
        local = slice(3 * rank, 3 * rank + 3)
        loss = aware.loss(Q[local], K[local], tm.label_samples(LABELS[local]))
        loss.backward()
        grads = torch.cat([p.grad.flatten() for p in aware.parameters()])
        dist.all_reduce(grads)
        losses = loss.detach().reshape(1).clone()
        dist.all_reduce(losses)
        results[rank] = (losses / 2, grads / 2)  # as DDP averages
    finally:
        dist.destroy_process_group()


def build_hybrid(head_type):
    contrastive = tm.contrastive(T)
    if head_type == 'LabelAwareMoCoV3Head':
        contrastive['head'].update(type=head_type, num_classes=tm.NUM_CLASSES)
        contrastive['head']['loss']['use_soft'] = True
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        torch.manual_seed(0)
        return MODELS.build(dict(
            type='HybridPretrain', backbone=tm.swin(), mim=tm.mim(),
            contrastive=contrastive, multilabel=tm.multilabel(),
            label_input='unmasked', query_input='unmasked'))


def hybrid_batch(model, labels):
    names = model.required_views
    inputs, data = tm.batch(views=len(names), labels=labels)
    for s in data:
        s.set_metainfo(dict(view_names=names))
    return inputs, data


@pytest.mark.parametrize('labels,same', [((None, (1, ), None, (0, 4)), True),
                                         (((1, ), (1, ), None, (0, 4)), False)])
def test_hybrid_passes_its_samples_to_the_head(labels, same):
    """In HybridPretrain the label-aware head reads the batch's labels: its
    contrastive loss is the plain head's until two samples share a class."""
    aware, plain = build_hybrid('LabelAwareMoCoV3Head'), build_hybrid('MoCoV3Head')
    aware.load_state_dict(plain.state_dict())
    inputs, data = hybrid_batch(plain, labels)
    raw_plain = plain.task_losses(inputs, data)
    raw_aware = aware.task_losses(inputs, data)
    for task in ('mim', 'multilabel'):
        torch.testing.assert_close(raw_aware[task], raw_plain[task])
    assert torch.allclose(raw_aware['contrastive'], raw_plain['contrastive']) == same
