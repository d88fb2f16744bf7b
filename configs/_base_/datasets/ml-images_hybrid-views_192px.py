# Multi-label pre-training data (ImageNet-21K / ML-Images style) with the three
# HybridPretrain views per image. Annotation: mmpretrain's MultiLabelDataset JSON
# ({"metainfo": {"classes": [...]}, "data_list": [{"img_path": ..., "gt_label": [...]}]});
# the label space holds object classes and image types; "gt_label": [] = unlabelled;
# an optional "gt_negative" list (verified negatives) makes an entry partially labelled.
# A .lblidx label index (tools/dataset_converters/build_label_index.py) can replace
# the JSON file for millions of images.
dataset_type = 'PartialMultiLabelDataset'
data_root = 'data/ml-images/'
img_size = 192

data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

# MoCo v3's asymmetric augmentations (mmpretrain::_base_/datasets/imagenet_bs512_mocov3.py)
mocov3_view = [
    dict(type='RandomResizedCrop', scale=img_size, crop_ratio_range=(0.2, 1.),
         backend='pillow'),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                          saturation=0.2, hue=0.1)],
         prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf',
         prob=1.),
    dict(type='Solarize', thr=128, prob=0.),
    dict(type='RandomFlip', prob=0.5),
]
view_pipelines = dict(
    # SimMIM's weak augmentation; in 'shared' mode also the query and label view.
    masked=[
        dict(type='RandomResizedCrop', scale=img_size,
             crop_ratio_range=(0.67, 1.0)),
        dict(type='RandomFlip', prob=0.5),
    ],
    view1=mocov3_view,
    view2=[
        dict(t, prob=0.1) if t['type'] == 'GaussianBlur' else
        dict(t, prob=0.2) if t['type'] == 'Solarize' else t
        for t in mocov3_view
    ],
)
train_pipeline = [
    # one Pillow decode that also checks the file (truncation, bombs) instead of
    # Pillow's check + OpenCV's decode: 1.18x the pipeline's rate per loader
    # core on 500x375 JPEGs (results/pipeline_rate.md); pixels may differ from
    # OpenCV's by a level, which pre-training does not mind
    dict(type='LoadImageRobust', on_error='raise', imdecode_backend='pillow'),
    # build only the views the model reads (HybridPretrain.required_views, checked
    # every step): the headline 'shared' mode reads 'masked' and 'view1'
    dict(type='HybridViews',
         view_pipelines=view_pipelines,
         views=('masked', 'view1'),
         mask_generator=dict(type='SimMIMMaskGenerator', input_size=img_size,
                             mask_patch_size=32, model_patch_size=4,
                             mask_ratio=0.6)),
    # gt_negative: the verified negatives of partially labelled images
    dict(type='PackInputs', algorithm_keys=('gt_negative', ),
         meta_keys=('sample_idx', 'img_path', 'ori_shape', 'img_shape',
                    'view_names')),
]

train_dataloader = dict(
    batch_size=128,  # per GPU
    num_workers=10,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='meta/train.json',
        data_prefix='images/',
        pipeline=train_pipeline))
