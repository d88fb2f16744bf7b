"""HybridPretrain against mmpretrain's single-task models, and its own contract."""
import copy

from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmpretrain.registry import MODELS

from tests.test_models import tiny_models as tm


ABLATIONS = Path(__file__).resolve().parents[3] / 'configs' / 'pretrain' / 'ablations'


def build_hybrid(**kwargs):
    cfg = dict(type='HybridPretrain', backbone=tm.swin())
    cfg.update(kwargs)
    return MODELS.build(cfg)


def build_ablation(name, **tiny_tasks):
    """The model of a packaged single-task ablation config with tiny modules: the
    recipe (view mode, symmetry, inputs, loss weights) is the config's own."""
    cfg = Config.fromfile(str(ABLATIONS / name)).model.to_dict()
    assert [t for t in ('mim', 'contrastive', 'multilabel') if cfg.get(t)] == list(tiny_tasks)
    cfg.pop('data_preprocessor')
    cfg.update(backbone=tm.swin(), **tiny_tasks)
    return MODELS.build(cfg)


def load_renamed(dst, src, mapping):
    """Copy ``src``'s state into ``dst`` with key prefixes renamed; all of ``dst``
    except the explicitly allowed keys must be covered."""
    state = {}
    for key, value in src.state_dict().items():
        for old, new in mapping.items():
            if key.startswith(old):
                key = new + key[len(old):]
                break
        state[key] = value
    missing, unexpected = dst.load_state_dict(state, strict=False)
    assert not unexpected, unexpected
    return [k for k in missing if k != 'num_skipped_steps']  # ours only


def test_mim_only_equals_simmim():
    simmim = MODELS.build(dict(type='SimMIM', backbone=tm.swin(), **tm.mim()))
    hybrid = build_ablation('hybrid-mim-only_swin-b.py', mim=tm.mim())
    assert type(hybrid.balancer).__name__ == 'FixedTaskWeights'
    missing = load_renamed(hybrid, simmim, {'neck.': 'mim_neck.', 'head.': 'mim_head.'})
    assert missing == []
    inputs, samples = tm.batch(views=1)
    ref = simmim.loss(inputs[0], samples)['loss']
    out = hybrid.loss(inputs, samples)
    assert torch.allclose(out['loss_mim'], ref, atol=1e-6)
    assert torch.allclose(out['raw_mim'], ref, atol=1e-6)
    assert set(out) == {'loss_mim', 'raw_mim', 'weight_mim'}


def test_contrastive_only_equals_mocov3(max_iters):
    con = tm.contrastive()
    mocov3 = MODELS.build(dict(type='MoCoV3', backbone=tm.swin('SwinTransformer'),
                               neck=con['neck'], head=con['head'],
                               base_momentum=con['base_momentum']))
    hybrid = build_ablation('hybrid-contrastive-only_swin-b.py', contrastive=con)
    assert hybrid.view_mode == 'separate' and hybrid.required_views == ('view1', 'view2')
    assert type(hybrid.balancer).__name__ == 'FixedTaskWeights'
    missing = load_renamed(hybrid, mocov3, {'neck.': 'con_neck.', 'head.': 'con_head.'})
    # SimMIM's mask token exists only in ours (online and momentum copies).
    assert sorted(missing) == ['backbone.mask_token',
                               'momentum_encoder.module.0.mask_token']
    (v1, v2), samples = tm.batch(views=2)
    mocov3.train(), hybrid.train()
    ref = mocov3.loss([v1, v2], samples)['loss']
    out = hybrid.loss([v1, v2], [s.set_metainfo(dict(view_names=('view1', 'view2')))
                                 or s for s in samples])
    assert torch.allclose(out['loss_contrastive'], ref, atol=1e-6)
    # the momentum encoders moved identically
    for (k, a), b in zip(mocov3.momentum_encoder.state_dict().items(),
                         [v for k2, v in hybrid.momentum_encoder.state_dict().items()
                          if 'mask_token' not in k2]):
        assert torch.allclose(a, b, atol=1e-6), k


