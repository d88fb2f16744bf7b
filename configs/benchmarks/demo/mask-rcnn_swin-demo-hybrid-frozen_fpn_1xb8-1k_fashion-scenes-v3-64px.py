# Benchmark, dense protocol v3 (issue #26; `ablation.py --dense-scenes v3`): the
# frozen-backbone Mask R-CNN of protocol v2, unchanged, on scenes_v3/: the scenes
# of v2 with validation and test splits of 4000 scenes instead of 500
# (`build_fashion_demo.py --dense-scenes v3`; its train split and the first 500
# val / test scenes are v2's). On 500 test scenes one trained model's box AP moves
# by 0.5-0.6 with the choice of scenes (split-half std,
# tools/benchmarks/dense_eval_noise.py), as much as the spread over seeds.
# Train: scenes_v3/train (4000); validation: scenes_v3/val (4000, train garments);
# test: scenes_v3/test (4000, Fashion-MNIST test garments).
_base_ = './mask-rcnn_swin-demo-hybrid-frozen_fpn_1xb8-1k_fashion-scenes-v2-64px.py'

data_root = 'data/fashion_demo/'
scenes = 'scenes_v3/'

train_dataloader = dict(
    dataset=dict(data_root=data_root,
                 ann_file=scenes + 'annotations/instances_train.json',
                 data_prefix=dict(img=scenes + 'train/')))
val_dataloader = dict(
    dataset=dict(data_root=data_root,
                 ann_file=scenes + 'annotations/instances_val.json',
                 data_prefix=dict(img=scenes + 'val/')))
test_dataloader = dict(
    dataset=dict(data_root=data_root,
                 ann_file=scenes + 'annotations/instances_test.json',
                 data_prefix=dict(img=scenes + 'test/')))
val_evaluator = dict(ann_file=data_root + scenes + 'annotations/instances_val.json')
test_evaluator = dict(ann_file=data_root + scenes +
                      'annotations/instances_test.json')
