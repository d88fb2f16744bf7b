# Ablation: SimMIM alone, as mmpretrain's SimMIM recipe (SimMIMLinearDecoder +
# SimMIMHead, L1 on masked pixels, loss weight 1) on the headline backbone, data and
# schedule. Only the 'masked' view is built.
_base_ = ['../hybrid_swin-b.py']
model = dict(
    contrastive=None, multilabel=None,
    label_input=None, query_input=None,  # no label head, no query
    loss_balancer=dict(_delete_=True, type='FixedTaskWeights', weights=dict(mim=1.0)))
train_pipeline = [dict(t, views=('masked', )) if t['type'] == 'HybridViews' else t
                  for t in _base_.train_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
