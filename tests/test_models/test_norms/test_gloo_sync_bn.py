"""GlooSyncBN on 2 gloo CPU processes equals BatchNorm over the whole batch."""
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmcv.cnn import build_norm_layer
from mmengine.registry import DefaultScope
from torch import nn

from mmhybrid.models.norms import GlooSyncBatchNorm

WORLD = 2
# (shape of the full batch, rows of each rank): even, uneven, 4D, one empty rank
CASES = [((8, 6), (4, 4)), ((8, 6), (3, 5)), ((4, 3, 5, 2), (2, 2)),
         ((5, 4), (0, 5))]


def _worker(rank, init, results):
    dist.init_process_group('gloo', init_method=init, rank=rank, world_size=WORLD)
    torch.manual_seed(0)
    try:
        for case, (shape, split) in enumerate(CASES):
            for momentum in (0.1, None):
                x = torch.randn(shape) * 3 + 2
                weight = torch.rand(shape[1]) + 0.5
                bias = torch.randn(shape[1])
                coef = torch.randn(shape)
                # reference: one process, the whole batch
                ref = (nn.BatchNorm1d if x.dim() == 2 else nn.BatchNorm2d)(
                    shape[1], momentum=momentum)
                sbn = GlooSyncBatchNorm(shape[1], momentum=momentum)
                with torch.no_grad():
                    for m in (ref, sbn):
                        m.weight.copy_(weight)
                        m.bias.copy_(bias)
                start = sum(split[:rank])
                local = slice(start, start + split[rank])
                # step 1 (no grad) then step 2 with gradients
                ref(x * 0.5 + 1.)
                sbn((x * 0.5 + 1.)[local])
                xr = x.clone().requires_grad_(True)
                out_ref = ref(xr)
                (out_ref * coef).sum().backward()
                xs = x[local].clone().requires_grad_(True)
                out = sbn(xs)
                # each rank's loss is its part of the reference loss
                (out * coef[local]).sum().backward()
                grads = torch.cat([sbn.weight.grad, sbn.bias.grad])
                dist.all_reduce(grads)  # summed over ranks = whole-batch grads
                checks = {
                    'output': (out, out_ref[local]),
                    'input grad': (xs.grad, xr.grad[local]),
                    'weight grad': (grads[:shape[1]], ref.weight.grad),
                    'bias grad': (grads[shape[1]:], ref.bias.grad),
                    'running_mean': (sbn.running_mean, ref.running_mean),
                    'running_var': (sbn.running_var, ref.running_var),
                }
                for name, (got, want) in checks.items():
                    err = (got - want).abs().max().item() if got.numel() else 0.
                    results[(rank, case, momentum, name)] = err
                assert int(sbn.num_batches_tracked) == int(ref.num_batches_tracked) == 2
                # eval mode: running statistics, no communication, as BN
                sbn.eval(), ref.eval()
                with torch.no_grad():
                    err = (sbn(x[local]) - ref(x)[local]).abs().max().item() \
                        if split[rank] else 0.
                results[(rank, case, momentum, 'eval output')] = err
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_equal_batchnorm_on_the_whole_batch(tmp_path):
    results = mp.Manager().dict()
    mp.spawn(_worker, args=(f'file://{tmp_path}/rendezvous', results),
             nprocs=WORLD, join=True)
    assert len(results) == WORLD * len(CASES) * 2 * 7
    worst = max(results.items(), key=lambda kv: kv[1])
    assert worst[1] < 1e-5, worst
    print('max |GlooSyncBN - BN|:', worst)


def test_without_process_group_it_is_batchnorm_bit_for_bit():
    assert not dist.is_initialized()
    for shape, ref_cls in (((6, 5), nn.BatchNorm1d), ((3, 5, 4, 4), nn.BatchNorm2d)):
        ref, sbn = ref_cls(5), GlooSyncBatchNorm(5)
        sbn.load_state_dict(ref.state_dict())
        x = torch.randn(shape)
        xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
        ya, yb = ref(xa), sbn(xb)
        assert torch.equal(ya, yb)
        ya.pow(2).sum().backward()
        yb.pow(2).sum().backward()
        assert torch.equal(xa.grad, xb.grad)
        assert torch.equal(ref.weight.grad, sbn.weight.grad)
        assert all(torch.equal(a, b) for a, b in
                   zip(ref.state_dict().values(), sbn.state_dict().values()))
    with pytest.raises(ValueError, match='at least 2D'):
        sbn(torch.randn(5))


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmdet', 'mmseg'])
def test_built_by_build_norm_layer_in_every_scope(scope):
    with DefaultScope.overwrite_default_scope(scope):
        name, layer = build_norm_layer(dict(type='GlooSyncBN', affine=False), 7)
    assert name == 'bn' and isinstance(layer, GlooSyncBatchNorm)
    assert layer.weight is None and layer.num_features == 7
    # the checkpoint keys are BN's
    assert set(layer.state_dict()) == set(nn.BatchNorm1d(7, affine=False).state_dict())
