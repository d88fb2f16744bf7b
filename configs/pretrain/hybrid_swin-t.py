# HybridPretrain with Swin-T (embed 96, depths 2-2-6-2): the headline recipe at
# a quarter of the compute, same data, schedule and heads.
_base_ = ['./hybrid_swin-b.py']

embed_dims = 96
model = dict(
    backbone=dict(arch='tiny'),
    mim=dict(neck=dict(in_channels=embed_dims * 8)),
    contrastive=dict(neck=dict(in_channels=embed_dims * 8)),
    multilabel=dict(head=dict(in_channels=embed_dims * 8)),
)
