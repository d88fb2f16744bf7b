# Demo: UperNet with the demo Swin from
# configs/pretrain/hybrid_swin-demo_fashion-64px.py on the class maps of the demo
# world's scenes (background + 10 garments; mIoU), CPU. The Swin-B ADE20K recipe
# at demo scale: small Swin (window 4, as pre-trained), lighter heads, the 64 px
# scenes upsampled to 128 px, 2k iterations.
_base_ = '../mmseg/upernet_swin-b-hybrid_8xb2-160k_ade20k-512x512.py'

data_root = 'data/fashion_demo/'
classes = ('background', 'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
           'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot')
crop_size = (128, 128)
max_iters = 500

# tools/model_converters/extract_backbone.py output for the demo pre-training
checkpoint = 'work_dirs/hybrid_swin-demo_fashion-64px/backbone.pth'

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        pretrain_img_size=64,
        embed_dims=48,
        depths=[2, 2, 2, 2],
        num_heads=[3, 6, 12, 24],
        window_size=4,
        drop_path_rate=0.1,
        init_cfg=dict(checkpoint=checkpoint)),
    decode_head=dict(in_channels=[48, 96, 192, 384], channels=128,
                     num_classes=len(classes)),
    auxiliary_head=dict(in_channels=192, channels=64, num_classes=len(classes)))

seg_dataset = dict(
    type='BaseSegDataset',
    data_root=data_root,
    metainfo=dict(classes=classes),
    img_suffix='.png',
    seg_map_suffix='.png',
    reduce_zero_label=False)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(type='RandomResize', scale=crop_size, ratio_range=(0.75, 1.5),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    dataset=dict(
        _delete_=True,
        data_prefix=dict(img_path='scenes/train', seg_map_path='scenes/seg/train'),
        pipeline=train_pipeline,
        **seg_dataset))
val_dataloader = dict(
    num_workers=2,
    dataset=dict(
        _delete_=True,
        data_prefix=dict(img_path='scenes/val', seg_map_path='scenes/seg/val'),
        pipeline=test_pipeline,
        **seg_dataset))
test_dataloader = val_dataloader

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=100),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=100, end=max_iters,
         by_epoch=False),
]
train_cfg = dict(max_iters=max_iters, val_interval=500)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=500, max_keep_ckpts=1))
