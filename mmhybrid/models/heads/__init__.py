from .label_aware_mocov3_head import LabelAwareMoCoV3Head
from .partial_multilabel_head import PartialMultiLabelLinearClsHead, is_labelled

__all__ = ['LabelAwareMoCoV3Head', 'PartialMultiLabelLinearClsHead', 'is_labelled']