def test_multilabel_only_equals_image_classifier():
    ml = tm.multilabel('MultiLabelLinearClsHead')
    classifier = MODELS.build(dict(type='ImageClassifier', backbone=tm.swin('SwinTransformer'),
                                   neck=ml['neck'], head=ml['head']))
    hybrid = build_ablation('hybrid-multilabel-only_swin-b.py', multilabel=tm.multilabel())
    assert type(hybrid.balancer).__name__ == 'FixedTaskWeights'
    missing = load_renamed(hybrid, classifier, {'head.': 'cls_head.'})
    assert missing == ['backbone.mask_token']
    inputs, samples = tm.batch(views=1)
    ref = classifier.loss(inputs[0], samples)['loss']
    out = hybrid.loss(inputs, samples)
    assert torch.allclose(out['loss_multilabel'], ref, atol=1e-6)


def all_tasks(**kwargs):
    return build_hybrid(mim=tm.mim(), contrastive=tm.contrastive(),
                        multilabel=tm.multilabel(), **kwargs)


def named(samples, names):
    for s in samples:
        s.set_metainfo(dict(view_names=names))
    return samples


def batch_for(model, **kwargs):
    """A batch holding exactly the views ``model`` reads."""
    names = model.required_views
    inputs, samples = tm.batch(views=len(names), **kwargs)
    return inputs, named(samples, names)


def count_passes(model, inputs, samples):
    """Number of (online, momentum) backbone forward passes in one loss call."""
    calls = {'online': 0, 'momentum': 0}
    h1 = model.backbone.register_forward_hook(
        lambda *a: calls.__setitem__('online', calls['online'] + 1))
    h2 = model.momentum_encoder.module[0].register_forward_hook(
        lambda *a: calls.__setitem__('momentum', calls['momentum'] + 1))
    model.loss(inputs, samples)
    h1.remove(), h2.remove()
    return calls['online'], calls['momentum']


@pytest.mark.parametrize('kwargs,passes', [
    (dict(view_mode='shared'), (1, 1)),
    (dict(view_mode='shared', symmetric=True), (2, 2)),
    (dict(view_mode='shared', label_input='unmasked'), (2, 1)),
    (dict(view_mode='shared', label_input='unmasked', query_input='unmasked'), (2, 1)),
    (dict(view_mode='separate'), (3, 2))])
def test_backbone_passes_per_view_mode(max_iters, kwargs, passes):
    model = all_tasks(**kwargs)
    assert count_passes(model, *batch_for(model)) == passes
    assert len(model.plan.online) == passes[0]
    assert len(model.plan.momentum) == passes[1]


TASK_SETS = [('mim', ), ('contrastive', ), ('multilabel', ), ('mim', 'contrastive'),
             ('mim', 'multilabel'), ('contrastive', 'multilabel'),
             ('mim', 'contrastive', 'multilabel')]
VIEW_MODES = [dict(view_mode='shared'), dict(view_mode='shared', symmetric=True),
              dict(view_mode='separate')]
TASK_MODULES = dict(mim=('mim_neck.', 'mim_head.'), contrastive=('con_neck.', 'con_head.'),
                    multilabel=('cls_head.', ))


def build_tasks(tasks, **kwargs):
    cfgs = dict(mim=tm.mim(), contrastive=tm.contrastive(), multilabel=tm.multilabel())
    return build_hybrid(**{t: cfgs[t] for t in tasks}, **kwargs)


# symmetric=True without the contrastive task is refused (test_unused_options_...)
TASKS_AND_MODES = [(t, m) for t in TASK_SETS for m in VIEW_MODES
                   if 'contrastive' in t or not m.get('symmetric')]


@pytest.mark.parametrize('tasks,mode', TASKS_AND_MODES, ids=lambda x: (
    '+'.join(x) if isinstance(x, tuple) else '-'.join(map(str, x.values()))))
