# Benchmark / demo: Mask R-CNN on frozen backbone features (the SSL papers'
# frozen-backbone protocol: only FPN, RPN and RoI heads learn), on the demo scenes.
# The demo Mask R-CNN (./mask-rcnn_swin-demo-hybrid_fpn_1xb8-1e_fashion-scenes-128px.py)
# with the backbone frozen, 300 iterations of 8 scenes, cheaper RoI sampling for
# CPU (at most 4 garments a scene). Train: 3500 train scenes; validation: the other
# 500 (splits/, written by tools/benchmarks/ablation.py); test: scenes/val.
_base_ = './mask-rcnn_swin-demo-hybrid_fpn_1xb8-1e_fashion-scenes-128px.py'

data_root = 'data/fashion_demo/'
max_iters = 300

model = dict(
    backbone=dict(frozen_stages=4),  # patch embedding, 4 stages and their norms
    roi_head=dict(
        # 2 x 2 samples per RoI bin instead of adaptive: RoIAlign dominated the
        # CPU step
        bbox_roi_extractor=dict(roi_layer=dict(sampling_ratio=2)),
        mask_roi_extractor=dict(roi_layer=dict(sampling_ratio=2))),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=300, max_per_img=100),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=100)))

train_dataloader = dict(
    dataset=dict(ann_file='splits/scenes_train.json',
                 data_prefix=dict(img='scenes/train/')))
val_dataloader = dict(
    batch_size=8,  # inference in batches: 2-3x faster on CPU than 1 image
    dataset=dict(ann_file='splits/scenes_val.json',
                 data_prefix=dict(img='scenes/train/')))
# test_dataloader / test_evaluator: the base's, scenes/val, in batches of 8
test_dataloader = dict(batch_size=8)
val_evaluator = dict(ann_file=data_root + 'splits/scenes_val.json')

# heads from scratch on frozen features: AdamW 1e-3, warm-up, x0.1 at 80%
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.8)], gamma=0.1),
]
# evaluated once, after training (tools/train.py --final-metrics)
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=max_iters,
                                     max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
