# Benchmark, dense protocol v2 (issue #26; `ablation.py --dense-scenes v2`): Mask
# R-CNN on frozen backbone features (only FPN, RPN and RoI heads learn) on the dense
# scene set v2 (scenes_v2/: 1-2 large garments a scene, boxes apart, one-colour
# backgrounds; `build_fashion_demo.py --dense-scenes v2`), with the heads sized for
# at most two garments a scene (./mask-rcnn_swin-demo-hybrid_fpn_1xb8-300it_fashion-scenes-v2-64px.py)
# and the 1000 iterations of 8 scenes of the first frozen protocol
# (./mask-rcnn_swin-demo-hybrid-frozen_fpn_1xb8-1k_fashion-scenes-64px.py).
# Train: scenes_v2/train (4000); validation: scenes_v2/val (500, train garments);
# test: scenes_v2/test (500, Fashion-MNIST test garments).
_base_ = './mask-rcnn_swin-demo-hybrid_fpn_1xb8-300it_fashion-scenes-v2-64px.py'

max_iters = 1000

model = dict(backbone=dict(frozen_stages=4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.8)], gamma=0.1),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
