from .knn import knn_top1
from .label_map import label_map, multilabel_targets
from .linear_probe import linear_probe, train_linear

__all__ = ['knn_top1', 'label_map', 'multilabel_targets', 'linear_probe',
           'train_linear']
