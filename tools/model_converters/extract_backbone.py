"""Extract the online backbone of a HybridPretrain checkpoint for downstream use.

    python tools/model_converters/extract_backbone.py \
        work_dirs/hybrid_swin-b/iter_100000.pth work_dirs/hybrid_swin-b/backbone.pth

The output keeps ``backbone.*`` (no momentum encoder, heads, mask token or derived
buffers) and the pre-training label names; see :mod:`mmhybrid.downstream.extract`.
"""
import argparse
import os
import os.path as osp

os.environ.setdefault('HF_HUB_OFFLINE', '1')

import torch  # noqa: E402

from mmhybrid.downstream import extract_backbone  # noqa: E402
from mmhybrid.utils.checkpoint_loading import load_mmengine_checkpoint  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(
        description='Keep the online backbone of a pre-training checkpoint')
    parser.add_argument('checkpoint', help='pre-training checkpoint')
    parser.add_argument('out', help='output backbone checkpoint')
    parser.add_argument('--keep-mask-token', action='store_true',
                        help="keep SimMIM's backbone.mask_token")
    return parser.parse_args()


def main():
    args = parse_args()
    checkpoint = load_mmengine_checkpoint(args.checkpoint, map_location='cpu')
    backbone, dropped = extract_backbone(checkpoint, args.keep_mask_token)
    if osp.dirname(args.out):
        os.makedirs(osp.dirname(args.out), exist_ok=True)
    torch.save(backbone, args.out)
    classes = backbone['meta'].get('dataset_meta', {}).get('classes')
    print(f'kept {len(backbone["state_dict"])} backbone keys, '
          f'dropped {sum(dropped.values())} keys')
    for group, count in sorted(dropped.items()):
        print(f'  dropped {count:5d} {group}')
    print(f'label names: {len(classes) if classes else "none"}')
    print(f'saved {args.out}')


if __name__ == '__main__':
    main()