def test_every_task_set_and_view_mode_trains(max_iters, tasks, mode):
    model = build_tasks(tasks, **mode)
    plan = model.plan
    inputs, samples = batch_for(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    before = model.backbone.patch_embed.projection.weight.detach().clone()
    total, log = model.parse_losses(model.loss(inputs, samples))
    total.backward()
    assert torch.isfinite(total)
    assert all(torch.isfinite(log[f'raw_{t}']) for t in tasks)
    assert set(k[4:] for k in log if k.startswith('raw_')) == set(tasks)
    # gradients reach exactly what the plan reads: the backbone, the mask token
    # iff a pass is masked, the heads of the enabled tasks; never the momentum
    # encoder
    grads = {n for n, p in model.named_parameters()
             if p.grad is not None and p.grad.abs().sum() > 0}
    assert any(n.startswith('backbone.patch_embed.') for n in grads)
    assert ('backbone.mask_token' in grads) == plan.uses_mask == ('mim' in tasks)
    assert not any(n.startswith('momentum_encoder.') for n in grads)
    for task, prefixes in TASK_MODULES.items():
        reached = any(n.startswith(prefixes) for n in grads)
        assert reached == (task in tasks), (task, plan.describe())
    optimizer.step()
    assert not torch.equal(before, model.backbone.patch_embed.projection.weight)
    # the plan reads what the view mode promises
    assert (plan.mim is not None) == ('mim' in tasks)
    assert (plan.labels is not None) == ('multilabel' in tasks)
    if 'contrastive' in tasks:
        separate = mode['view_mode'] == 'separate'
        assert len(plan.queries) == (2 if separate or mode.get('symmetric') else 1)
        if separate:  # MoCo v3: unmasked view1/view2, each keyed by the other
            assert [(str(p), k) for p, k in plan.queries] == [('view1', 'view2'),
                                                              ('view2', 'view1')]
    else:
        assert plan.queries == () and plan.momentum == ()


def test_plan_is_logged_and_reads_like_the_recipe(logged):
    model = all_tasks()
    expected = ('online 1: masked +mask -> mim, query(key view1), labels; '
                'momentum 1: view1 -> key')
    assert model.plan.describe() == expected
    assert any(expected in m for m in logged)
    assert all_tasks(label_input='unmasked').plan.describe() == (
        'online 1: masked +mask -> mim, query(key view1); '
        'online 2: masked -> labels; momentum 1: view1 -> key')


def test_plan_rejects_masked_queries_in_separate_mode():
    with pytest.raises(ValueError, match="query_input='masked'"):
        all_tasks(view_mode='separate', query_input='masked')
    with pytest.raises(ValueError, match='label_input'):
        all_tasks(label_input='partly')


@pytest.mark.parametrize('tasks,kwargs,message', [
    (('mim', 'contrastive', 'multilabel'), dict(view_mode='separate', symmetric=True),
     r"symmetric=True .*view_mode='separate'"),
    (('mim', 'multilabel'), dict(symmetric=True),
     r"symmetric=True .*view_mode='shared'.*contrastive"),
    (('mim', 'contrastive', 'multilabel'), dict(view_mode='separate',
                                                query_input='unmasked'),
     r"query_input='unmasked' .*view_mode='separate'.*unmasked view1 and view2"),
    (('mim', 'multilabel'), dict(query_input='unmasked'),
     r"query_input='unmasked' .*view_mode='shared'.*no contrastive query"),
    (('mim', 'multilabel'), dict(view_mode='separate', query_input='unmasked'),
     r"query_input='unmasked' .*view_mode='separate'"),
    (('mim', 'contrastive'), dict(label_input='unmasked'),
     r"label_input='unmasked' .*view_mode='shared'.*no label head"),
    (('contrastive', ), dict(view_mode='separate', label_input='masked'),
     r"label_input='masked' .*view_mode='separate'"),
    (('contrastive', 'multilabel'), dict(label_input='masked'),
     r"label_input='masked' .*view_mode='shared'.*no mask"),
    (('contrastive', 'multilabel'), dict(query_input='masked'),
     r"query_input='masked' .*view_mode='shared'.*no mask"),
])
def test_unused_options_are_refused_naming_option_and_mode(tasks, kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_tasks(tasks, **kwargs)


@pytest.mark.parametrize('task,extra', [
    ('mim', dict(loss_weight=2.0)),
    ('contrastive', dict(end_momentum=1.0)),
    ('contrastive', dict(base_momentun=0.99)),  # typo
    ('multilabel', dict(nekc=dict(type='GlobalAveragePooling')))])
def test_unknown_task_dict_keys_are_refused(task, extra):
    cfgs = dict(mim=tm.mim(), contrastive=tm.contrastive(), multilabel=tm.multilabel())
    cfgs[task] = dict(cfgs[task], **extra)
    key, = extra
    with pytest.raises(ValueError, match=rf"unknown key\(s\) \['{key}'\] in {task}="
                       r'dict\(\.\.\.\); ' + task + r' accepts \['):
        build_hybrid(**cfgs)


def test_task_dict_without_its_head_is_refused():
    with pytest.raises(ValueError, match=r"mim=dict\(\.\.\.\) needs \['head'\]"):
        build_hybrid(mim=dict(neck=tm.mim()['neck']))


def test_masked_pass_without_mask_names_the_mask_generator(max_iters):
    model = build_hybrid(mim=tm.mim())
    inputs, samples = batch_for(model)
    for s in samples:
        del s.mask
    with pytest.raises(ValueError, match=r'carry no mask.*HybridViews\.mask_generator'):
        model.loss(inputs, samples)


def test_unmasked_plan_trains_without_masks(max_iters):
    """multilabel and contrastive in shared mode read the 'masked' crop without
    its mask: a pipeline without mask_generator serves them."""
    model = build_tasks(('contrastive', 'multilabel'))
    inputs, samples = batch_for(model)
    for s in samples:
        del s.mask
    out = model.loss(inputs, samples)
    assert all(torch.isfinite(v) for v in out.values())


def record_head_inputs(model):
    """Record, per module, the backbone pass (view index, masked) its input came
    from: forward hooks tag every backbone output with the pass that made it."""
    seen, tags = {}, {}

    def tag_backbone(module, args, output):
        x, mask = args[0], args[1] if len(args) > 1 else None
        tags[id(output[-1])] = (x.data_ptr(), mask is not None)

    def reader(name):
        def hook(module, args):
            seen[name] = tags.get(id(args[0][-1]), tags.get(id(args[0])))
        return hook

    handles = [model.backbone.register_forward_hook(tag_backbone)]
    if hasattr(model, 'cls_neck'):
        handles.append(model.cls_neck.register_forward_pre_hook(reader('labels')))
    if hasattr(model, 'con_neck'):
        handles.append(model.con_neck.register_forward_pre_hook(reader('query')))
    return seen, handles


@pytest.mark.parametrize('label_input', ['masked', 'unmasked'])
@pytest.mark.parametrize('query_input', ['masked', 'unmasked'])
def test_heads_read_the_configured_inputs(max_iters, label_input, query_input):
    model = all_tasks(label_input=label_input, query_input=query_input)
    inputs, samples = batch_for(model)
    seen, handles = record_head_inputs(model)
    model.loss(inputs, samples)
    for h in handles:
        h.remove()
    masked_view = inputs[model.required_views.index('masked')].data_ptr()
    assert seen['labels'] == (masked_view, label_input == 'masked')
    assert seen['query'] == (masked_view, query_input == 'masked')


def test_separate_mode_labels_read_unmasked_view1(max_iters):
    model = all_tasks(view_mode='separate')
    inputs, samples = batch_for(model)
    seen, handles = record_head_inputs(model)
    model.loss(inputs, samples)
    for h in handles:
        h.remove()
    assert seen['labels'] == (inputs[1].data_ptr(), False)  # view1, no mask


@pytest.mark.parametrize('label_input,view,masked,online', [
    (None, 'view1', False, 3),  # default: reuse MoCo v3's view1 pass
    ('unmasked', 'masked', False, 4),  # the weak crop, as in shared mode
    ('masked', 'masked', True, 3)])  # the MIM pass
def test_separate_mode_label_input(max_iters, label_input, view, masked, online):
    """label_input means the same crop in both view modes: 'unmasked' is the
    'masked' (weak) crop without its mask, never the strongly augmented view1."""
    model = all_tasks(view_mode='separate', label_input=label_input)
    inputs, samples = batch_for(model)
    seen, handles = record_head_inputs(model)
    assert count_passes(model, inputs, samples) == (online, 2)
    for h in handles:
        h.remove()
    index = model.required_views.index(view)
    assert seen['labels'] == (inputs[index].data_ptr(), masked)
    assert seen['query'][1] is False  # MoCo v3's queries stay unmasked


def test_symmetric_loss_is_the_sum_of_both_pairs(max_iters):
    """shared + symmetric: query(masked) vs key(view1) + query(view1) vs key(masked)."""
    model = build_hybrid(contrastive=tm.contrastive(), symmetric=True).eval()
    inputs, samples = batch_for(model)
    masked, view1 = inputs
    with torch.no_grad():
        out = model.task_losses(inputs, samples)['contrastive']
        q_m = model._query(model.backbone(masked, None))
        q_1 = model._query(model.backbone(view1, None))
        k_m, k_1 = model._key(masked), model._key(view1)
        head = model.con_head
        expected = head.loss(q_m, k_1) + head.loss(q_1, k_m)
        one_pair = head.loss(q_m, k_1)
    assert torch.allclose(out, expected, atol=1e-6)
    assert not torch.allclose(out, one_pair, atol=1e-3)


@pytest.mark.parametrize('view_mode', ['shared', 'separate'])
@pytest.mark.parametrize('balancer', ['FixedTaskWeights', 'UncertaintyTaskWeights'])
def test_train_step_updates_all_state(max_iters, view_mode, balancer):
    model = all_tasks(view_mode=view_mode, loss_balancer=dict(type=balancer))
    inputs, samples = batch_for(model)
    data = dict(inputs=inputs, data_samples=samples)
    before = copy.deepcopy(model.state_dict())
    wrapper = build_optim_wrapper(model, dict(optimizer=dict(type='AdamW', lr=1e-3)))
    # step 1 copies the online weights into the momentum encoder (CosineEMA's
    # first update), step 2 moves it towards the updated online weights.
    model.train_step(data, wrapper)
    log = model.train_step(data, wrapper)
    after = model.state_dict()
    for task in ('mim', 'contrastive', 'multilabel'):
        assert torch.isfinite(log[f'raw_{task}']) and f'weight_{task}' in log
    changed = lambda k: not torch.equal(before[k], after[k])  # noqa: E731
    assert changed('backbone.patch_embed.projection.weight')
    assert changed('momentum_encoder.module.0.patch_embed.projection.weight')
    assert int(after['momentum_encoder.steps']) == 2
    assert changed('mim_neck.decoder.0.weight') and changed('cls_head.fc.weight')
    if balancer == 'UncertaintyTaskWeights':
        assert changed('balancer.log_vars')
    # the momentum encoder is an EMA, not a copy of the online weights
    assert not torch.equal(after['backbone.patch_embed.projection.weight'],
                           after['momentum_encoder.module.0.patch_embed.projection.weight'])


def test_missing_view_is_a_clear_error(max_iters):
    model = all_tasks(view_mode='separate')
    inputs, samples = tm.batch(views=2)
    with pytest.raises(ValueError, match=r"missing \['view2'\]"):
        model.loss(inputs, named(samples, ('masked', 'view1')))


def test_view_built_but_not_read_is_a_clear_error(max_iters):
    model = all_tasks(view_mode='shared')
    inputs, samples = tm.batch(views=3)
    with pytest.raises(ValueError, match=r"built but never read: \['view2'\].*"
                       r"HybridViews\(views=\('masked', 'view1'\)\)"):
        model.loss(inputs, named(samples, ('masked', 'view1', 'view2')))


def test_mask_token_frozen_without_mim():
    model = build_hybrid(contrastive=tm.contrastive())
    assert not model.backbone.mask_token.requires_grad


def test_unlabelled_batch_gives_zero_label_loss(max_iters):
    model = all_tasks()
    inputs, samples = batch_for(model, labels=(None, ))
    out = model.loss(inputs, samples)
    assert out['raw_multilabel'].item() == 0.0
    assert all(torch.isfinite(v) for v in out.values())


def test_predict_scores_unmasked_features():
    model = build_hybrid(mim=tm.mim(), multilabel=tm.multilabel()).eval()
    inputs, samples = tm.batch(views=1)
    with torch.no_grad():
        out = model(inputs, samples, mode='predict')
        logits = model.cls_head(model.cls_neck(model.backbone(inputs[0], None)))
        masked = model.cls_head(model.cls_neck(model.backbone(
            inputs[0], torch.stack([s.mask for s in samples]))))
    scores = torch.stack([o.pred_score for o in out])
    assert torch.allclose(scores, torch.sigmoid(logits), atol=1e-6)
    assert not torch.allclose(scores, torch.sigmoid(masked), atol=1e-3)


def test_predict_needs_the_label_head():
    with pytest.raises(RuntimeError, match='multilabel'):
        build_hybrid(mim=tm.mim()).predict(torch.zeros(1, 3, tm.IMG, tm.IMG))


def record_pass_inputs(model):
    """(side, masked) of every online and momentum backbone pass."""
    online, momentum = [], []
    handles = [
        model.backbone.register_forward_pre_hook(
            lambda m, args: online.append((args[0].shape[-1], args[1] is not None))),
        model.momentum_encoder.module[0].register_forward_pre_hook(
            lambda m, args: momentum.append(args[0].shape[-1]))]
    return online, momentum, handles


def test_resize_views_keeps_scale_one_and_antialiases():
    from mmhybrid.models.algorithms.hybrid_pretrain import resize_views
    x = torch.randn(2, 3, 32, 32)
    assert resize_views(x, 1.) is x
    half = resize_views(x, 0.5)
    assert half.shape == (2, 3, 16, 16)
    # antialiased: a pattern finer than the new grid averages out instead of
    # aliasing into the smaller view (sampling every other pixel keeps it)
    # (stripes of period 6 at a quarter: plain bilinear keeps amplitude 1)
    stripes = torch.tensor([1., 1., 1., -1., -1., -1.] * 8).expand(1, 3, 48, 48)
    assert torch.nn.functional.interpolate(
        stripes, size=(12, 12), mode='bilinear').abs().max() == 1
    assert resize_views(stripes, 0.25).abs().max() < 0.5
    flat = torch.full((1, 3, 32, 32), 0.7)
    torch.testing.assert_close(resize_views(flat, 0.5), torch.full((1, 3, 16, 16), 0.7))
    assert resize_views(torch.randn(1, 3, 30, 20), 0.3).shape == (1, 3, 9, 6)


@pytest.mark.parametrize('unmasked_scale,key_scale', [(0.5, 1.), (1., 0.5), (0.5, 0.5)])
def test_unmasked_passes_and_keys_read_the_scaled_views(max_iters, unmasked_scale,
                                                        key_scale):
    """The recipe's plan (label head and query on an unmasked pass): that pass
    and the momentum key read their view resized, the MIM pass the full view;
    the losses stay finite and every trained parameter gets a gradient."""
    model = all_tasks(label_input='unmasked', query_input='unmasked',
                      unmasked_scale=unmasked_scale, key_scale=key_scale)
    inputs, samples = batch_for(model)
    side = inputs[0].shape[-1]
    online, momentum, handles = record_pass_inputs(model)
    losses = model.loss(inputs, samples)
    for h in handles:
        h.remove()
    assert online == [(side, True), (int(side * unmasked_scale), False)]
    assert momentum == [int(side * key_scale)]
    total = sum(v for k, v in losses.items() if k.startswith('loss_'))
    assert torch.isfinite(total)
    total.backward()
    missing = [n for n, p in model.named_parameters()
               if p.requires_grad and p.grad is None
               and not n.startswith(('momentum_encoder.', 'balancer.'))]
    assert not missing


def test_separate_mode_scales_moco_crops_not_the_mim_pass(max_iters):
    model = all_tasks(view_mode='separate', unmasked_scale=0.5, key_scale=0.5)
    inputs, samples = batch_for(model)
    side = inputs[0].shape[-1]
    online, momentum, handles = record_pass_inputs(model)
    model.loss(inputs, samples)
    for h in handles:
        h.remove()
    assert online == [(side, True), (side // 2, False), (side // 2, False)]
    assert momentum == [side // 2, side // 2]


@pytest.mark.parametrize('kwargs,message', [
    (dict(unmasked_scale=0.), r'unmasked_scale must be in \(0, 1\]'),
    (dict(key_scale=1.5), r'key_scale must be in \(0, 1\]'),
    # the default shared plan reads only the masked pass
    (dict(unmasked_scale=0.5), 'unmasked_scale=0.5 has no effect'),
])
def test_scales_out_of_range_or_without_effect_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        all_tasks(**kwargs)
    with pytest.raises(ValueError, match='key_scale=0.5 has no effect'):
        build_tasks(('mim', 'multilabel'), key_scale=0.5)
