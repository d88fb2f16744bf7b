# Mask R-CNN, Swin-B from our pre-training, COCO 1x: mmdet's Swin-T recipe with
# the backbone swapped; everything else (data, schedule, AdamW) is mmdet's.
_base_ = 'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'
# mmhybrid.downstream registers HybridSwinTransformer in mmpretrain, mmdet and mmseg
custom_imports = dict(imports=['mmhybrid.downstream'], allow_failed_imports=False)

# tools/model_converters/extract_backbone.py output; or pass
# --cfg-options model.backbone.init_cfg.checkpoint=PATH
checkpoint = 'work_dirs/hybrid_swin-b/backbone.pth'

model = dict(
    backbone=dict(
        # mmdet's SwinTransformer + load report (mmhybrid.downstream.hybrid_swin)
        type='HybridSwinTransformer',
        embed_dims=128,
        depths=[2, 2, 18, 2],
        num_heads=[4, 8, 16, 32],
        # window 7 (mmdet's), pre-trained with 6: the relative position bias
        # tables are resized at load and listed in the log
        convert_weights=False,  # already in mmdet's key layout
        init_cfg=dict(
            type='HybridPretrained',
            checkpoint=checkpoint,
            # mmdet's Swin normalises every output stage; pre-training had
            # only the last norm (norm3)
            expected_new_keys=[
                'norm0.weight', 'norm0.bias', 'norm1.weight', 'norm1.bias',
                'norm2.weight', 'norm2.bias'
            ])),
    neck=dict(in_channels=[128, 256, 512, 1024]))
