# Benchmark, dense protocol v3 (issue #26; `ablation.py --dense-scenes v3`): the
# frozen-backbone UperNet of protocol v2, unchanged, on the class maps of
# scenes_v3/: the scenes of v2 with validation and test splits of 4000 scenes
# instead of 500 (`build_fashion_demo.py --dense-scenes v3`; its train split and
# the first 500 val / test scenes are v2's), so that the choice of test scenes
# moves the mIoU less than the pre-trained backbones differ.
# Train: scenes_v3/train (4000); validation: scenes_v3/val (4000, train garments);
# test: scenes_v3/test (4000, Fashion-MNIST test garments).
_base_ = './upernet_swin-demo-hybrid-frozen_1xb16-1k_fashion-scenes-v2-64px.py'

data_root = 'data/fashion_demo/'
scenes = 'scenes_v3/'

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
