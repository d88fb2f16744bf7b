from .partial_multilabel_head import PartialMultiLabelLinearClsHead, is_labelled

__all__ = ['PartialMultiLabelLinearClsHead', 'is_labelled']
