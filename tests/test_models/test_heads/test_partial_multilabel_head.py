"""PartialMultiLabelLinearClsHead: unlabelled samples, per-class partial
labels (``unknown='ignore'`` / ``'negative'``) and the global average."""
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmpretrain.models.heads import MultiLabelLinearClsHead
from mmpretrain.structures import DataSample

from mmhybrid.models.heads import PartialMultiLabelLinearClsHead

C = 5
LOSSES = dict(
    asl=dict(type='AsymmetricLoss', gamma_pos=0.0, gamma_neg=4.0, clip=0.05),
    bce=dict(type='CrossEntropyLoss', use_sigmoid=True))


def head(loss, unknown='negative', cls=PartialMultiLabelLinearClsHead):
    torch.manual_seed(0)
    kwargs = dict(unknown=unknown) if cls is PartialMultiLabelLinearClsHead \
        else {}
    h = cls(num_classes=C, in_channels=8, loss=LOSSES[loss], **kwargs)
    h.init_weights()
    with torch.no_grad():  # not the near-zero init: logits of all sizes
        h.fc.weight.normal_(0, 1)
        h.fc.bias.normal_(0, 1)
    return h


def sample(pos=None, neg=None):
    ds = DataSample()
    if pos is not None:
        ds.set_gt_label(pos)
    if neg is not None:
        ds.set_field(neg, 'gt_negative')
    return ds


def loss_and_grads(h, feats, samples):
    h.zero_grad()
    loss = h.loss((feats, ), samples)['loss']
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in h.parameters()]


FEATS = torch.randn(6, 8, generator=torch.Generator().manual_seed(1))
POSITIVES = [[0, 2], None, [1], [3, 4, 0], None, [2]]


@pytest.mark.parametrize('loss', ['asl', 'bce'])
@pytest.mark.parametrize('unknown', ['negative', 'ignore'])
@pytest.mark.parametrize('negatives_listed', [False, True])
def test_all_classes_known_equals_todays_head_exactly(loss, unknown,
                                                      negatives_listed):
    """Parity: fully labelled samples (no gt_negative), or partial ones whose
    verified negatives are all other classes, give bit-identical loss and
    gradients to mmpretrain's head on the labelled samples."""
    samples = [
        sample(p, None if not negatives_listed or p is None else
               [c for c in range(C) if c not in p]) for p in POSITIVES
    ]
    ours = loss_and_grads(head(loss, unknown), FEATS, samples)
    keep = [i for i, p in enumerate(POSITIVES) if p is not None]
    ref = loss_and_grads(head(loss, cls=MultiLabelLinearClsHead), FEATS[keep],
                         [sample(POSITIVES[i]) for i in keep])
    assert torch.equal(ours[0], ref[0])
    assert all(torch.equal(a, b) for a, b in zip(ours[1], ref[1]))


@pytest.mark.parametrize('loss', ['asl', 'bce'])
def test_ignore_trains_known_classes_only(loss):
    samples = [sample([0], [1]), sample(None), sample([2], [0, 1]),
               sample([], [1, 3])]
    h = head(loss, 'ignore')
    value, (grad_w, grad_b) = loss_and_grads(h, FEATS[:4], samples)
    # class 4 is known in no sample: no gradient reaches it
    assert grad_b[4] == 0 and not grad_w[4].any()
    assert (grad_b[:4] != 0).all()
    # by hand: element-wise loss on known entries, sum / (K / C)
    mask = torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [0, 1, 0, 1, 0]],
                        dtype=torch.float)
    target = torch.tensor([[1, 0, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 0, 0.]])
    with torch.no_grad():
        scores = h(([FEATS[[0, 2, 3]]]))
        elementwise = h.loss_module(scores, target, reduction_override='none')
    expected = (elementwise * mask).sum() / (mask.sum() / C)
    assert torch.allclose(value, expected, rtol=1e-6)


@pytest.mark.parametrize('loss', ['asl', 'bce'])
def test_negative_mode_reads_no_gt_negative(loss):
    with_neg = [sample([0], [1]), sample([2], [0, 1]), sample(None)]
    without = [sample([0]), sample([2]), sample(None)]
    a = loss_and_grads(head(loss, 'negative'), FEATS[:3], with_neg)
    b = loss_and_grads(head(loss, 'negative'), FEATS[:3], without)
    assert torch.equal(a[0], b[0])


