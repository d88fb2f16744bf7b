# Ablation: MoCo v3 alone, as mmpretrain's MoCoV3: two asymmetric crops, each the
# query of the other's momentum key (the symmetric loss, 2 online + 2 momentum passes:
# view_mode='separate'), loss weight 1, on the headline backbone, data and schedule.
_base_ = ['../hybrid_swin-b.py']
model = dict(
    mim=None, multilabel=None, view_mode='separate',
    # MoCo v3's queries are the unmasked crops; no label head
    label_input=None, query_input=None,
    loss_balancer=dict(_delete_=True, type='FixedTaskWeights',
                       weights=dict(contrastive=1.0)))
train_pipeline = [dict(t, views=('view1', 'view2')) if t['type'] == 'HybridViews' else t
                  for t in _base_.train_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
