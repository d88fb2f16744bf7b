# Mask R-CNN, Swin-B from our pre-training, COCO 3x with multi-scale crop
# augmentation: mmdet's Swin-T 3x recipe with the backbone swapped.
_base_ = 'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py'
# mmhybrid.downstream registers HybridSwinTransformer in mmpretrain, mmdet and mmseg
custom_imports = dict(imports=['mmhybrid.downstream'], allow_failed_imports=False)

# tools/model_converters/extract_backbone.py output; or pass
# --cfg-options model.backbone.init_cfg.checkpoint=PATH
checkpoint = 'work_dirs/hybrid_swin-b/backbone.pth'

model = dict(
    backbone=dict(
        type='HybridSwinTransformer',
        embed_dims=128,
        depths=[2, 2, 18, 2],
        num_heads=[4, 8, 16, 32],
        convert_weights=False,
        init_cfg=dict(
            type='HybridPretrained',
            checkpoint=checkpoint,
            expected_new_keys=[
                'norm0.weight', 'norm0.bias', 'norm1.weight', 'norm1.bias',
                'norm2.weight', 'norm2.bias'
            ])),
    neck=dict(in_channels=[128, 256, 512, 1024]))
