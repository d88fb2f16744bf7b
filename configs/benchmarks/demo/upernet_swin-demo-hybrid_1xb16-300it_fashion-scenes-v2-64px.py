# Benchmark / demo candidate (issue #26): UperNet fine-tuned end to end on the
# class maps of the dense scene set v2 (scenes_v2/: 1-2 large garments a scene,
# boxes apart, one-colour backgrounds; DENSE_SCENE_STYLES in
# mmhybrid/datasets/fashion_demo/scenes.py), built with
# `build_fashion_demo.py --dense-scenes v2`. The fine-tuned 64 px protocol
# (./upernet_swin-demo-hybrid_1xb16-1k_fashion-scenes-64px.py, AdamW 1e-3) on a
# shorter schedule (results/dense_scenes.md).
# Train: scenes_v2/train (4000); validation: scenes_v2/val (500, train
# garments); test: scenes_v2/test (500, Fashion-MNIST test garments).
_base_ = './upernet_swin-demo-hybrid_1xb16-1k_fashion-scenes-64px.py'

data_root = 'data/fashion_demo/'
scenes = 'scenes_v2/'
max_iters = 300

train_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='',
                 data_prefix=dict(img_path=scenes + 'train',
                                  seg_map_path=scenes + 'seg/train')))
val_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='',
                 data_prefix=dict(img_path=scenes + 'val',
                                  seg_map_path=scenes + 'seg/val')))
test_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='',
                 data_prefix=dict(img_path=scenes + 'test',
                                  seg_map_path=scenes + 'seg/test')))

param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=30, end=max_iters,
         by_epoch=False),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
