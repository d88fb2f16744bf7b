# Demo: linear probe of the demo Swin (frozen) on the Fashion-MNIST images of the
# demo world (10 classes, top-1), 64 px, CPU. The demo fine-tuning data and
# backbone with the linear-probe model of
# ../mmpretrain/swin-b-hybrid_8xb2048-linear-coslr-90e_in1k-192px.py (MAE's:
# pooled features, affine-free BatchNorm, linear classifier).
_base_ = './swin-demo-hybrid_1xb64-ft-3e_fashion-cls-64px.py'

max_epochs = 3

model = dict(
    backbone=dict(drop_path_rate=0., frozen_stages=3),
    neck=[
        dict(type='GlobalAveragePooling'),
        dict(type='ClsBatchNormNeck', input_features=384),
    ],
    head=dict(
        loss=dict(_delete_=True, type='CrossEntropyLoss'),
        init_cfg=dict(
            _delete_=True, type='TruncNormal', layer='Linear', std=0.01)),
    train_cfg=dict(_delete_=True))

# SGD instead of LARS: at MAE's lr per image (0.025 for 64) LARS moves the
# weights by lr * 1e-3 of their norm per step, far too little for a demo-sized
# set (measured on 2000 images: LARS 17% top-1 after 3 epochs, SGD 0.01 54% after
# 2, SGD 0.1 unstable)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 1, by_epoch=True, begin=1,
         end=max_epochs, eta_min=0.0, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
