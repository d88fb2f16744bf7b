# Benchmark, dense protocol v2 (issue #26; `ablation.py --dense-scenes v2`): UperNet
# on frozen backbone features (only the decode and auxiliary heads learn) on the
# class maps of the dense scene set v2 (scenes_v2/: 1-2 large garments a scene,
# boxes apart, one-colour backgrounds; `build_fashion_demo.py --dense-scenes v2`):
# 1000 iterations of 16 scenes at 64 px, heads' AdamW lr 4e-3, as the first frozen
# protocol (./upernet_swin-demo-hybrid-frozen_1xb16-1k_fashion-scenes-64px.py).
# Train: scenes_v2/train (4000); validation: scenes_v2/val (500, train garments);
# test: scenes_v2/test (500, Fashion-MNIST test garments).
_base_ = './upernet_swin-demo-hybrid_1xb16-300it_fashion-scenes-v2-64px.py'

max_iters = 1000

model = dict(backbone=dict(frozen_stages=4))
optim_wrapper = dict(optimizer=dict(lr=4e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=50, end=max_iters,
         by_epoch=False),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(interval=max_iters))
