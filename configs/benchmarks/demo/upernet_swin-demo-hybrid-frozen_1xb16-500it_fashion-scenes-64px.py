# Benchmark / demo: UperNet on frozen backbone features (only the decode and
# auxiliary heads learn), on the class maps of the demo scenes at their native
# 64 px (the backbone's pre-training size): 500 iterations of 16 scenes (2.3
# epochs).
# Train: 3500 train scenes; validation: the other 500 (splits/, written by
# tools/benchmarks/ablation.py); test: scenes/val.
_base_ = './upernet_swin-demo-hybrid-frozen_1xb8-300it_fashion-scenes-128px.py'

crop_size = (64, 64)
max_iters = 500

model = dict(data_preprocessor=dict(size=crop_size))
# the base's pipelines at 64 px
train_pipeline = [
    dict(t, crop_size=crop_size) if t['type'] == 'RandomCrop' else
    dict(t, scale=crop_size) if t['type'] in ('RandomResize', 'Resize') else t
    for t in _base_.train_pipeline
]
test_pipeline = [dict(t, scale=crop_size) if t['type'] == 'Resize' else t
                 for t in _base_.test_pipeline]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=16, dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(batch_size=16, dataset=dict(pipeline=test_pipeline))

# heads from scratch on frozen features: AdamW 1e-3, warm-up, poly decay
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=50, end=max_iters,
         by_epoch=False),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(interval=max_iters))
