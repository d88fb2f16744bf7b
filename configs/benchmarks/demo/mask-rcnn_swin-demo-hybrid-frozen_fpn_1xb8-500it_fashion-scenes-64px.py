# Benchmark / demo: Mask R-CNN on frozen backbone features (the SSL papers'
# frozen-backbone protocol: only FPN, RPN and RoI heads learn), on the demo
# scenes at their native 64 px (the backbone's pre-training size): 500
# iterations of 8 scenes (1.1 epochs), fewer sampled anchors / proposals / RoIs
# (a scene holds at most 4 garments): 0.45 s an iteration on 2 CPU cores.
# Train: 3500 train scenes; validation: the other 500 (splits/, written by
# tools/benchmarks/ablation.py); test: scenes/val.
_base_ = './mask-rcnn_swin-demo-hybrid-frozen_fpn_1xb8-300it_fashion-scenes-128px.py'

data_root = 'data/fashion_demo/'
img_scale = (64, 64)
max_iters = 500

model = dict(train_cfg=dict(
    rpn=dict(sampler=dict(num=64)),
    rpn_proposal=dict(max_per_img=50),
    rcnn=dict(sampler=dict(num=32))))

# the base's pipelines at 64 px
train_pipeline = [dict(t, scale=img_scale) if t['type'] == 'Resize' else t
                  for t in _base_.train_pipeline]
test_pipeline = [dict(t, scale=img_scale) if t['type'] == 'Resize' else t
                 for t in _base_.test_pipeline]
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=16, dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(batch_size=16, dataset=dict(pipeline=test_pipeline))

# heads from scratch on frozen features: AdamW 1e-3, warm-up, x0.1 at 80%
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.8)], gamma=0.1),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(interval=max_iters))