def test_nothing_known_gives_a_zero_loss_reaching_every_parameter():
    h = head('asl', 'ignore')
    out = h.loss((FEATS[:2], ), [sample(None), sample([], [])])['loss']
    assert out.item() == 0
    out.backward()
    assert all(p.grad is not None for p in h.parameters())


def test_unknown_must_be_ignore_or_negative():
    with pytest.raises(ValueError, match="'negative' or 'ignore'"):
        PartialMultiLabelLinearClsHead(num_classes=C, in_channels=8,
                                       unknown='skip')


# ---- the average is over the known entries of the global batch --------------

# 8 samples split 4 | 4 over two ranks; the known entries are unevenly spread
GLOBAL = [
    ([0], [1, 2]), (None, None), ([1], None), ([], [4]),
    ([2, 3], [0]), (None, None), (None, None), ([4], [0, 1, 2, 3]),
]


def _samples(part):
    return [sample(p, n) for p, n in part]


def _worker(rank, init, state, feats, expected, results):
    dist.init_process_group('gloo', init_method=init, rank=rank, world_size=2)
    try:
        h = head('asl', 'ignore')
        h.load_state_dict(state)
        local = slice(4 * rank, 4 * rank + 4)
        loss, grads = loss_and_grads(h, feats[local],
                                     _samples(GLOBAL[local]))
        grads = torch.cat([g.flatten() for g in grads])
        dist.all_reduce(grads)
        grads /= 2  # as DDP averages
        losses = loss.reshape(1).clone()
        dist.all_reduce(losses)
        want_loss, want_grads = expected
        results[rank] = ((grads - want_grads).abs().max().item(),
                         abs(losses.item() / 2 - want_loss.item()))
    finally:
        dist.destroy_process_group()


def test_two_ranks_average_over_the_known_entries_of_the_global_batch(
        tmp_path):
    h = head('asl', 'ignore')
    feats = torch.randn(8, 8)
    loss, grads = loss_and_grads(h, feats, _samples(GLOBAL))
    expected = (loss, torch.cat([g.flatten() for g in grads]))
    results = mp.Manager().dict()
    mp.spawn(_worker, nprocs=2, join=True,
             args=(f'file://{tmp_path}/rendezvous', h.state_dict(), feats,
                   expected, results))
    assert len(results) == 2
    for rank, (grad_diff, loss_diff) in results.items():
        assert grad_diff < 1e-6 and loss_diff < 1e-6, (rank, grad_diff,
                                                       loss_diff)


# ---- the teacher term averages over the unlabelled samples of the global batch

def _teacher_loss_and_grads(h, feats, teacher, samples):
    h.zero_grad()
    loss = h.teacher_loss((feats, ), teacher, samples, mode='threshold',
                          threshold=0.6)
    loss.backward()
    return loss.detach(), torch.cat([p.grad.flatten() for p in h.parameters()])


def _teacher_worker(rank, init, state, feats, teacher, expected, results):
    dist.init_process_group('gloo', init_method=init, rank=rank, world_size=2)
    try:
        h = head('asl')
        h.load_state_dict(state)
        local = slice(4 * rank, 4 * rank + 4)
        loss, grads = _teacher_loss_and_grads(h, feats[local], teacher[local],
                                              _samples(GLOBAL[local]))
        dist.all_reduce(grads)
        grads /= 2  # as DDP averages
        losses = loss.reshape(1).clone()
        dist.all_reduce(losses)
        want_loss, want_grads = expected
        results[rank] = ((grads - want_grads).abs().max().item(),
                         abs(losses.item() / 2 - want_loss.item()))
    finally:
        dist.destroy_process_group()


def test_two_ranks_teacher_loss_averages_over_the_global_unlabelled_samples(
        tmp_path):
    """The unlabelled samples of GLOBAL are spread 1 | 2 over the ranks."""
    h = head('asl')
    feats, teacher = torch.randn(8, 8), 3 * torch.randn(8, C)
    expected = _teacher_loss_and_grads(h, feats, teacher, _samples(GLOBAL))
    assert expected[0] > 0
    results = mp.Manager().dict()
    mp.spawn(_teacher_worker, nprocs=2, join=True,
             args=(f'file://{tmp_path}/rendezvous', h.state_dict(), feats,
                   teacher, expected, results))
    assert len(results) == 2
    for rank, (grad_diff, loss_diff) in results.items():
        assert grad_diff < 1e-6 and loss_diff < 1e-6, (rank, grad_diff,
                                                       loss_diff)
