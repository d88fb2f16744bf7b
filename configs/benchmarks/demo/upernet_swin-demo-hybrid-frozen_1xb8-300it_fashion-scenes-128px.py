# Benchmark / demo: UperNet on frozen backbone features (only the decode and
# auxiliary heads learn), on the class maps of the demo scenes. The demo UperNet
# (./upernet_swin-demo-hybrid_1xb8-500it_fashion-scenes-128px.py) with the backbone
# frozen, 300 iterations of 8 scenes. Train: 3500 train scenes; validation: the
# other 500 (splits/, written by tools/benchmarks/ablation.py); test: scenes/val.
_base_ = './upernet_swin-demo-hybrid_1xb8-500it_fashion-scenes-128px.py'

max_iters = 300

model = dict(backbone=dict(frozen_stages=4))

train_dataloader = dict(
    dataset=dict(ann_file='splits/scenes_train.txt',
                 data_prefix=dict(img_path='scenes/train',
                                  seg_map_path='scenes/seg/train')))
val_dataloader = dict(
    batch_size=8,  # inference in batches: 2-3x faster on CPU than 1 image
    dataset=dict(ann_file='splits/scenes_val.txt',
                 data_prefix=dict(img_path='scenes/train',
                                  seg_map_path='scenes/seg/train')))
# test_dataloader / test_evaluator: the base's, scenes/val, in batches of 8
test_dataloader = dict(batch_size=8)

# heads from scratch on frozen features: AdamW 1e-3, warm-up, poly decay
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=30, end=max_iters,
         by_epoch=False),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
