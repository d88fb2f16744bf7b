# CPU demo of the headline recipe: the same HybridPretrain (multi-label + SimMIM +
# MoCo v3, shared views, uncertainty weighting) with a small Swin (embed 48, depths
# 2-2-2-2) on the Fashion-MNIST scenes of tools/dataset_converters/build_fashion_demo.py
# at 64 px. Labelled (half of train_partial.json) and unlabelled scenes
# (scenes/unlabelled/) are mixed 3:1 per batch by RatioSampler.
_base_ = [
    '../_base_/datasets/ml-images_hybrid-views_192px.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmhybrid'], allow_failed_imports=False)
default_scope = 'mmpretrain'

data_root = 'data/fashion_demo/'
img_size = 64
embed_dims = 48
num_classes = 15  # 10 garment classes + 5 image types (scenes/meta/classes.txt)
temperature = 0.2

# the headline pipeline at 64 px: 16 px mask patches (4 x 4 of them, 60% masked)
mocov3_view = [
    dict(type='RandomResizedCrop', scale=img_size, crop_ratio_range=(0.2, 1.),
         backend='pillow'),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                          saturation=0.2, hue=0.1)],
         prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf',
         prob=1.),
    dict(type='Solarize', thr=128, prob=0.),
    dict(type='RandomFlip', prob=0.5),
]
view_pipelines = dict(
    masked=[
        dict(type='RandomResizedCrop', scale=img_size, crop_ratio_range=(0.67, 1.0)),
        dict(type='RandomFlip', prob=0.5),
    ],
    view1=mocov3_view,
    view2=[
        dict(t, prob=0.1) if t['type'] == 'GaussianBlur' else
        dict(t, prob=0.2) if t['type'] == 'Solarize' else t
        for t in mocov3_view
    ],
)
train_pipeline = [
    dict(type='LoadImageRobust', on_error='raise'),
    dict(type='HybridViews',
         view_pipelines=view_pipelines,
         mask_generator=dict(type='SimMIMMaskGenerator', input_size=img_size,
                             mask_patch_size=16, model_patch_size=4,
                             mask_ratio=0.6)),
    dict(type='PackInputs',
         meta_keys=('sample_idx', 'img_path', 'ori_shape', 'img_shape',
                    'view_names')),
]
train_dataloader = dict(
    _delete_=True,
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='RatioSampler', ratios=[3, 1], shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='ConcatDataset',
        # the unlabelled folder has no label space: the labelled source's classes
        # are the run's (and the checkpoint's) label names
        ignore_keys=['classes'],
        datasets=[
            dict(type='PartialMultiLabelDataset', data_root=data_root,
                 ann_file='scenes/meta/train_partial.json', data_prefix='scenes/',
                 pipeline=train_pipeline),
            dict(type='UnlabelledImageFolder', data_root=data_root,
                 data_prefix='scenes/unlabelled', pipeline=train_pipeline),
        ]))

model = dict(
    type='HybridPretrain',
    view_mode='shared',
    symmetric=False,
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(
        type='SimMIMSwinTransformer',
        arch=dict(embed_dims=embed_dims, depths=[2, 2, 2, 2],
                  num_heads=[3, 6, 12, 24]),
        img_size=img_size,
        drop_path_rate=0.1,
        # 64 px: stage maps 16, 8, 4, 2; the last one is padded to the window,
        # as mmdet's / mmseg's Swin do downstream
        pad_small_map=True,
        stage_cfgs=dict(block_cfgs=dict(window_size=4))),
    mim=dict(
        neck=dict(type='SimMIMLinearDecoder', in_channels=embed_dims * 8,
                  encoder_stride=32),
        head=dict(type='SimMIMHead', patch_size=4,
                  loss=dict(type='PixelReconstructionLoss', criterion='L1',
                            channel=3))),
    contrastive=dict(
        base_momentum=0.01,
        neck=dict(type='NonLinearNeck', in_channels=embed_dims * 8,
                  hid_channels=512, out_channels=128, num_layers=2,
                  with_bias=False, with_last_bn=True, with_last_bn_affine=False,
                  with_last_bias=False, with_avg_pool=True,
                  norm_cfg=dict(type='BN1d')),
        head=dict(
            type='MoCoV3Head',
            predictor=dict(type='NonLinearNeck', in_channels=128,
                           hid_channels=512, out_channels=128, num_layers=2,
                           with_bias=False, with_last_bn=False,
                           with_last_bn_affine=False, with_last_bias=False,
                           with_avg_pool=False, norm_cfg=dict(type='BN1d')),
            loss=dict(type='CrossEntropyLoss', loss_weight=2 * temperature),
            temperature=temperature)),
    multilabel=dict(
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='PartialMultiLabelLinearClsHead',
                  num_classes=num_classes, in_channels=embed_dims * 8,
                  loss=dict(type='AsymmetricLoss', gamma_pos=0.0, gamma_neg=4.0,
                            clip=0.05))),
    loss_balancer=dict(type='UncertaintyTaskWeights'),
)

max_iters = 300
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=5.0),
    paramwise_cfg=dict(
        custom_keys={
            'norm': dict(decay_mult=0.0),
            'bias': dict(decay_mult=0.0),
            'relative_position_bias_table': dict(decay_mult=0.),
            'mask_token': dict(decay_mult=0.),
            'balancer.log_vars': dict(decay_mult=0.),
        }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', T_max=max_iters - 30, eta_min=1e-5,
         by_epoch=False, begin=30, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=100, by_epoch=False,
                    max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
custom_hooks = [dict(type='RandomStateHook'), dict(type='LabelSpaceHook')]
