# UperNet, Swin-B from our pre-training, ADE20K 160k iterations at 512 px:
# mmseg's Swin-B recipe with the backbone swapped.
_base_ = ('mmseg::swin/'
          'swin-base-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py')
# mmhybrid.downstream registers HybridSwinTransformer in mmpretrain, mmdet and mmseg
custom_imports = dict(imports=['mmhybrid.downstream'], allow_failed_imports=False)

# tools/model_converters/extract_backbone.py output; or pass
# --cfg-options model.backbone.init_cfg.checkpoint=PATH
checkpoint = 'work_dirs/hybrid_swin-b/backbone.pth'

model = dict(
    backbone=dict(
        # mmseg's SwinTransformer + load report (mmhybrid.downstream.hybrid_swin);
        # window 7 (mmseg's), pre-trained with 6: tables resized at load
        type='HybridSwinTransformer',
        init_cfg=dict(
            type='HybridPretrained',
            checkpoint=checkpoint,
            # mmseg's Swin normalises every output stage; pre-training had
            # only the last norm (norm3)
            expected_new_keys=[
                'norm0.weight', 'norm0.bias', 'norm1.weight', 'norm1.bias',
                'norm2.weight', 'norm2.bias'
            ])))
