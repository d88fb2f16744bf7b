"""mmcv's RoIAlign against torchvision's (``RoIAlign(use_torchvision=True)``) on
the demo Mask R-CNN's shapes: forward and backward time, and whether outputs and
gradients agree.

    python tools/benchmarks/roi_align_cost.py                 # CPU, the demo's shapes
    python tools/benchmarks/roi_align_cost.py --rois 512 --channels 256 --device cuda

RoIAlign took about 80% of a demo Mask R-CNN training step on 2 CPU cores
(cProfile of 30 iterations: ``roi_align_forward`` 16.5 s + ``roi_align_backward``
8.0 s of 25.6 s); the demo configs use torchvision's kernel when this shows it
faster and identical.
"""
import argparse
import statistics
import time

import torch
from mmcv.ops import RoIAlign


def random_rois(num: int, images: int, size: int, generator: torch.Generator):
    """``num`` boxes (batch index, x1, y1, x2, y2) of 4-24 px in ``size`` px images."""
    index = torch.randint(0, images, (num, 1), generator=generator).float()
    xy = torch.rand(num, 2, generator=generator) * (size - 24)
    wh = torch.rand(num, 2, generator=generator) * 20 + 4
    return torch.cat([index, xy, xy + wh], 1)


def measure(layer: RoIAlign, feats: torch.Tensor, rois: torch.Tensor, repeats: int):
    """Median forward and forward+backward seconds over ``repeats``."""
    fwd, both = [], []
    for _ in range(repeats + 1):  # the first is a warm-up
        x = feats.detach().requires_grad_()
        start = time.perf_counter()
        out = layer(x, rois)
        fwd.append(time.perf_counter() - start)
        out.sum().backward()
        both.append(time.perf_counter() - start)
    return statistics.median(fwd[1:]), statistics.median(both[1:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rois', type=int, default=256,
                        help='RoIs a step (demo: 8 scenes x 32 sampled)')
    parser.add_argument('--images', type=int, default=8)
    parser.add_argument('--channels', type=int, default=64, help='FPN channels')
    parser.add_argument('--image-size', type=int, default=64)
    parser.add_argument('--stride', type=int, default=4, help='feature stride')
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    gen = torch.Generator().manual_seed(0)
    side = args.image_size // args.stride
    feats = torch.randn(args.images, args.channels, side, side, generator=gen)
    rois = random_rois(args.rois, args.images, args.image_size, gen)
    feats, rois = feats.to(args.device), rois.to(args.device)
    print(f'{args.rois} RoIs on {args.images} x {args.channels} x {side} x {side} '
          f'features (stride {args.stride}), {args.device}, '
          f'{torch.get_num_threads()} threads, median of {args.repeats}')
    print('| output | kernel | forward ms | forward + backward ms | '
          'max |output diff| | max |grad diff| |')
    print('|---|---|---|---|---|---|')
    for size in (7, 14):  # the bbox and the mask RoI extractors
        results = {}
        weight = torch.randn(args.rois, args.channels, size, size,
                             generator=gen).to(args.device)
        for name, torchvision in (('mmcv', False), ('torchvision', True)):
            layer = RoIAlign(size, spatial_scale=1 / args.stride, sampling_ratio=2,
                             aligned=True, use_torchvision=torchvision)
            x = feats.detach().requires_grad_()
            out = layer(x, rois)
            (out * weight).sum().backward()
            results[name] = (out.detach(), x.grad,
                             *measure(layer, feats, rois, args.repeats))
        ref = results['mmcv']
        for name, (out, grad, fwd, both) in results.items():
            diff = ((out - ref[0]).abs().max().item(), (grad - ref[1]).abs().max().item())
            print(f'| {size} x {size} | {name} | {fwd * 1e3:.1f} | {both * 1e3:.1f} | '
                  f'{diff[0]:.3g} | {diff[1]:.3g} |')
        print(f'| {size} x {size} | mmcv / torchvision | '
              f'{ref[2] / results["torchvision"][2]:.2f}x | '
              f'{ref[3] / results["torchvision"][3]:.2f}x | | |')


if __name__ == '__main__':
    main()
