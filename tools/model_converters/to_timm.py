"""Export the backbone of a HybridPretrain (or extracted) checkpoint to timm.

    python tools/model_converters/to_timm.py \
        work_dirs/hybrid_swin-b/backbone.pth work_dirs/hybrid_swin-b/backbone_timm.pth

The output is a plain state dict for ``timm.models.swin_transformer.SwinTransformer``
built with the printed arguments and ``num_classes=0``; see
:mod:`mmhybrid.downstream.timm_export`.
"""
import argparse
import os
import os.path as osp

os.environ.setdefault('HF_HUB_OFFLINE', '1')

import torch  # noqa: E402

from mmhybrid.downstream import (  # noqa: E402
    extract_backbone, swin_to_timm, timm_swin_kwargs)
from mmhybrid.utils.checkpoint_loading import load_mmengine_checkpoint  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(
        description='Convert our Swin backbone to timm SwinTransformer keys')
    parser.add_argument('checkpoint', help='pre-training or extracted checkpoint')
    parser.add_argument('out', help='output timm state dict')
    return parser.parse_args()


def main():
    args = parse_args()
    checkpoint = load_mmengine_checkpoint(args.checkpoint, map_location='cpu')
    backbone, _ = extract_backbone(checkpoint)
    state_dict = swin_to_timm(backbone['state_dict'])
    if osp.dirname(args.out):
        os.makedirs(osp.dirname(args.out), exist_ok=True)
    torch.save(state_dict, args.out)
    kwargs = ', '.join(f'{k}={v!r}'
                       for k, v in timm_swin_kwargs(backbone['state_dict']).items())
    print(f'saved {len(state_dict)} tensors to {args.out}\n'
          f'timm arguments: {kwargs}\n'
          'load with (img_size and always_partition=pad_small_map as in '
          'pre-training):\n'
          '  model = timm.models.swin_transformer.SwinTransformer(\n'
          f'      img_size=..., always_partition=..., num_classes=0, {kwargs})\n'
          f'  model.load_state_dict(torch.load({args.out!r}), strict=True)\n'
          'or, for Swin-B at 192 px:\n'
          "  timm.create_model('swin_base_patch4_window7_224', pretrained=True, "
          'num_classes=0,\n'
          f'                    pretrained_cfg_overlay=dict(file={args.out!r}), '
          'img_size=192, window_size=6)')


if __name__ == '__main__':
    main()
