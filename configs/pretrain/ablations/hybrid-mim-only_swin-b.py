# Ablation: the headline HybridPretrain with only the mim task on (same backbone,
# data, schedule; the views the model does not read are simply unused).
_base_ = ['../hybrid_swin-b.py']
model = dict(contrastive=None, multilabel=None)
