# Demo: fine-tune the demo Swin from configs/pretrain/hybrid_swin-demo_fashion-64px.py
# on the Fashion-MNIST images of the demo world (10 classes, top-1), 64 px, CPU.
# The Swin-B ImageNet recipe (layer-wise lr decay, mixup/cutmix, label smoothing)
# at demo scale: small Swin, demo data, short schedule.
_base_ = '../mmpretrain/swin-b-hybrid_8xb256-ft-coslr-100e_in1k-192px.py'

data_root = 'data/fashion_demo/'
classes = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal',
           'Shirt', 'Sneaker', 'Bag', 'Ankle boot')
img_size = 64
max_epochs = 3

# tools/model_converters/extract_backbone.py output for the demo pre-training
checkpoint = 'work_dirs/hybrid_swin-demo_fashion-64px/backbone.pth'

data_preprocessor = dict(num_classes=len(classes))
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=48, depths=[2, 2, 2, 2],
                  num_heads=[3, 6, 12, 24]),
        img_size=img_size,
        pad_small_map=True,  # as pre-trained: the 2x2 last stage is padded to 4
        stage_cfgs=dict(block_cfgs=dict(window_size=4)),
        init_cfg=dict(checkpoint=checkpoint)),
    head=dict(num_classes=len(classes), in_channels=384))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=img_size, crop_ratio_range=(0.5, 1.0),
         backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=img_size, edge='short', backend='pillow',
         interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        ann_file='cls/meta/train.txt',
        data_prefix='cls/',
        classes=classes,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        ann_file='cls/meta/test.txt',
        data_prefix='cls/',
        classes=classes,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

# lr for 64 images per step (the recipe's 5e-3 is for 2048)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 1, eta_min=1e-6,
         by_epoch=True, begin=1, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
default_hooks = dict(
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1),
    logger=dict(interval=20))
