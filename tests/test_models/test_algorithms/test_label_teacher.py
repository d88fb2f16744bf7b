"""HybridPretrain's label teacher: an EMA label path on the momentum encoder
whose predictions train the label head on the samples without labels."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

from tests.test_models import tiny_models as tm

TASKS = ('mim', 'contrastive', 'multilabel')
# the first and third samples are unlabelled
LABELS = (None, (1, ), None, (0, 4))


def build(teacher=None, **kwargs):
    multilabel = tm.multilabel()
    if teacher is not None:
        multilabel['teacher'] = teacher
    cfg = dict(type='HybridPretrain', backbone=tm.swin(), mim=tm.mim(),
               contrastive=tm.contrastive(), multilabel=multilabel,
               label_input='unmasked', query_input='unmasked')
    cfg.update(kwargs)
    return MODELS.build(cfg)


def batch(model, seed=0, labels=LABELS):
    names = model.required_views
    inputs, samples = tm.batch(views=len(names), seed=seed, labels=labels)
    for s in samples:
        s.set_metainfo(dict(view_names=names))
    return inputs, samples


@pytest.fixture
def hub(max_iters):
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 10)
    yield hub
    hub.update_info('iter', 0)


def test_teacher_off_leaves_the_losses_as_they_were(hub):
    """Same weights and batch: the tasks' losses are bit-identical with the
    teacher on, and without it there is no teacher term."""
    off = build()
    on = build(teacher=dict())
    missing, unexpected = on.load_state_dict(off.state_dict(), strict=False)
    assert not unexpected and all(k.startswith('label_teacher.') for k in missing)
    inputs, samples = batch(off)
    out_off, out_on = off.loss(inputs, samples), on.loss(inputs, samples)
    assert set(out_off) == {f'{k}_{t}' for k in ('loss', 'raw', 'weight') for t in TASKS}
    assert set(out_on) == set(out_off) | {'loss_teacher', 'raw_teacher', 'weight_teacher'}
    for key, value in out_off.items():
        assert torch.equal(out_on[key], value), key
    assert off.plan.teacher is None and not hasattr(off, 'label_teacher')


def test_plan_reads_the_weak_crop_for_the_teacher_and_the_masked_pass_for_the_student():
    model = build(teacher=dict())
    plan = model.plan
    assert plan.teacher == plan.mim  # the masked pass: no extra online pass
    assert plan.online == build().plan.online
    assert plan.describe().endswith('momentum 2: masked -> labels (teacher)')
    assert 'masked +mask -> mim, labels (student)' in plan.describe()
    # without MIM the student is the label pass; the teacher still reads 'masked'
    model = MODELS.build(dict(type='HybridPretrain', backbone=tm.swin(),
                              contrastive=tm.contrastive(), view_mode='separate',
                              multilabel=dict(tm.multilabel(), teacher=dict())))
    assert model.plan.teacher == model.plan.labels
    assert model.required_views == ('masked', 'view1', 'view2')


def test_unlabelled_samples_give_a_teacher_loss_that_reaches_the_student(hub):
    model = build(teacher=dict(weight=2.0))
    inputs, samples = batch(model)
    out = model.loss(inputs, samples)
    raw = out['raw_teacher']
    assert torch.isfinite(raw) and raw > 0 and not raw.requires_grad
    assert out['weight_teacher'] == 2.0
    assert torch.allclose(out['loss_teacher'], 2.0 * raw)
    model.zero_grad()
    out['loss_teacher'].backward()
    assert model.cls_head.fc.weight.grad.abs().sum() > 0
    assert model.backbone.patch_embed.projection.weight.grad.abs().sum() > 0
    # the teacher and the momentum encoder are not trained by backward
    for name, p in model.named_parameters():
        if name.startswith(('label_teacher.', 'momentum_encoder.')):
            assert not p.requires_grad and p.grad is None, name
    # a batch without unlabelled samples gives none
    inputs, samples = batch(model, labels=((1, ), (0, 4)))
    assert model.loss(inputs, samples)['raw_teacher'] == 0


def head_and_batch():
    head = MODELS.build(tm.multilabel()['head'])
    samples = tm.label_samples(LABELS)
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(len(samples), tm.FINAL, generator=g, requires_grad=True)
    teacher = 3 * torch.randn(len(samples), tm.NUM_CLASSES, generator=g)
    return head, feats, teacher, samples


@pytest.mark.parametrize('mode', ['soft', 'threshold'])
def test_teacher_loss_is_the_unlabelled_samples_loss_alone(mode):
    """Soft: KL toward the teacher's probabilities; threshold: the head's loss
    toward confident pseudo-labels only; summed over classes, averaged over the
    unlabelled samples. Labelled samples get no gradient from it."""
    head, feats, teacher, samples = head_and_batch()
    loss = head.teacher_loss((feats, ), teacher, samples, mode=mode, threshold=0.8)
    unlabelled = [0, 2]
    student, prob = head((feats, ))[unlabelled], teacher[unlabelled].sigmoid()
    if mode == 'soft':  # the KL divergence: cross-entropy less the target entropy
        expected = F.binary_cross_entropy_with_logits(
            student, prob, reduction='sum') - F.binary_cross_entropy_with_logits(
                teacher[unlabelled], prob, reduction='sum')
    else:
        confident = (prob > 0.8) | (prob < 0.2)
        assert 0 < confident.sum() < confident.numel()
        elementwise = F.binary_cross_entropy_with_logits(
            student, (prob > 0.8).float(), reduction='none')
        expected = (elementwise * confident).sum()
    assert torch.allclose(loss, expected / 2)
    loss.backward()
    assert feats.grad[[1, 3]].abs().sum() == 0 and feats.grad[0].abs().sum() > 0
    # only labelled samples: a zero that still reaches the head
    head.zero_grad()
    labelled = [samples[1], samples[3]]
    zero = head.teacher_loss((feats[[1, 3]].detach(), ), teacher[[1, 3]], labelled)
    zero.backward()
    assert zero == 0 and head.fc.weight.grad is not None


def test_teacher_is_an_ema_of_the_label_path(hub):
    model = build(teacher=dict(momentum=0.1))
    inputs, samples = batch(model)
    wrapper = build_optim_wrapper(model, dict(optimizer=dict(type='AdamW', lr=1e-2)))
    online = model.cls_head.fc.weight
    initial = online.detach().clone()
    model.train_step(dict(inputs=inputs, data_samples=samples), wrapper)
    teacher = model.label_teacher.module[1].fc.weight
    # the first update copies the online head (before the optimizer step)
    assert torch.equal(teacher, initial) and not torch.equal(online, initial)
    seen = online.detach().clone()
    model.train_step(dict(inputs=inputs, data_samples=samples), wrapper)
    assert int(model.label_teacher.steps) == 2
    assert not teacher.requires_grad and teacher.grad is None
    # the second moves it toward the online head it saw, by CosineEMA's momentum
    m = 0.1 * (math.cos(math.pi * 1 / 100) + 1) / 2
    assert torch.allclose(teacher, (1 - m) * initial + m * seen, atol=1e-7)
    assert not torch.equal(teacher, online)


def test_ramp_is_zero_at_the_start_and_full_after_ramp_iters(hub):
    model = build(teacher=dict(weight=3.0, ramp_iters=20))
    weights = {}
    for step in (0, 5, 20, 60):
        hub.update_info('iter', step)
        weights[step] = model.teacher_weight()
    assert weights == {0: 0.0, 5: 0.75, 20: 3.0, 60: 3.0}
    hub.update_info('iter', 0)
    out = model.loss(*batch(model))
    assert out['weight_teacher'] == 0 and out['loss_teacher'] == 0
    assert out['raw_teacher'] > 0
    assert build(teacher=dict(weight=3.0)).teacher_weight() == 3.0  # no ramp


@pytest.mark.parametrize('teacher, message', [
    (dict(wieght=1.0), r"unknown key\(s\) \['wieght'\]"),
    (dict(mode='hard'), 'teacher mode'),
    (dict(threshold=0.3), r'threshold must be in \(0.5, 1\)'),
    (dict(ramp_iters=-1), 'ramp_iters'),
])
def test_teacher_settings_are_checked(teacher, message):
    with pytest.raises(ValueError, match=message):
        build(teacher=teacher)


def test_teacher_needs_the_momentum_encoder():
    with pytest.raises(ValueError, match=r"needs the \['contrastive'\] task"):
        MODELS.build(dict(type='HybridPretrain', backbone=tm.swin(), mim=tm.mim(),
                          multilabel=dict(tm.multilabel(), teacher=dict())))


def test_a_skipped_step_leaves_the_teacher_untouched(hub):
    """nonfinite='skip': a step whose loss fails after the momentum update
    restores the label teacher as it restores the momentum encoder."""
    model = build(teacher=dict(), nonfinite='skip')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        wrapper = build_optim_wrapper(model, dict(
            type='SkipNonFiniteOptimWrapper', optimizer=dict(type='AdamW', lr=1e-3)))
    data = dict(zip(('inputs', 'data_samples'), batch(model)))
    model.train_step(data, wrapper)
    model.train_step(dict(zip(('inputs', 'data_samples'), batch(model, seed=1))),
                     wrapper)
    before = {k: v.clone() for k, v in model.label_teacher.state_dict().items()}
    hook = model.con_head.predictor.register_forward_hook(
        lambda m, i, out: tuple(o * float('nan') for o in out))
    log = model.train_step(dict(zip(('inputs', 'data_samples'), batch(model, seed=2))),
                           wrapper)
    hook.remove()
    assert log['skipped_steps'] == 1
    for key, value in model.label_teacher.state_dict().items():
        assert torch.equal(value, before[key]), key
