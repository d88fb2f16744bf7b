"""Export the backbone of a HybridPretrain (or extracted) checkpoint to timm.

    python tools/model_converters/to_timm.py \
        work_dirs/hybrid_swin-b/backbone.pth work_dirs/hybrid_swin-b/backbone_timm.pth

The output is a plain state dict for ``timm.models.swin_transformer.SwinTransformer``
built with the printed arguments and ``num_classes=0``; see
:mod:`mmhybrid.downstream.timm_export`.

``--window-size N`` writes the relative position bias tables resized to window
``N`` by our loader's interpolation (bicubic), as ``extract_backbone.py
--window-size`` does. timm needs it: ``SwinTransformer.load_state_dict`` does not
resize (a table of another window is a size mismatch), and ``timm.create_model(...,
pretrained=True)``, whose ``checkpoint_filter_fn`` does resize, interpolates its own
way (BEiT's geometric-progression grid; linear, or SciPy's ``interp2d`` with
``TIMM_USE_SCIPY_INTERP=1``, which SciPy 1.14 removed), so the model would differ
from the mmpretrain / mmdet / mmseg ones. A table already of the model's shape is
left alone by that filter.
"""
import argparse
import os
import os.path as osp

os.environ.setdefault('HF_HUB_OFFLINE', '1')

import torch  # noqa: E402

from mmhybrid.downstream import (  # noqa: E402
    extract_backbone, resize_backbone, swin_to_timm, timm_swin_kwargs)
from mmhybrid.utils.checkpoint_loading import load_mmengine_checkpoint  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(
        description='Convert our Swin backbone to timm SwinTransformer keys')
    parser.add_argument('checkpoint', help='pre-training or extracted checkpoint')
    parser.add_argument('out', help='output timm state dict')
    parser.add_argument('--window-size', type=int, default=None,
                        help='resize every relative position bias table to this '
                        'window (the timm model\'s window_size); default: the '
                        'tables as trained')
    return parser.parse_args()


def main():
    args = parse_args()
    checkpoint = load_mmengine_checkpoint(args.checkpoint, map_location='cpu')
    backbone, _ = extract_backbone(checkpoint)
    resized = []
    if args.window_size is not None:
        backbone['state_dict'], resized = resize_backbone(backbone['state_dict'],
                                                          args.window_size)
    state_dict = swin_to_timm(backbone['state_dict'])
    if osp.dirname(args.out):
        os.makedirs(osp.dirname(args.out), exist_ok=True)
    torch.save(state_dict, args.out)
    swin_kwargs = timm_swin_kwargs(backbone['state_dict'])
    kwargs = ', '.join(f'{k}={v!r}' for k, v in swin_kwargs.items())
    if args.window_size is not None:
        print(f'window {args.window_size}: resized {len(resized)} relative position '
              'bias tables')
    for key, old, new, note in resized:
        print(f'  resized {key}: {old} -> {new} ({note})')
    print(f'saved {len(state_dict)} tensors to {args.out}\n'
          f'timm arguments: {kwargs}\n'
          'load with (img_size: your input size; always_partition: '
          "pre-training's pad_small_map):\n"
          '  model = timm.models.swin_transformer.SwinTransformer(\n'
          f'      img_size=..., always_partition=..., num_classes=0, {kwargs})\n'
          f'  model.load_state_dict(torch.load({args.out!r}), strict=True)\n'
          f'or, for Swin-B (img_size: the size you fine-tune at):\n'
          "  timm.create_model('swin_base_patch4_window7_224', pretrained=True, "
          'num_classes=0,\n'
          f'                    pretrained_cfg_overlay=dict(file={args.out!r}), '
          f'img_size=..., window_size={swin_kwargs["window_size"]})')


if __name__ == '__main__':
    main()
