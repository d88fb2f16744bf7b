# Benchmark / demo: Mask R-CNN fine-tuned end to end (backbone, FPN and heads
# learn) on the demo scenes at their native 64 px: 1000 iterations of 8 scenes
# (2.3 epochs), AdamW 1e-3, x0.1 at 80%. Anchors of 16 px at stride 4 (scale 4
# instead of COCO's 8): the garments measure 12-49 px (5th-95th percentile), so
# COCO's smallest anchor (32 px) met most of them below the RPN's IoU threshold.
# The frozen-backbone protocol
# (./mask-rcnn_swin-demo-hybrid-frozen_fpn_1xb8-500it_fashion-scenes-64px.py, same
# data, pipelines and splits) stayed near box AP 1 for every backbone
# (results/README.md, "Dense evaluations"). 0.51 s an iteration on 2 CPU cores.
# Train: 3500 train scenes; validation: the other 500 (splits/, written by
# tools/benchmarks/ablation.py); test: scenes/val.
_base_ = './mask-rcnn_swin-demo-hybrid-frozen_fpn_1xb8-500it_fashion-scenes-64px.py'

max_iters = 1000

model = dict(
    backbone=dict(frozen_stages=-1),
    rpn_head=dict(anchor_generator=dict(scales=[4])))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.8)], gamma=0.1),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(interval=max_iters))
