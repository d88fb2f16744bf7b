"""The built demo world loads in mmpretrain, mmdet and mmseg as documented."""
import contextlib
import io
import json
import os.path as osp

import numpy as np
import torch
from mmcv.transforms import LoadImageFromFile
from mmdet.datasets import CocoDataset
from mmdet.datasets.transforms import LoadAnnotations as DetLoadAnnotations
from mmpretrain.datasets import CustomDataset
from mmseg.datasets import BaseSegDataset
from mmseg.datasets.transforms import LoadAnnotations as SegLoadAnnotations
from mmseg.evaluation import IoUMetric
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from mmhybrid.datasets import (LoadImageRobust, MultiLabelListDataset,
                               PartialMultiLabelDataset, UnlabelledImageFolder)
from mmhybrid.datasets.fashion_demo import CLASSES, SCENE_CLASSES
from ..conftest import SMALL_DEMO


def test_classification_benchmark_loads_in_custom_dataset(small_demo):
    root, _ = small_demo
    for split, count in (('train', SMALL_DEMO.num_cls_train),
                         ('test', SMALL_DEMO.num_cls_test)):
        dataset = CustomDataset(
            data_root=osp.join(root, 'cls'), ann_file=f'meta/{split}.txt',
            classes=osp.join(root, 'cls/meta/classes.txt'),
            pipeline=[dict(type='LoadImageFromFile')])
        assert len(dataset) == count and dataset.CLASSES == CLASSES
        sample = dataset[count - 1]
        assert sample['img'].shape == (64, 64, 3)
        assert 0 <= sample['gt_label'] < 10


def test_scene_multilabel_files_load(small_demo):
    root, info = small_demo
    scenes = osp.join(root, 'scenes')
    full = PartialMultiLabelDataset(data_root=scenes,
                                    ann_file='meta/train_multilabel.json')
    partial = PartialMultiLabelDataset(data_root=scenes,
                                       ann_file='meta/train_partial.json')
    listed = MultiLabelListDataset(
        data_root=scenes, ann_file='meta/train_list.txt',
        classes=osp.join(scenes, 'meta/classes.txt'))
    val = PartialMultiLabelDataset(data_root=scenes,
                                   ann_file='meta/val_multilabel.json')
    assert full.CLASSES == partial.CLASSES == listed.CLASSES == SCENE_CLASSES
    assert len(full) == len(partial) == len(listed) == SMALL_DEMO.num_train
    assert len(val) == SMALL_DEMO.num_val
    assert full.get_gt_labels() == listed.get_gt_labels()
    unlabelled = [i for i in range(len(partial)) if not partial.is_labelled(i)]
    assert len(unlabelled) == info['counts']['train_partial']['unlabelled']
    sample = PartialMultiLabelDataset(
        data_root=scenes, ann_file='meta/val_multilabel.json',
        pipeline=[dict(type='LoadImageRobust'), dict(type='PackInputs')])[0]
    assert sample['inputs'].shape == (3, 64, 64)
    assert sample['data_samples'].gt_label.max() >= 10  # the image type


def test_unlabelled_scenes_load(small_demo):
    root, _ = small_demo
    dataset = UnlabelledImageFolder(data_root=osp.join(root, 'scenes'),
                                    data_prefix='unlabelled',
                                    classes=SCENE_CLASSES,
                                    pipeline=[LoadImageRobust()])
    assert len(dataset) == SMALL_DEMO.num_unlabelled
    assert dataset[0]['img'].shape == (64, 64, 3)
    assert 'gt_label' not in dataset[0]


def coco_dataset(root, split):
    return CocoDataset(
        data_root=osp.join(root, 'scenes'),
        ann_file=f'annotations/instances_{split}.json',
        data_prefix=dict(img=f'{split}/'), metainfo=dict(classes=CLASSES),
        pipeline=[], test_mode=True)


def test_mmdet_coco_dataset_loads_instances_and_masks(small_demo):
    root, info = small_demo
    dataset = coco_dataset(root, 'val')
    assert len(dataset) == SMALL_DEMO.num_val
    instances = [dataset.get_data_info(i)['instances']
                 for i in range(len(dataset))]
    assert sum(map(len, instances)) == info['counts']['val']['instances']
    data = dataset.get_data_info(0)
    assert osp.isfile(data['img_path'])
    data = LoadImageFromFile()(data)
    assert data['img'].shape == (64, 64, 3)
    loaded = DetLoadAnnotations(with_bbox=True, with_label=True,
                                with_mask=True)(data)
    assert not loaded['gt_ignore_flags'].any()  # RLE masks are accepted
    seg = SegLoadAnnotations()(dict(
        seg_map_path=osp.join(root, 'scenes/seg/val/000000.png'),
        reduce_zero_label=False, seg_fields=[]))['gt_seg_map']
    for mask, label in zip(loaded['gt_masks'].masks,
                           loaded['gt_bboxes_labels']):
        assert (seg[mask.astype(bool)] == label + 1).all()


def coco_eval(gt_file, results, iou_type):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_file)
        evaluator = COCOeval(gt, gt.loadRes(results), iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats


def test_ground_truth_scores_ap_one_against_itself(small_demo):
    root, _ = small_demo
    for split in ('train', 'val'):
        gt_file = osp.join(root, f'scenes/annotations/instances_{split}.json')
        with open(gt_file) as f:
            annotations = json.load(f)['annotations']
        boxes = [dict(image_id=a['image_id'], category_id=a['category_id'],
                      bbox=a['bbox'], score=1.0) for a in annotations]
        masks = [dict(image_id=a['image_id'], category_id=a['category_id'],
                      segmentation=a['segmentation'], score=1.0)
                 for a in annotations]
        assert coco_eval(gt_file, boxes, 'bbox')[0] == 1.0
        assert coco_eval(gt_file, masks, 'segm')[0] == 1.0
        # and the check can fail: shifted boxes are not perfect
        shifted = [dict(b, bbox=[b['bbox'][0] + 4] + b['bbox'][1:])
                   for b in boxes]
        assert coco_eval(gt_file, shifted, 'bbox')[0] < 1.0


def test_mmseg_dataset_and_iou_metric(small_demo):
    root, _ = small_demo
    classes = ('background', ) + CLASSES
    dataset = BaseSegDataset(
        data_root=osp.join(root, 'scenes'),
        data_prefix=dict(img_path='val', seg_map_path='seg/val'),
        img_suffix='.png', seg_map_suffix='.png', reduce_zero_label=False,
        metainfo=dict(classes=classes), pipeline=[])
    assert len(dataset) == SMALL_DEMO.num_val
    load = SegLoadAnnotations()
    metric = IoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dataset.metainfo
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        assert osp.isfile(info['img_path'])
        seg = torch.from_numpy(load(info)['gt_seg_map'].astype(np.int64))
        metric.process({}, [dict(pred_sem_seg=dict(data=seg[None]),
                                 gt_sem_seg=dict(data=seg[None]))])
    present = set()
    for r in metric.results:
        present |= set(torch.nonzero(r[3]).flatten().tolist())
    results = metric.compute_metrics(metric.results)
    assert results['mIoU'] == 100.0
    assert 0 in present and len(present) > 2  # background and garments seen
