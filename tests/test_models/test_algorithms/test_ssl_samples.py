"""HybridPretrain(ssl_samples='unlabelled'): MIM and the contrastive task read
the batch's unlabelled samples alone, the label head every labelled one."""
import pytest
import torch
from mmpretrain.registry import MODELS

from mmhybrid.models.algorithms import hybrid_pretrain
from tests.test_models import tiny_models as tm

# the first and third samples are unlabelled
LABELS = (None, (1, ), None, (0, 4))
UNLABELLED = [0, 2]


def build(**kwargs):
    cfg = dict(type='HybridPretrain', backbone=tm.swin(), mim=tm.mim(),
               contrastive=tm.contrastive(), multilabel=tm.multilabel(),
               label_input='unmasked', query_input='unmasked')
    cfg.update(kwargs)
    return MODELS.build(cfg)


def batch(model, labels=LABELS):
    names = model.required_views
    inputs, samples = tm.batch(views=len(names), labels=labels)
    for s in samples:
        s.set_metainfo(dict(view_names=names))
    return inputs, samples


def test_self_supervised_tasks_read_the_unlabelled_samples_alone():
    """Same weights: the MIM and contrastive losses equal the default model's
    on the unlabelled samples alone, the label loss its loss on the batch."""
    every = build()
    unlabelled = build(ssl_samples='unlabelled')
    unlabelled.load_state_dict(every.state_dict())
    inputs, samples = batch(every)
    out = unlabelled.task_losses(inputs, samples)
    full = every.task_losses(inputs, samples)
    part = every.task_losses([x[UNLABELLED] for x in inputs],
                             [samples[i] for i in UNLABELLED])
    for task in ('mim', 'contrastive'):
        torch.testing.assert_close(out[task], part[task])
        assert not torch.allclose(out[task], full[task]), task
    torch.testing.assert_close(out['multilabel'], full['multilabel'])


def test_passes_only_the_self_supervised_tasks_read_run_on_their_samples():
    """The MIM pass (its only reader) and the momentum keys see the two
    unlabelled samples; the unmasked pass, read by the labels too, all four."""
    model = build(ssl_samples='unlabelled')
    seen = []
    for name, backbone in (('online', model.backbone),
                           ('momentum', model.momentum_encoder.module[0])):
        backbone.register_forward_pre_hook(
            lambda m, args, name=name: seen.append(
                (name, args[0].shape[0], args[1] is not None)))
    inputs, samples = batch(model)
    model.loss(inputs, samples)
    assert sorted(seen) == [('momentum', 2, False), ('online', 2, True),
                            ('online', 4, False)]


def test_the_plan_log_line_names_the_split(logged):
    build(ssl_samples='unlabelled')
    assert any(m.endswith('MIM and the contrastive task on the unlabelled samples')
               for m in logged), logged


def test_default_reads_every_sample():
    model = build()
    assert model.ssl_samples == 'all'
    assert model._ssl_index(batch(model)[1]) is None


@pytest.mark.parametrize('kwargs,message', [
    (dict(ssl_samples='labelled'), "ssl_samples must be one of"),
    (dict(ssl_samples='unlabelled', multilabel=None, label_input=None),
     'needs the multilabel task'),
    (dict(ssl_samples='unlabelled', mim=None, contrastive=None, query_input=None),
     'needs the multilabel task and a self-supervised one'),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build(**kwargs)


def test_a_batch_without_an_unlabelled_sample_is_a_clear_error():
    model = build(ssl_samples='unlabelled')
    inputs, samples = batch(model, labels=((1, ), (0, 4)))
    with pytest.raises(ValueError, match='4 samples holds no unlabelled one'):
        model.loss(inputs, samples)


def test_distributed_training_is_refused(monkeypatch):
    monkeypatch.setattr(hybrid_pretrain, 'is_distributed', lambda: True)
    with pytest.raises(NotImplementedError, match='one process only'):
        build(ssl_samples='unlabelled')
