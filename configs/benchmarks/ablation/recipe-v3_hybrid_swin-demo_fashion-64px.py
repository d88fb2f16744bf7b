# The ablation's pre-training recipe v3, pinned: configs/pretrain/hybrid_swin-demo_fashion-64px.py
# resolved as it stood on 2026-11-30 (commit be489df), written by
#     Config.fromfile('configs/pretrain/hybrid_swin-demo_fashion-64px.py').dump(THIS_FILE)
# Every method of tools/benchmarks/ablation.py is a change to this file
# (mmhybrid/benchmarks/methods.py), and every benchmark unit's key hashes the
# resolved configs built from it; pinning it lets the packaged recipe take the
# defaults the benchmark chose (label head and query on an unmasked pass, fixed
# task weights 1 : 1 : 4; results/README.md "Tried changes") without re-keying
# the units measured before. Do not edit: a changed protocol goes into a new file
# (and results/ablation/ into an archive directory).
auto_scale_lr = dict(base_batch_size=32)
custom_hooks = [
    dict(type='RandomStateHook'),
    dict(type='LabelSpaceHook'),
    dict(
        data_root='data/fashion_demo/',
        interval=100,
        num_bank=500,
        num_label=250,
        num_query=250,
        type='OnlineProbeHook'),
]
custom_imports = dict(
    allow_failed_imports=False, imports=[
        'mmhybrid',
    ])
data_preprocessor = dict(
    mean=[
        123.675,
        116.28,
        103.53,
    ],
    std=[
        58.395,
        57.12,
        57.375,
    ],
    to_rgb=True,
    type='SelfSupDataPreprocessor')
data_root = 'data/fashion_demo/'
dataset_type = 'PartialMultiLabelDataset'
default_hooks = dict(
    checkpoint=dict(
        _scope_='mmpretrain',
        by_epoch=False,
        interval=100,
        max_keep_ckpts=2,
        type='CheckpointHook'),
    logger=dict(_scope_='mmpretrain', interval=10, type='LoggerHook'),
    param_scheduler=dict(_scope_='mmpretrain', type='ParamSchedulerHook'),
    sampler_seed=dict(_scope_='mmpretrain', type='DistSamplerSeedHook'),
    timer=dict(_scope_='mmpretrain', type='IterTimerHook'),
    visualization=dict(
        _scope_='mmpretrain', enable=False, type='VisualizationHook'))
