# Demo: Mask R-CNN with the demo Swin from
# configs/pretrain/hybrid_swin-demo_fashion-64px.py on the COCO-format garment
# instances of the demo world's scenes (10 classes; box and mask AP), CPU. The
# Swin-B COCO recipe at demo scale: small Swin (window 4, as pre-trained), the
# 64 px scenes upsampled to 128 px, short schedule.
_base_ = '../mmdet/mask-rcnn_swin-b-hybrid_fpn_1x_coco.py'

data_root = 'data/fashion_demo/'
classes = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal',
           'Shirt', 'Sneaker', 'Bag', 'Ankle boot')
img_scale = (128, 128)
max_epochs = 1

# tools/model_converters/extract_backbone.py output for the demo pre-training
checkpoint = 'work_dirs/hybrid_swin-demo_fashion-64px/backbone.pth'

model = dict(
    backbone=dict(
        embed_dims=48,
        depths=[2, 2, 2, 2],
        num_heads=[3, 6, 12, 24],
        window_size=4,
        drop_path_rate=0.1,
        init_cfg=dict(checkpoint=checkpoint)),
    # heads sized for a 48-channel backbone and 128 px images (COCO's 256-channel
    # FPN and 1024-d box head cost 5 s per CPU step here, these 1 s)
    neck=dict(in_channels=[48, 96, 192, 384], out_channels=64),
    rpn_head=dict(in_channels=64, feat_channels=64),
    # RoIAlign on torchvision's kernel: mmcv's outputs and gradients, 2x faster
    # on CPU, where RoIAlign took ~80% of a step (tools/benchmarks/roi_align_cost.py)
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64,
                                roi_layer=dict(use_torchvision=True)),
        bbox_head=dict(in_channels=64, fc_out_channels=256,
                       num_classes=len(classes)),
        mask_roi_extractor=dict(out_channels=64,
                                roi_layer=dict(use_torchvision=True)),
        mask_head=dict(in_channels=64, conv_out_channels=64, num_convs=2,
                       num_classes=len(classes))),
    # a scene holds at most 4 garments: far fewer proposals and RoIs than COCO
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=300),
        rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(
        rpn=dict(nms_pre=1000, max_per_img=300),
        rcnn=dict(max_per_img=20)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                    'scale_factor')),
]
train_dataloader = dict(
    batch_size=8,
    dataset=dict(
        data_root=data_root,
        metainfo=dict(classes=classes),
        ann_file='scenes/annotations/instances_train.json',
        data_prefix=dict(img='scenes/train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=dict(classes=classes),
        ann_file='scenes/annotations/instances_val.json',
        data_prefix=dict(img='scenes/val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'scenes/annotations/instances_val.json')
test_evaluator = val_evaluator

# one epoch of the 4000 train scenes (500 steps) on CPU: warm-up, then x0.1 at 400
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=500, milestones=[400],
         gamma=0.1),
]
optim_wrapper = dict(optimizer=dict(lr=2e-4))
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(logger=dict(interval=20))
