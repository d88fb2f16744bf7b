# HybridPretrain, headline recipe: vanilla Swin-B, multi-label classification +
# SimMIM + MoCo v3 in one step, 100 epochs at 192 px, 16 GPUs x 128 = 2048 / step.
#
# Window 6 at 192 px as SimMIM's Swin-B: 192 / 32 = 6, so the last stage is exactly
# one window and pre-training costs (192/224)^2 = 73% of 224 px. Downstream Swin-B
# uses window 7 (224 px fine-tune) or 7/12 (detection/segmentation); the relative
# position bias tables are interpolated at load time and the load report says so.
_base_ = [
    '../_base_/datasets/ml-images_hybrid-views_192px.py',
    '../_base_/schedules/adamw-coslr-100e_simmim-swin.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmhybrid'], allow_failed_imports=False)
default_scope = 'mmpretrain'

# ML-Images: 11,166 object classes, followed in the same label space by the image
# types (styles) your annotation file lists; must equal len(metainfo.classes).
num_classes = 11166 + 8
embed_dims = 128  # Swin-B; channels after stage 4 = 8 * embed_dims
temperature = 0.2

model = dict(
    type='HybridPretrain',
    # 'shared': the online pass over the masked view feeds the MIM decoder and the
    # momentum encoder keys a second view; the label head and the contrastive
    # query read one more online pass over the same crop without its mask, as
    # every downstream use sees it (about 7/3 of a SimMIM step; reading the
    # masked pass instead costs 4/3 and transferred worse on all four metrics of
    # the ablation, results/ablation.md: hybrid-shared vs hybrid-shared-unmasked).
    view_mode='shared',
    label_input='unmasked',
    query_input='unmasked',
    # One contrastive pair per step (masked-view query vs view1 key), not MoCo v3's
    # symmetric two: the swapped pair would double the backbone passes (~8/3).
    symmetric=False,
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(
        type='SimMIMSwinTransformer',
        arch='base',
        img_size=192,
        drop_path_rate=0.1,
        stage_cfgs=dict(block_cfgs=dict(window_size=6))),
    mim=dict(
        neck=dict(type='SimMIMLinearDecoder', in_channels=embed_dims * 8,
                  encoder_stride=32),
        head=dict(type='SimMIMHead', patch_size=4,
                  loss=dict(type='PixelReconstructionLoss', criterion='L1',
                            channel=3))),
    contrastive=dict(
        base_momentum=0.01,
        neck=dict(type='NonLinearNeck', in_channels=embed_dims * 8,
                  hid_channels=4096, out_channels=256, num_layers=2,
                  with_bias=False, with_last_bn=True, with_last_bn_affine=False,
                  with_last_bias=False, with_avg_pool=True,
                  norm_cfg=dict(type='SyncBN')),
        head=dict(
            type='MoCoV3Head',
            predictor=dict(type='NonLinearNeck', in_channels=256,
                           hid_channels=4096, out_channels=256, num_layers=2,
                           with_bias=False, with_last_bn=False,
                           with_last_bn_affine=False, with_last_bias=False,
                           with_avg_pool=False, norm_cfg=dict(type='SyncBN')),
            loss=dict(type='CrossEntropyLoss', loss_weight=2 * temperature),
            temperature=temperature)),
    multilabel=dict(
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='PartialMultiLabelLinearClsHead',
                  num_classes=num_classes, in_channels=embed_dims * 8,
                  loss=dict(type='AsymmetricLoss', gamma_pos=0.0, gamma_neg=4.0,
                            clip=0.05),
                  # classes an image's annotation neither lists as positive nor as
                  # verified negative: 'negative' (the classic multi-label reading)
                  # or 'ignore' (no loss; for partial labels, e.g. Open Images)
                  unknown='negative')),
    # Fixed weights that lead with the labels. Learned uncertainty weights
    # (Kendall et al. 2018; dict(type='UncertaintyTaskWeights')) kept all three
    # near 1 (0.91-1.16) and the label task, the one that transfers best alone,
    # ended with a higher loss than alone; 1 : 1 : 4 helped on the validation
    # split over 3 seeds (results/README.md, "Tried changes").
    loss_balancer=dict(type='FixedTaskWeights',
                       weights=dict(mim=1.0, contrastive=1.0, multilabel=4.0)),
)

# checkpoints are written to a temporary file and renamed: a job killed while
# saving leaves the previous checkpoint as the last complete one
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3,
                    backend_args=dict(backend='atomic_local')))
# RNG states travel with the checkpoints (a resumed run continues exactly); a
# checkpoint trained on another label list is refused
custom_hooks = [dict(type='RandomStateHook'), dict(type='LabelSpaceHook')]
