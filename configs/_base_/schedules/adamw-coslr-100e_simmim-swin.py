# SimMIM Swin pre-training schedule (mmpretrain::simmim/simmim_swin-base-w6_8xb256-
# amp-coslr-100e_in1k-192px.py): AdamW, 10-epoch linear warm-up, cosine to 100 epochs,
# lr 2e-4 per 512 images, no weight decay on norms, biases, position tables.
# AMP in bf16. fp16 (GPUs without bf16, e.g. V100 / T4):
#   --cfg-options optim_wrapper.dtype=float16      (dynamic loss scaling either way)
# fused AdamW (one kernel for all parameters on the GPU; torch >= 2.4 on CPU too):
#   --cfg-options optim_wrapper.optimizer.fused=True
optim_wrapper = dict(
    type='AmpOptimWrapper',
    dtype='bfloat16',  # autocast dtype (AmpOptimWrapper's default None is fp16)
    optimizer=dict(
        type='AdamW', lr=2e-4 * 2048 / 512, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=5.0),
    paramwise_cfg=dict(
        custom_keys={
            'norm': dict(decay_mult=0.0),
            'bias': dict(decay_mult=0.0),
            'absolute_pos_embed': dict(decay_mult=0.),
            'relative_position_bias_table': dict(decay_mult=0.),
            'mask_token': dict(decay_mult=0.),
            # the learned task log-variances are not weights to shrink
            'balancer.log_vars': dict(decay_mult=0.),
        }))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 2e-4, by_epoch=True, begin=0,
         end=10, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=90, eta_min=1e-5 * 2048 / 512,
         by_epoch=True, begin=10, end=100, convert_to_iter_based=True),
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100)
# auto_scale_lr: lr above is for 2048 images per step (16 GPUs x 128)
auto_scale_lr = dict(base_batch_size=2048)
