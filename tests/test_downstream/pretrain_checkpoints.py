"""Pre-training checkpoints without training: HybridPretrain's key layout from a real
mmpretrain ``SimMIMSwinTransformer``, shared by the downstream and converter tests."""
from collections import OrderedDict

import torch
from mmpretrain.models.selfsup.simmim import SimMIMSwinTransformer

# the demo backbone of configs/pretrain/hybrid_swin-demo_fashion-64px.py
DEMO_ARCH = dict(embed_dims=48, depths=[2, 2, 2, 2], num_heads=[3, 6, 12, 24])
DEMO_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal',
                'Shirt', 'Sneaker', 'Bag', 'Ankle boot']
HEAD_PREFIXES = ('mim_neck.', 'mim_head.', 'con_neck.', 'con_head.', 'cls_head.',
                 'balancer.')


def simmim_swin(arch=None, img_size=64, window_size=4, pad_small_map=True):
    """A randomly initialised pre-training Swin (the demo one by default), with
    non-trivial norms and relative position bias tables (zeros until
    ``init_weights``) so that a wrongly mapped norm or a wrongly resized table
    cannot go unnoticed."""
    backbone = SimMIMSwinTransformer(
        arch=arch or DEMO_ARCH, img_size=img_size, drop_path_rate=0.,
        pad_small_map=pad_small_map,
        stage_cfgs=dict(block_cfgs=dict(window_size=window_size)))
    with torch.no_grad():
        for name, param in backbone.named_parameters():
            if 'norm' in name:
                param.add_(0.1 * torch.randn_like(param))
            elif name.endswith('relative_position_bias_table'):
                param.copy_(torch.randn_like(param))
    backbone.eval()  # mmpretrain's Swin.train() returns None
    return backbone


def pretrain_state_dict(backbone):
    """``backbone.*``, its momentum copy, a momentum projector and small heads."""
    state_dict = OrderedDict()
    for key, value in backbone.state_dict().items():
        state_dict['backbone.' + key] = value.clone()
    for key, value in backbone.state_dict().items():
        state_dict['momentum_encoder.module.0.' + key] = value.clone() + 1
    state_dict['momentum_encoder.module.1.fc0.weight'] = torch.randn(8, 4)
    state_dict['momentum_encoder.steps'] = torch.tensor(2)
    for prefix in HEAD_PREFIXES:
        state_dict[prefix + 'weight'] = torch.randn(3)
    return state_dict


def save_pretrain_checkpoint(path, backbone, classes=DEMO_CLASSES):
    """Save an mmengine-style checkpoint of HybridPretrain's layout; return path."""
    torch.save(dict(meta=dict(dataset_meta=dict(classes=tuple(classes)), iter=2),
                    state_dict=pretrain_state_dict(backbone),
                    optimizer=dict(state={}, param_groups=[])), path)
    return path
