"""2 gloo CPU processes with the global batch split across them train exactly
like 1 process with the whole batch.

What makes the runs equivalent:

* SyncBN (MoCo v3's projector and predictor) becomes ``GlooSyncBN`` on CPU: batch
  statistics and their gradients over both processes, i.e. BN on the global batch;
* ``PartialMultiLabelLinearClsHead`` averages over the labelled samples of the
  global batch (all-reduced count), whichever rank holds them;
* SimMIM: every sample masks the same number of patches and the ranks hold equal
  batches, so the mean of the ranks' masked-pixel means is the global mean;
* MoCo v3 (``MoCoV3Head``): the keys (momentum encoder, no gradient) are
  all-gathered from all ranks in rank order; each rank's queries are scored
  against that global key set with ``labels = arange(local_batch) + local_batch *
  rank``, so every query sees all global negatives, as in one process (the key
  order differs, the softmax does not depend on it);
* data: ``DefaultSampler(shuffle=True, seed=0)`` draws one permutation shared by
  all ranks and rank r takes positions ``r::2``; with 2 x 2 vs 1 x 4 the union of
  each step's rank batches is the 1-process batch (checked below); views and masks
  are functions of the sample (``deterministic_views``), drop path is 0.

The runs train in float64 (``float64_default``). In float32 the first step
already agrees to the last bit or two of each weight, but two runs that only sum
in a different order (1 x 4 vs 2 x 2, DDP's averaging) do not stay within 1e-4
for 20 steps of this tiny model: AdamW turns the rounding noise of near-zero
gradients (|g| ~ eps = 1e-8 after clipping) into updates that differ by a good
part of the learning rate, and tiny-batch MoCo v3 / BN amplify any difference by
several times per step. That is float32 round-off, not a distributed effect
(one process run with 2 threads instead of 1 drifts by 3e-4 just the same); in
float64 the two runs agree to 1e-12 .. 1e-10 after 20 steps, so any real
difference (per-rank BN statistics, per-rank label averaging, wrong contrastive
labels) stands out by orders of magnitude.
"""
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmpretrain.structures import DataSample

from mmhybrid.models.heads import PartialMultiLabelLinearClsHead
from tests.test_tools.deterministic_views import deterministic_pipeline
from tests.test_tools.train_helpers import (LEARNED_TASK_WEIGHTS, run_tool,
                                            write_tiny_config)

STEPS = 20
# measured in float64 over 6 sessions: losses and weights (worst: BN running
# statistics) agree to 4e-13 .. 8e-11. Repeated runs in one session are bit
# identical; across sessions the SimMIM masks differ (seeded by the absolute
# image path, which includes pytest's tmp folder)
TOL = 1e-8

EXTRA = '''
custom_imports = dict(imports=['mmhybrid', 'tests.test_tools.rank_state_hook',
                               'tests.test_tools.deterministic_views',
                               'tests.test_tools.float64_default'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='DumpRankStateHook'), dict(type='DumpStepLossesHook')]
# SyncBN in MoCo v3's projector and predictor, as the GPU configs have it
model['contrastive']['neck']['norm_cfg'] = dict(type='SyncBN')
model['contrastive']['head']['predictor']['norm_cfg'] = dict(type='SyncBN')
# one shared permutation; rank r takes r::world_size of it
train_dataloader['sampler'] = dict(type='DefaultSampler', shuffle=True, seed=0)
det_pipeline = {pipeline!r}
train_dataloader['dataset']['datasets'][0]['pipeline'] = det_pipeline
train_dataloader['dataset']['datasets'][1]['pipeline'] = det_pipeline
'''


def _max_diff(a, b):
    return (a.double() - b.double()).abs().max().item() if a.numel() else 0.


