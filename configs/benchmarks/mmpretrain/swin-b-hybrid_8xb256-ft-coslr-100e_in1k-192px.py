# Fine-tune Swin-B from our pre-training on ImageNet-1k, 100 epochs at 192 px with
# layer-wise lr decay: mmpretrain's SimMIM Swin-B fine-tuning recipe with the
# backbone's weights swapped (same window 6 and size as pre-training).
_base_ = 'mmpretrain::simmim/benchmarks/swin-base-w6_8xb256-coslr-100e_in1k-192px.py'
# mmhybrid.downstream registers HybridSwinTransformer in mmpretrain, mmdet and mmseg
custom_imports = dict(imports=['mmhybrid.downstream'], allow_failed_imports=False)

# tools/model_converters/extract_backbone.py output; or pass
# --cfg-options model.backbone.init_cfg.checkpoint=PATH
checkpoint = 'work_dirs/hybrid_swin-b/backbone.pth'

model = dict(
    backbone=dict(
        # mmpretrain's SwinTransformer + load report (mmhybrid.downstream)
        type='HybridSwinTransformer',
        init_cfg=dict(type='HybridPretrained', checkpoint=checkpoint)))

# a base inherited through `mmpretrain::` tags its collate_fn with `_scope_`,
# which mmengine's Runner passes on to the function: restate it untagged
train_dataloader = dict(collate_fn=dict(_delete_=True, type='default_collate'))
val_dataloader = dict(collate_fn=dict(_delete_=True, type='default_collate'))
test_dataloader = dict(collate_fn=dict(_delete_=True, type='default_collate'))