default_scope = 'mmpretrain'
embed_dims = 48
env_cfg = dict(
    cudnn_benchmark=False,
    dist_cfg=dict(backend='nccl'),
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
img_size = 64
load_from = None
log_level = 'INFO'
log_processor = dict(by_epoch=False)
max_iters = 300
mocov3_view = [
    dict(
        backend='pillow',
        crop_ratio_range=(
            0.2,
            1.0,
        ),
        scale=192,
        type='RandomResizedCrop'),
    dict(
        prob=0.8,
        transforms=[
            dict(
                brightness=0.4,
                contrast=0.4,
                hue=0.1,
                saturation=0.2,
                type='ColorJitter'),
        ],
        type='RandomApply'),
    dict(
        channel_weights=(
            0.114,
            0.587,
            0.2989,
        ),
        keep_channels=True,
        prob=0.2,
        type='RandomGrayscale'),
    dict(
        magnitude_range=(
            0.1,
            2.0,
        ),
        magnitude_std='inf',
        prob=1.0,
        type='GaussianBlur'),
    dict(prob=0.0, thr=128, type='Solarize'),
    dict(prob=0.5, type='RandomFlip'),
]
model = dict(
    backbone=dict(
        arch=dict(
            depths=[
                2,
                2,
                2,
                2,
            ], embed_dims=48, num_heads=[
                3,
                6,
                12,
                24,
            ]),
        drop_path_rate=0.0,
        img_size=64,
        pad_small_map=True,
        stage_cfgs=dict(block_cfgs=dict(window_size=4)),
        type='SimMIMSwinTransformer'),
    contrastive=dict(
        base_momentum=0.01,
        head=dict(
            loss=dict(loss_weight=0.4, type='CrossEntropyLoss'),
            predictor=dict(
                hid_channels=512,
                in_channels=128,
                norm_cfg=dict(type='BN1d'),
                num_layers=2,
                out_channels=128,
                type='NonLinearNeck',
                with_avg_pool=False,
                with_bias=False,
                with_last_bias=False,
                with_last_bn=False,
                with_last_bn_affine=False),
            temperature=0.2,
            type='MoCoV3Head'),
        neck=dict(
            hid_channels=512,
            in_channels=384,
            norm_cfg=dict(type='BN1d'),
            num_layers=2,
            out_channels=128,
            type='NonLinearNeck',
            with_avg_pool=True,
            with_bias=False,
            with_last_bias=False,
            with_last_bn=True,
            with_last_bn_affine=False)),
    data_preprocessor=dict(
        mean=[
            123.675,
            116.28,
            103.53,
        ],
        std=[
            58.395,
            57.12,
            57.375,
        ],
        to_rgb=True,
        type='SelfSupDataPreprocessor'),
    loss_balancer=dict(type='UncertaintyTaskWeights'),
    mim=dict(
        head=dict(
            loss=dict(
                channel=3, criterion='L1', type='PixelReconstructionLoss'),
            patch_size=4,
            type='SimMIMHead'),
        neck=dict(
            encoder_stride=32, in_channels=384, type='SimMIMLinearDecoder')),
    multilabel=dict(
        head=dict(
            in_channels=384,
            loss=dict(
                clip=0.05, gamma_neg=4.0, gamma_pos=0.0,
                type='AsymmetricLoss'),
            num_classes=15,
            type='PartialMultiLabelLinearClsHead',
            unknown='negative'),
        neck=dict(type='GlobalAveragePooling')),
    symmetric=False,
    type='HybridPretrain',
    view_mode='shared')
num_classes = 15
optim_wrapper = dict(
    clip_grad=dict(max_norm=5.0),
    optimizer=dict(
        betas=(
            0.9,
            0.999,
        ), lr=0.0003, type='AdamW', weight_decay=0.05),
    paramwise_cfg=dict(
        custom_keys=dict({
            'absolute_pos_embed': dict(decay_mult=0.0),
            'balancer.log_vars': dict(decay_mult=0.0),
            'bias': dict(decay_mult=0.0),
            'mask_token': dict(decay_mult=0.0),
            'norm': dict(decay_mult=0.0),
            'relative_position_bias_table': dict(decay_mult=0.0)
        })),
    type='OptimWrapper')
param_scheduler = [
    dict(begin=0, by_epoch=False, end=30, start_factor=0.001, type='LinearLR'),
    dict(
        T_max=270,
        begin=30,
        by_epoch=False,
        end=300,
        eta_min=1e-05,
        type='CosineAnnealingLR'),
]
randomness = dict(deterministic=False, seed=0)
resume = False
temperature = 0.2
train_cfg = dict(max_iters=300, type='IterBasedTrainLoop')
train_dataloader = dict(
    batch_size=32,
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        datasets=[
            dict(
                ann_file='objects/meta/train.json',
                data_prefix='objects/',
                data_root='data/fashion_demo/',
                pipeline=[
                    dict(on_error='raise', type='LoadImageRobust'),
                    dict(
                        mask_generator=dict(
                            input_size=64,
                            mask_patch_size=16,
                            mask_ratio=0.6,
                            model_patch_size=4,
                            type='SimMIMMaskGenerator'),
                        type='HybridViews',
                        view_pipelines=dict(
                            masked=[
                                dict(
                                    crop_ratio_range=(
                                        0.67,
                                        1.0,
                                    ),
                                    scale=64,
                                    type='RandomResizedCrop'),
                                dict(prob=0.5, type='RandomFlip'),
                            ],
                            view1=[
                                dict(
                                    backend='pillow',
                                    crop_ratio_range=(
                                        0.2,
                                        1.0,
                                    ),
                                    scale=64,
                                    type='RandomResizedCrop'),
                                dict(
                                    prob=0.8,
                                    transforms=[
                                        dict(
                                            brightness=0.4,
                                            contrast=0.4,
                                            hue=0.1,
                                            saturation=0.2,
                                            type='ColorJitter'),
                                    ],
                                    type='RandomApply'),
                                dict(
                                    channel_weights=(
                                        0.114,
                                        0.587,
                                        0.2989,
                                    ),
                                    keep_channels=True,
                                    prob=0.2,
                                    type='RandomGrayscale'),
                                dict(
                                    magnitude_range=(
                                        0.1,
                                        2.0,
                                    ),
                                    magnitude_std='inf',
                                    prob=1.0,
                                    type='GaussianBlur'),
                                dict(prob=0.0, thr=128, type='Solarize'),
                                dict(prob=0.5, type='RandomFlip'),
                            ],
                            view2=[
                                dict(
                                    backend='pillow',
                                    crop_ratio_range=(
                                        0.2,
                                        1.0,
                                    ),
                                    scale=64,
                                    type='RandomResizedCrop'),
                                dict(
                                    prob=0.8,
                                    transforms=[
                                        dict(
                                            brightness=0.4,
                                            contrast=0.4,
                                            hue=0.1,
                                            saturation=0.2,
                                            type='ColorJitter'),
                                    ],
                                    type='RandomApply'),
                                dict(
                                    channel_weights=(
                                        0.114,
                                        0.587,
                                        0.2989,
                                    ),
                                    keep_channels=True,
                                    prob=0.2,
                                    type='RandomGrayscale'),
                                dict(
                                    magnitude_range=(
                                        0.1,
                                        2.0,
                                    ),
                                    magnitude_std='inf',
                                    prob=0.1,
                                    type='GaussianBlur'),
                                dict(prob=0.2, thr=128, type='Solarize'),
                                dict(prob=0.5, type='RandomFlip'),
                            ]),
                        views=(
                            'masked',
                            'view1',
                        )),
                    dict(
                        algorithm_keys=('gt_negative', ),
                        meta_keys=(
                            'sample_idx',
                            'img_path',
                            'ori_shape',
                            'img_shape',
                            'view_names',
                        ),
                        type='PackInputs'),
                ],
                type='PartialMultiLabelDataset'),
            dict(
                ann_file='scenes/meta/train_partial.json',
                data_prefix='scenes/',
                data_root='data/fashion_demo/',
                pipeline=[
                    dict(on_error='raise', type='LoadImageRobust'),
                    dict(
                        mask_generator=dict(
                            input_size=64,
                            mask_patch_size=16,
                            mask_ratio=0.6,
                            model_patch_size=4,
                            type='SimMIMMaskGenerator'),
                        type='HybridViews',
                        view_pipelines=dict(
                            masked=[
                                dict(
                                    crop_ratio_range=(
                                        0.67,
                                        1.0,
                                    ),
                                    scale=64,
                                    type='RandomResizedCrop'),
                                dict(prob=0.5, type='RandomFlip'),
                            ],
                            view1=[
                                dict(
                                    backend='pillow',
                                    crop_ratio_range=(
                                        0.2,
                                        1.0,
                                    ),
                                    scale=64,
                                    type='RandomResizedCrop'),
                                dict(
                                    prob=0.8,
                                    transforms=[
                                        dict(
                                            brightness=0.4,
                                            contrast=0.4,
                                            hue=0.1,
                                            saturation=0.2,
                                            type='ColorJitter'),
                                    ],
                                    type='RandomApply'),
                                dict(
                                    channel_weights=(
                                        0.114,
                                        0.587,
                                        0.2989,
                                    ),
                                    keep_channels=True,
                                    prob=0.2,
                                    type='RandomGrayscale'),
                                dict(
                                    magnitude_range=(
                                        0.1,
                                        2.0,
                                    ),
                                    magnitude_std='inf',
                                    prob=1.0,
                                    type='GaussianBlur'),
                                dict(prob=0.0, thr=128, type='Solarize'),
                                dict(prob=0.5, type='RandomFlip'),
                            ],
                            view2=[
                                dict(
                                    backend='pillow',
                                    crop_ratio_range=(
                                        0.2,
                                        1.0,
                                    ),
                                    scale=64,
                                    type='RandomResizedCrop'),
                                dict(
                                    prob=0.8,
                                    transforms=[
                                        dict(
                                            brightness=0.4,
                                            contrast=0.4,
                                            hue=0.1,
                                            saturation=0.2,
                                            type='ColorJitter'),
                                    ],
                                    type='RandomApply'),
                                dict(
                                    channel_weights=(
                                        0.114,
                                        0.587,
                                        0.2989,
                                    ),
                                    keep_channels=True,
                                    prob=0.2,
                                    type='RandomGrayscale'),
                                dict(
                                    magnitude_range=(
                                        0.1,
                                        2.0,
                                    ),
                                    magnitude_std='inf',
                                    prob=0.1,
                                    type='GaussianBlur'),
                                dict(prob=0.2, thr=128, type='Solarize'),
                                dict(prob=0.5, type='RandomFlip'),
                            ]),
                        views=(
                            'masked',
                            'view1',
                        )),
                    dict(
                        algorithm_keys=('gt_negative', ),
                        meta_keys=(
                            'sample_idx',
                            'img_path',
                            'ori_shape',
                            'img_shape',
                            'view_names',
                        ),
                        type='PackInputs'),
                ],
                type='PartialMultiLabelDataset'),
            dict(
                data_prefix='scenes/unlabelled',
                data_root='data/fashion_demo/',
                pipeline=[
                    dict(on_error='raise', type='LoadImageRobust'),
                    dict(
                        mask_generator=dict(
                            input_size=64,
                            mask_patch_size=16,
                            mask_ratio=0.6,
                            model_patch_size=4,
                            type='SimMIMMaskGenerator'),
                        type='HybridViews',
                        view_pipelines=dict(
                            masked=[
                                dict(
                                    crop_ratio_range=(
                                        0.67,
                                        1.0,
                                    ),
                                    scale=64,
                                    type='RandomResizedCrop'),
                                dict(prob=0.5, type='RandomFlip'),
                            ],
                            view1=[
                                dict(
                                    backend='pillow',
                                    crop_ratio_range=(
                                        0.2,
                                        1.0,
                                    ),
                                    scale=64,
                                    type='RandomResizedCrop'),
                                dict(
                                    prob=0.8,
                                    transforms=[
                                        dict(
                                            brightness=0.4,
                                            contrast=0.4,
                                            hue=0.1,
                                            saturation=0.2,
                                            type='ColorJitter'),
                                    ],
                                    type='RandomApply'),
                                dict(
                                    channel_weights=(
                                        0.114,
                                        0.587,
                                        0.2989,
                                    ),
                                    keep_channels=True,
                                    prob=0.2,
                                    type='RandomGrayscale'),
                                dict(
                                    magnitude_range=(
                                        0.1,
                                        2.0,
                                    ),
                                    magnitude_std='inf',
                                    prob=1.0,
                                    type='GaussianBlur'),
                                dict(prob=0.0, thr=128, type='Solarize'),
                                dict(prob=0.5, type='RandomFlip'),
                            ],
                            view2=[
                                dict(
                                    backend='pillow',
                                    crop_ratio_range=(
                                        0.2,
                                        1.0,
                                    ),
                                    scale=64,
                                    type='RandomResizedCrop'),
                                dict(
                                    prob=0.8,
                                    transforms=[
                                        dict(
                                            brightness=0.4,
                                            contrast=0.4,
                                            hue=0.1,
                                            saturation=0.2,
                                            type='ColorJitter'),
                                    ],
                                    type='RandomApply'),
                                dict(
                                    channel_weights=(
                                        0.114,
                                        0.587,
                                        0.2989,
                                    ),
                                    keep_channels=True,
                                    prob=0.2,
                                    type='RandomGrayscale'),
                                dict(
                                    magnitude_range=(
                                        0.1,
                                        2.0,
                                    ),
                                    magnitude_std='inf',
                                    prob=0.1,
                                    type='GaussianBlur'),
                                dict(prob=0.2, thr=128, type='Solarize'),
                                dict(prob=0.5, type='RandomFlip'),
                            ]),
                        views=(
                            'masked',
                            'view1',
                        )),
                    dict(
                        algorithm_keys=('gt_negative', ),
                        meta_keys=(
                            'sample_idx',
                            'img_path',
                            'ori_shape',
                            'img_shape',
                            'view_names',
                        ),
                        type='PackInputs'),
                ],
                type='UnlabelledImageFolder'),
        ],
        ignore_keys=[
            'classes',
        ],
        type='ConcatDataset'),
    num_workers=2,
    persistent_workers=True,
    sampler=dict(ratios=[
        2,
        0,
        1,
    ], shuffle=True, type='RatioSampler'))
