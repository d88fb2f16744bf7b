"""Extract the online backbone of a HybridPretrain checkpoint for downstream use.

    python tools/model_converters/extract_backbone.py \
        work_dirs/hybrid_swin-b/iter_100000.pth work_dirs/hybrid_swin-b/backbone.pth

The output keeps ``backbone.*`` (no momentum encoder, heads, mask token or derived
buffers) and the pre-training label names; see :mod:`mmhybrid.downstream.extract`.

For a stock mmdet / mmseg / mmpretrain Swin config (its own ``SwinTransformer``,
``Pretrained`` init), fit the backbone to that config's window (and image size):

    python tools/model_converters/extract_backbone.py ITER.pth backbone_w7.pth \
        --window-size 7

Every relative position bias table is resized to window 7 exactly as our loader
resizes it (bicubic), each resized tensor is printed, and a
``relative_position_index`` for window 7 is written beside each table, so the
stock load reports no missing, unexpected or mismatched key. Without
``--window-size`` the tables are written as trained.
"""
import argparse
import os
import os.path as osp

os.environ.setdefault('HF_HUB_OFFLINE', '1')

import torch  # noqa: E402

from mmhybrid.downstream import extract_backbone, resize_backbone  # noqa: E402
from mmhybrid.utils.checkpoint_loading import load_mmengine_checkpoint  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(
        description='Keep the online backbone of a pre-training checkpoint')
    parser.add_argument('checkpoint', help='pre-training checkpoint')
    parser.add_argument('out', help='output backbone checkpoint')
    parser.add_argument('--keep-mask-token', action='store_true',
                        help="keep SimMIM's backbone.mask_token")
    parser.add_argument('--window-size', type=int, default=None,
                        help='resize every relative_position_bias_table to this '
                        'window (the target config\'s window_size, e.g. 7, or 12 '
                        'for the 384 px configs) and write relative_position_index '
                        'buffers for it; default: the tables as trained')
    parser.add_argument('--img-size', type=int, nargs='+', default=None,
                        help='resize an absolute_pos_embed (use_abs_pos_embed=True '
                        'only) to this image size (one number, or height width)')
    return parser.parse_args()


def main():
    args = parse_args()
    checkpoint = load_mmengine_checkpoint(args.checkpoint, map_location='cpu')
    backbone, dropped = extract_backbone(checkpoint, args.keep_mask_token)
    img_size = args.img_size[0] if args.img_size and len(args.img_size) == 1 \
        else args.img_size
    resized = []
    if args.window_size is not None or img_size is not None:
        backbone['state_dict'], resized = resize_backbone(
            backbone['state_dict'], args.window_size, img_size)
        for key, value in (('window_size', args.window_size),
                           ('img_size', img_size)):
            if value is not None:
                backbone['meta'][key] = value
    if osp.dirname(args.out):
        os.makedirs(osp.dirname(args.out), exist_ok=True)
    torch.save(backbone, args.out)
    classes = backbone['meta'].get('dataset_meta', {}).get('classes')
    indices = sum(k.endswith('relative_position_index')
                  for k in backbone['state_dict'])
    print(f'kept {len(backbone["state_dict"]) - indices} backbone keys, '
          f'dropped {sum(dropped.values())} keys')
    for group, count in sorted(dropped.items()):
        print(f'  dropped {count:5d} {group}')
    if args.window_size is not None:
        print(f'window {args.window_size}: resized '
              f'{sum(k.endswith("relative_position_bias_table") for k, *_ in resized)}'
              f' relative_position_bias_tables, wrote {indices} '
              f'relative_position_index buffers for window {args.window_size}')
    if img_size is not None and not any(
            k.endswith('absolute_pos_embed') for k in backbone['state_dict']):
        print('img size: no absolute_pos_embed in the checkpoint, nothing to resize')
    for key, old, new, note in resized:
        print(f'  resized {key}: {old} -> {new} ({note})')
    print(f'label names: {len(classes) if classes else "none"}')
    print(f'saved {args.out}')


if __name__ == '__main__':
    main()
