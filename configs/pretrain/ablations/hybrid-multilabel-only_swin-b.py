# Ablation: supervised multi-label classification alone, as mmpretrain's
# ImageClassifier (global average pooling + the label head, loss weight 1) on the
# headline backbone, data and schedule; unlabelled images contribute nothing. Only the
# 'masked' view (a weakly augmented crop, never masked here) is built.
_base_ = ['../hybrid_swin-b.py']
model = dict(
    mim=None, contrastive=None,
    query_input=None,  # no contrastive query
    loss_balancer=dict(_delete_=True, type='FixedTaskWeights',
                       weights=dict(multilabel=1.0)))
train_pipeline = [dict(t, views=('masked', )) if t['type'] == 'HybridViews' else t
                  for t in _base_.train_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