train_pipeline = [
    dict(on_error='raise', type='LoadImageRobust'),
    dict(
        mask_generator=dict(
            input_size=64,
            mask_patch_size=16,
            mask_ratio=0.6,
            model_patch_size=4,
            type='SimMIMMaskGenerator'),
        type='HybridViews',
        view_pipelines=dict(
            masked=[
                dict(
                    crop_ratio_range=(
                        0.67,
                        1.0,
                    ),
                    scale=64,
                    type='RandomResizedCrop'),
                dict(prob=0.5, type='RandomFlip'),
            ],
            view1=[
                dict(
                    backend='pillow',
                    crop_ratio_range=(
                        0.2,
                        1.0,
                    ),
                    scale=64,
                    type='RandomResizedCrop'),
                dict(
                    prob=0.8,
                    transforms=[
                        dict(
                            brightness=0.4,
                            contrast=0.4,
                            hue=0.1,
                            saturation=0.2,
                            type='ColorJitter'),
                    ],
                    type='RandomApply'),
                dict(
                    channel_weights=(
                        0.114,
                        0.587,
                        0.2989,
                    ),
                    keep_channels=True,
                    prob=0.2,
                    type='RandomGrayscale'),
                dict(
                    magnitude_range=(
                        0.1,
                        2.0,
                    ),
                    magnitude_std='inf',
                    prob=1.0,
                    type='GaussianBlur'),
                dict(prob=0.0, thr=128, type='Solarize'),
                dict(prob=0.5, type='RandomFlip'),
            ],
            view2=[
                dict(
                    backend='pillow',
                    crop_ratio_range=(
                        0.2,
                        1.0,
                    ),
                    scale=64,
                    type='RandomResizedCrop'),
                dict(
                    prob=0.8,
                    transforms=[
                        dict(
                            brightness=0.4,
                            contrast=0.4,
                            hue=0.1,
                            saturation=0.2,
                            type='ColorJitter'),
                    ],
                    type='RandomApply'),
                dict(
                    channel_weights=(
                        0.114,
                        0.587,
                        0.2989,
                    ),
                    keep_channels=True,
                    prob=0.2,
                    type='RandomGrayscale'),
                dict(
                    magnitude_range=(
                        0.1,
                        2.0,
                    ),
                    magnitude_std='inf',
                    prob=0.1,
                    type='GaussianBlur'),
                dict(prob=0.2, thr=128, type='Solarize'),
                dict(prob=0.5, type='RandomFlip'),
            ]),
        views=(
            'masked',
            'view1',
        )),
    dict(
        algorithm_keys=('gt_negative', ),
        meta_keys=(
            'sample_idx',
            'img_path',
            'ori_shape',
            'img_shape',
            'view_names',
        ),
        type='PackInputs'),
]
view_pipelines = dict(
    masked=[
        dict(
            crop_ratio_range=(
                0.67,
                1.0,
            ), scale=64, type='RandomResizedCrop'),
        dict(prob=0.5, type='RandomFlip'),
    ],
    view1=[
        dict(
            backend='pillow',
            crop_ratio_range=(
                0.2,
                1.0,
            ),
            scale=64,
            type='RandomResizedCrop'),
        dict(
            prob=0.8,
            transforms=[
                dict(
                    brightness=0.4,
                    contrast=0.4,
                    hue=0.1,
                    saturation=0.2,
                    type='ColorJitter'),
            ],
            type='RandomApply'),
        dict(
            channel_weights=(
                0.114,
                0.587,
                0.2989,
            ),
            keep_channels=True,
            prob=0.2,
            type='RandomGrayscale'),
        dict(
            magnitude_range=(
                0.1,
                2.0,
            ),
            magnitude_std='inf',
            prob=1.0,
            type='GaussianBlur'),
        dict(prob=0.0, thr=128, type='Solarize'),
        dict(prob=0.5, type='RandomFlip'),
    ],
    view2=[
        dict(
            backend='pillow',
            crop_ratio_range=(
                0.2,
                1.0,
            ),
            scale=64,
            type='RandomResizedCrop'),
        dict(
            prob=0.8,
            transforms=[
                dict(
                    brightness=0.4,
                    contrast=0.4,
                    hue=0.1,
                    saturation=0.2,
                    type='ColorJitter'),
            ],
            type='RandomApply'),
        dict(
            channel_weights=(
                0.114,
                0.587,
                0.2989,
            ),
            keep_channels=True,
            prob=0.2,
            type='RandomGrayscale'),
        dict(
            magnitude_range=(
                0.1,
                2.0,
            ),
            magnitude_std='inf',
            prob=0.1,
            type='GaussianBlur'),
        dict(prob=0.2, thr=128, type='Solarize'),
        dict(prob=0.5, type='RandomFlip'),
    ])
vis_backends = [
    dict(_scope_='mmpretrain', type='LocalVisBackend'),
]
visualizer = dict(
    _scope_='mmpretrain',
    type='UniversalVisualizer',
    vis_backends=[
        dict(type='LocalVisBackend'),
    ])
