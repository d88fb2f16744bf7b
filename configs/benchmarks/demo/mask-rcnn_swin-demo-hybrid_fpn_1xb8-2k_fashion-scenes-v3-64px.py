# Benchmark, dense protocol v3 fine-tuned (issue #27's dense metrics;
# `ablation.py --dense-scenes v3 --evaluations detection-finetuned`): the Mask
# R-CNN of protocol v3 (./mask-rcnn_swin-demo-hybrid-frozen_fpn_1xb8-1k_fashion-scenes-v3-64px.py:
# heads sized for 1-2 garments a scene, 4000 val / 4000 test scenes) with the
# backbone fine-tuned end to end, as the method's headline COCO number is, for
# 2000 iterations: a random-init fine-tuned detector reached box AP 4.1 on
# scenes_v2 after 1000 (results/dense_scenes.md, det-v2-1k) and a random-init
# UperNet 30 mIoU after 2000 (results/dense_scenes_gpu/).
# Train: scenes_v3/train (4000); validation: scenes_v3/val (4000, train garments);
# test: scenes_v3/test (4000, Fashion-MNIST test garments).
_base_ = './mask-rcnn_swin-demo-hybrid-frozen_fpn_1xb8-1k_fashion-scenes-v3-64px.py'

max_iters = 2000

model = dict(backbone=dict(frozen_stages=-1))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.8)], gamma=0.1),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
