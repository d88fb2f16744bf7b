"""Tiny configs shared by the model tests: a 2-stage-wide Swin on 32 px images."""
import numpy as np
import torch
from mmpretrain.structures import DataSample

IMG = 32
EMBED = 16
FINAL = EMBED * 8  # channels after 4 stages


def swin(type_='SimMIMSwinTransformer'):
    return dict(type=type_, arch=dict(embed_dims=EMBED, depths=[1, 1, 1, 1],
                                      num_heads=[1, 2, 2, 4]),
                img_size=IMG, drop_path_rate=0.,
                stage_cfgs=dict(block_cfgs=dict(window_size=4)), pad_small_map=True)


def mim():
    return dict(
        neck=dict(type='SimMIMLinearDecoder', in_channels=FINAL, encoder_stride=32),
        head=dict(type='SimMIMHead', patch_size=4,
                  loss=dict(type='PixelReconstructionLoss', criterion='L1', channel=3)))


def contrastive(temperature=0.2):
    return dict(
        neck=dict(type='NonLinearNeck', in_channels=FINAL, hid_channels=32,
                  out_channels=16, num_layers=2, with_bias=False, with_last_bn=True,
                  with_last_bn_affine=False, with_last_bias=False, with_avg_pool=True,
                  norm_cfg=dict(type='BN1d')),
        head=dict(type='MoCoV3Head',
                  predictor=dict(type='NonLinearNeck', in_channels=16, hid_channels=32,
                                 out_channels=16, num_layers=2, with_bias=False,
                                 with_last_bn=False, with_last_bn_affine=False,
                                 with_last_bias=False, with_avg_pool=False,
                                 norm_cfg=dict(type='BN1d')),
                  loss=dict(type='CrossEntropyLoss', loss_weight=2 * temperature),
                  temperature=temperature),
        base_momentum=0.01)


NUM_CLASSES = 6


def multilabel(head_type='PartialMultiLabelLinearClsHead'):
    return dict(neck=dict(type='GlobalAveragePooling'),
                head=dict(type=head_type, num_classes=NUM_CLASSES, in_channels=FINAL,
                          loss=dict(type='CrossEntropyLoss', use_sigmoid=True)))


def label_samples(labels):
    """One ``DataSample`` per entry: ``gt_label`` the entry's classes, none
    for ``None`` (unlabelled)."""
    samples = []
    for label in labels:
        ds = DataSample()
        if label is not None:
            ds.set_gt_label(list(label))
        samples.append(ds)
    return samples


def batch(n=4, labels=((0, 2), (1, ), (3, 4, 5), (0, )), seed=0, views=2):
    """``n`` samples: ``views`` normalised view tensors, SimMIM masks, labels
    (``None`` = unlabelled)."""
    g = torch.Generator().manual_seed(seed)
    inputs = [torch.randn(n, 3, IMG, IMG, generator=g) for _ in range(views)]
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(n):
        ds = DataSample()
        mask = np.zeros((IMG // 8, IMG // 8), dtype=np.int64)
        mask.flat[rng.permutation(mask.size)[:int(0.6 * mask.size)]] = 1
        ds.set_mask(torch.from_numpy(mask.repeat(2, 0).repeat(2, 1)))
        if labels[i % len(labels)] is not None:
            ds.set_gt_label(list(labels[i % len(labels)]))
        samples.append(ds)
    return inputs, samples