def test_two_processes_train_like_one_with_the_whole_batch(tiny_demo, tmp_path):
    extra = EXTRA.format(pipeline=deterministic_pipeline(64)) + LEARNED_TASK_WEIGHTS
    one = write_tiny_config(tmp_path / 'one.py', tiny_demo, max_iters=STEPS,
                            batch_size=4, ckpt_interval=STEPS, extra=extra)
    two = write_tiny_config(tmp_path / 'two.py', tiny_demo, max_iters=STEPS,
                            batch_size=2, ckpt_interval=STEPS, extra=extra)
    # CPU processes on any machine (with CUDA, tools/ would train on the GPU)
    cpu = dict(CUDA_VISIBLE_DEVICES='')
    run_tool(['train.py', str(one), '--work-dir', str(tmp_path / 'one')], env=cpu)
    proc = run_tool(['dist_train.sh', str(two), '2', '--work-dir', str(tmp_path / 'two')],
                    env=dict(cpu, PORT='29623'))
    assert 'GlooSyncBN' in proc.stdout + proc.stderr

    single = torch.load(tmp_path / 'one' / 'rank0_steps.pth')
    ranks = [torch.load(tmp_path / 'two' / f'rank{r}_steps.pth') for r in (0, 1)]
    assert len(single) == len(ranks[0]) == len(ranks[1]) == STEPS
    # the data: each step's two rank batches are the 1-process batch
    for step, (s, r0, r1) in enumerate(zip(single, *ranks)):
        assert len(r0['img_paths']) == len(r1['img_paths']) == 2
        assert sorted(r0['img_paths'] + r1['img_paths']) == sorted(s['img_paths']), step
    # the ranks hold different numbers of labelled samples in some steps, so the
    # global average of the label loss is exercised (and steps without labels)
    assert any(r0['num_labelled'] != r1['num_labelled'] for r0, r1 in zip(*ranks))

    # per-step losses (2 processes: the mean over ranks, which DDP optimises)
    keys = single[0]['log_vars'].keys()
    assert {'loss', 'raw_mim', 'raw_contrastive', 'raw_multilabel'} <= set(keys)
    loss_diff = {k: max(abs(s['log_vars'][k] - r['log_vars'][k])
                        for s, r in zip(single, ranks[0])) for k in keys}
    # every rank logs the same means
    assert all(a['log_vars'] == b['log_vars'] for a, b in zip(*ranks))

    # final weights, momentum encoder, balancer and BN statistics
    state1 = torch.load(tmp_path / 'one' / 'rank0_state.pth')
    state2 = [torch.load(tmp_path / 'two' / f'rank{r}_state.pth') for r in (0, 1)]
    assert state1.keys() == state2[0].keys() == state2[1].keys()
    # identical on both ranks, bit for bit (parameters, momentum encoder,
    # balancer's log-variances, BN running statistics)
    for key in state1:
        assert torch.equal(state2[0][key], state2[1][key]), key
    assert any(k.startswith('momentum_encoder.module.1.bn') for k in state1)
    assert 'balancer.log_vars' in state1
    weight_diff = {k: _max_diff(state1[k], state2[0][k]) for k in state1
                   if state1[k].is_floating_point()}
    worst_weight = max(weight_diff.items(), key=lambda kv: kv[1])
    worst_loss = max(loss_diff.items(), key=lambda kv: kv[1])
    print(f'\n{STEPS} steps, 1 x 4 vs 2 x 2: max |loss diff| {worst_loss}, '
          f'max |weight diff| {worst_weight}')
    assert worst_loss[1] < TOL, loss_diff
    assert worst_weight[1] < TOL, worst_weight
    # both runs start from the same weights, and training moved them by far
    # more than TOL (the comparison is not trivially true)
    start1 = torch.load(tmp_path / 'one' / 'rank0_state_start.pth')
    start2 = torch.load(tmp_path / 'two' / 'rank0_state_start.pth')
    assert all(torch.equal(start1[k], start2[k]) for k in start1)
    for key in ('backbone.patch_embed.projection.weight',
                'backbone.stages.3.blocks.0.ffn.layers.1.weight',
                'con_neck.fc0.weight', 'mim_neck.decoder.0.weight',
                'cls_head.fc.weight'):
        moved = _max_diff(state1[key], start1[key])
        assert moved > 1e-3, (key, moved)  # measured: 0.008 .. 0.011
    assert int(state1['momentum_encoder.steps']) == STEPS


# ---------------------------------------------------------------- label head
HEAD = dict(num_classes=5, in_channels=8)
# labels of the 8 samples of the global batch (None = unlabelled); rank 0 holds
# the first 4. Cases: 1 vs 3 labelled, none vs 2, none anywhere, 4 vs 4.
LABELS = [
    [[1], None, None, None, [0, 2], [3], None, [4]],
    [None, None, None, None, [1], None, [2, 3], None],
    [None] * 8,
    [[0], [1], [2], [3], [4], [0, 1], [2], [3, 4]],
]


def _samples(labels):
    return [DataSample() if lab is None else DataSample().set_gt_label(lab)
            for lab in labels]


def _head_grads(head, feats, labels):
    head.zero_grad()
    loss = head.loss((feats, ), _samples(labels))['loss']
    loss.backward()
    return loss.detach(), torch.cat([p.grad.flatten() for p in head.parameters()])


def _head_worker(rank, init, state, feats, expected, results):
    dist.init_process_group('gloo', init_method=init, rank=rank, world_size=2)
    try:
        head = PartialMultiLabelLinearClsHead(**HEAD)
        head.load_state_dict(state)
        for case, labels in enumerate(LABELS):
            local = slice(4 * rank, 4 * rank + 4)
            loss, grads = _head_grads(head, feats[local], labels[local])
            dist.all_reduce(grads)
            grads /= 2  # as DDP averages
            losses = loss.reshape(1).clone()
            dist.all_reduce(losses)
            want_loss, want_grads = expected[case]
            results[(rank, case)] = (_max_diff(grads, want_grads),
                                     abs(losses.item() / 2 - want_loss.item()))
    finally:
        dist.destroy_process_group()


def test_label_head_averages_over_the_labelled_samples_of_the_global_batch(tmp_path):
    head = PartialMultiLabelLinearClsHead(**HEAD)
    feats = torch.randn(8, 8)
    # one process, the whole batch: the mean over its labelled samples
    expected = [_head_grads(head, feats, labels) for labels in LABELS]
    assert expected[2][0] == 0 and not expected[2][1].any()  # no labels: zero
    results = mp.Manager().dict()
    mp.spawn(_head_worker, nprocs=2, join=True,
             args=(f'file://{tmp_path}/rendezvous', head.state_dict(), feats,
                   expected, results))
    assert len(results) == 2 * len(LABELS)
    for key, (grad_diff, loss_diff) in results.items():
        assert grad_diff < 1e-6 and loss_diff < 1e-6, (key, grad_diff, loss_diff)
