# Benchmark / demo candidate (issue #26): Mask R-CNN fine-tuned end to end on
# the dense scene set v2 (scenes_v2/: 1-2 large garments a scene, boxes apart,
# one-colour backgrounds; DENSE_SCENE_STYLES in
# mmhybrid/datasets/fashion_demo/scenes.py), built with
# `build_fashion_demo.py --dense-scenes v2`. The fine-tuned 64 px protocol
# (./mask-rcnn_swin-demo-hybrid_fpn_1xb8-1k_fashion-scenes-64px.py: 16 px
# anchors, AdamW 1e-3) with per-step work sized for at most two garments a
# scene: fewer RPN proposals and sampled RoIs, fewer test detections, and a
# shorter schedule (results/dense_scenes.md).
# Train: scenes_v2/train (4000); validation: scenes_v2/val (500, train
# garments); test: scenes_v2/test (500, Fashion-MNIST test garments).
_base_ = './mask-rcnn_swin-demo-hybrid_fpn_1xb8-1k_fashion-scenes-64px.py'

data_root = 'data/fashion_demo/'
scenes = 'scenes_v2/'
max_iters = 300

model = dict(
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=100, max_per_img=20),
        rcnn=dict(sampler=dict(num=16))),
    test_cfg=dict(
        rpn=dict(nms_pre=100, max_per_img=20),
        rcnn=dict(max_per_img=10)))

train_dataloader = dict(
    dataset=dict(data_root=data_root,
                 ann_file=scenes + 'annotations/instances_train.json',
                 data_prefix=dict(img=scenes + 'train/')))
val_dataloader = dict(
    dataset=dict(data_root=data_root,
                 ann_file=scenes + 'annotations/instances_val.json',
                 data_prefix=dict(img=scenes + 'val/')))
test_dataloader = dict(
    dataset=dict(data_root=data_root,
                 ann_file=scenes + 'annotations/instances_test.json',
                 data_prefix=dict(img=scenes + 'test/')))
val_evaluator = dict(ann_file=data_root + scenes + 'annotations/instances_val.json')
test_evaluator = dict(ann_file=data_root + scenes +
                      'annotations/instances_test.json')

param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.8)], gamma=0.1),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
