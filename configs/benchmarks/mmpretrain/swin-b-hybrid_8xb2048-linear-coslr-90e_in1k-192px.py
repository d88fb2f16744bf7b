# Linear probe of Swin-B from our pre-training on ImageNet-1k at 192 px: the
# frozen backbone (window 6, as pre-trained), global average pooling, an affine-free
# BatchNorm and a linear classifier, trained with MAE's linear-probe recipe
# (mmpretrain::mae/benchmarks/vit-base-p16_8xb2048-linear-coslr-90e_in1k.py: LARS,
# lr 6.4 for 16384 images per step, no weight decay, 10 warm-up + 80 cosine
# epochs). Data at 192 px as in fine-tuning, without RandAugment, random erasing
# and mixup.
_base_ = 'mmpretrain::simmim/benchmarks/swin-base-w6_8xb256-coslr-100e_in1k-192px.py'
# mmhybrid.downstream registers HybridSwinTransformer in mmpretrain, mmdet and mmseg
custom_imports = dict(imports=['mmhybrid.downstream'], allow_failed_imports=False)

# tools/model_converters/extract_backbone.py output; or pass
# --cfg-options model.backbone.init_cfg.checkpoint=PATH
checkpoint = 'work_dirs/hybrid_swin-b/backbone.pth'

model = dict(
    backbone=dict(
        type='HybridSwinTransformer',
        drop_path_rate=0.,
        frozen_stages=3,  # all four stages and the output norm
        init_cfg=dict(type='HybridPretrained', checkpoint=checkpoint)),
    neck=[
        dict(type='GlobalAveragePooling'),
        dict(type='ClsBatchNormNeck', input_features=1024),
    ],
    head=dict(
        loss=dict(_delete_=True, type='CrossEntropyLoss'),
        init_cfg=dict(
            _delete_=True, type='TruncNormal', layer='Linear', std=0.01)),
    train_cfg=dict(_delete_=True))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=192, backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]

optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    optimizer=dict(type='LARS', lr=6.4, weight_decay=0.0, momentum=0.9))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=80, by_epoch=True, begin=10, end=90,
         eta_min=0.0, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=90)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))

# a base inherited through `mmpretrain::` tags its collate_fn with `_scope_`,
# which mmengine's Runner passes on to the function: restate it untagged
train_dataloader = dict(
    batch_size=2048,
    drop_last=True,
    dataset=dict(pipeline=train_pipeline),
    collate_fn=dict(_delete_=True, type='default_collate'))
val_dataloader = dict(collate_fn=dict(_delete_=True, type='default_collate'))
test_dataloader = dict(collate_fn=dict(_delete_=True, type='default_collate'))
