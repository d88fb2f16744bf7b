"""The benchmark protocol: pre-training budget and the four evaluations.

``FULL`` is the protocol of ``results/ablation.md``; ``QUICK`` runs the same code
path at toy size (what the tests run).

Two protocol axes change the labels the pre-training reads (each keeps the
protocol dict, and the hashes, of the records written before it while it
holds its default: :attr:`Protocol.LATER_FIELDS`):

- ``label_fraction``: a class-balanced share of the object labels is kept;
- ``held_out_classes``: the labels never name these garment classes (their
  object images stay in the pool unlabelled) and the frozen probes also
  report accuracy on the held-out and the known classes apart
  (:data:`HELD_OUT_METRICS`): does the backbone generalise beyond its labels?
  With a label budget as well, the known garments keep the budget's labels.
"""
from dataclasses import asdict, dataclass, field, replace
from typing import Dict, List, Optional, Tuple

DEMO = 'configs/benchmarks/demo/'


@dataclass(frozen=True)
class Evaluation:
    """One downstream evaluation trained by ``tools/train.py`` from a config.

    Args:
        name (str): Short name (work-dir and result key prefix).
        config (str): Config path; its ``default_scope`` picks the library.
        metrics (dict): Result metric name -> key the evaluator reports.
        options (list[str]): Extra ``--cfg-options``.
        scale (float): Multiplies every reported value (mmdet's COCO AP is a
            fraction; tables show it in %, as papers do).
        opt_in (bool): Runs only when named (``--evaluations``), not in the
            default set.
    """
    name: str
    config: str
    metrics: Dict[str, str]
    options: List[str] = field(default_factory=list)
    scale: float = 1.0
    opt_in: bool = False


FINETUNE_CONFIG = DEMO + 'swin-demo-hybrid_1xb64-ft-10pct-20e_fashion-cls-64px.py'
DETECTION_CONFIG = DEMO + 'mask-rcnn_swin-demo-hybrid-frozen_fpn_1xb8-1k_fashion-scenes-64px.py'
SEGMENTATION_CONFIG = DEMO + 'upernet_swin-demo-hybrid-frozen_1xb16-1k_fashion-scenes-64px.py'

EVALUATIONS = [
    Evaluation('finetune', FINETUNE_CONFIG, {'ft10pct_top1': 'accuracy/top1'}),
    # dense tasks on frozen features, FPN / heads from scratch (the SSL papers'
    # protocol): fine-tuned end to end, the training run's own spread over seeds
    # hid every gap (results/README.md, "Frozen dense evaluations")
    Evaluation('detection', DETECTION_CONFIG,
               {'det_box_ap': 'coco/bbox_mAP', 'det_mask_ap': 'coco/segm_mAP'},
               scale=100.),
    Evaluation('segmentation', SEGMENTATION_CONFIG, {'seg_miou': 'mIoU'}),
]

# the dense protocol v2 (issue 26): the same frozen-backbone heads on the dense
# scene set scenes_v2/ (built by `build_fashion_demo.py --dense-scenes v2`), whose
# own val / test splits the heads are chosen and tested on
DETECTION_CONFIG_V2 = DEMO + 'mask-rcnn_swin-demo-hybrid-frozen_fpn_1xb8-1k_fashion-scenes-v2-64px.py'
SEGMENTATION_CONFIG_V2 = DEMO + 'upernet_swin-demo-hybrid-frozen_1xb16-1k_fashion-scenes-v2-64px.py'
# the dense protocol v3: the same heads, on scenes_v3/ (v2's scenes with 4000
# validation and 4000 test scenes instead of 500: on 500 the choice of test scenes
# moved one model's box AP as much as the seeds differed)
DETECTION_CONFIG_V3 = DEMO + 'mask-rcnn_swin-demo-hybrid-frozen_fpn_1xb8-1k_fashion-scenes-v3-64px.py'
SEGMENTATION_CONFIG_V3 = DEMO + 'upernet_swin-demo-hybrid-frozen_1xb16-1k_fashion-scenes-v3-64px.py'
#: ``Protocol.dense_scenes`` -> (detection config, segmentation config); '' is the
#: protocol of results/ablation.md (scenes/, what the pre-training reads)
DENSE_CONFIGS = {
    '': (DETECTION_CONFIG, SEGMENTATION_CONFIG),
    'v2': (DETECTION_CONFIG_V2, SEGMENTATION_CONFIG_V2),
    'v3': (DETECTION_CONFIG_V3, SEGMENTATION_CONFIG_V3),
}


# fine-tuned end to end (issue #27: the method's headline dense numbers are
# fine-tuned): opt-in evaluations of the scene sets listed, 2000 iterations each
# (measured on 2 cores, random init: ~9.5 + ~9.8 minutes with evaluation)
DETECTION_FINETUNED_CONFIG_V3 = DEMO + 'mask-rcnn_swin-demo-hybrid_fpn_1xb8-2k_fashion-scenes-v3-64px.py'
SEGMENTATION_FINETUNED_CONFIG_V3 = DEMO + 'upernet_swin-demo-hybrid_1xb16-2k_fashion-scenes-v3-64px.py'
# the fine-tuned Mask R-CNN's schedules (``Protocol.finetuned_detection_iters``):
# after 2000 iterations random-init seeds ended at box AP 13.7 / 34.9 / 33.0, one
# detector taking off ~500 iterations after the others (results/dense_v3_finetuned)
DETECTION_FINETUNED_4K_CONFIG_V3 = DEMO + 'mask-rcnn_swin-demo-hybrid_fpn_1xb8-4k_fashion-scenes-v3-64px.py'
# the fine-tuned UperNet's schedules (``Protocol.finetuned_segmentation_iters``):
# after 2000 iterations multilabel's mIoU (31.96 +- 2.03 over pre-training seeds)
# was 4.49 above random init's (27.46 +- 1.63), short of 3 std, on a curve still
# climbing (results/dense_v3_finetuned, results/dense_scenes_gpu)
SEGMENTATION_FINETUNED_4K_CONFIG_V3 = DEMO + 'upernet_swin-demo-hybrid_1xb16-4k_fashion-scenes-v3-64px.py'
#: ``Protocol.dense_scenes`` -> the fine-tuned heads' configs by task
#: ('detection', 'segmentation'), each by schedule (iterations)
FINETUNED_DENSE_CONFIGS = {
    'v3': dict(detection={2000: DETECTION_FINETUNED_CONFIG_V3,
                          4000: DETECTION_FINETUNED_4K_CONFIG_V3},
               segmentation={2000: SEGMENTATION_FINETUNED_CONFIG_V3,
                             4000: SEGMENTATION_FINETUNED_4K_CONFIG_V3}),
}
# the fine-tuned Mask R-CNN's neck and heads (``Protocol.finetuned_detection_heads``):
# '' the un-normalised FPN and heads of the frozen protocol, with which one
# random-init seed took off ~500 iterations late and a contrastive backbone never
# did (box AP 9.1; results/dense_v3_ft4k); 'gn-all' mmdet's GroupNorm FPN and
# heads (the detectors trained from scratch and fine-tuned from MoCo normalise them)
DETECTION_FINETUNED_4K_GN_ALL_CONFIG_V3 = DEMO + 'mask-rcnn_swin-demo-hybrid_fpn-gn-all_1xb8-4k_fashion-scenes-v3-64px.py'
#: ``Protocol.finetuned_detection_heads`` -> scene set -> schedule -> the
#: fine-tuned Mask R-CNN with those heads ('' is :data:`FINETUNED_DENSE_CONFIGS`')
FINETUNED_DETECTION_HEADS = {
    'gn-all': {'v3': {4000: DETECTION_FINETUNED_4K_GN_ALL_CONFIG_V3}},
}
FINETUNED_DETECTION_ITERS = 2000  # the schedules of the first records
FINETUNED_SEGMENTATION_ITERS = 2000
#: fine-tuned task -> (its head, its default schedule); the protocol field of a
#: task's schedule is ``finetuned_<task>_iters``
FINETUNED_HEADS = {'detection': ('Mask R-CNN', FINETUNED_DETECTION_ITERS),
                   'segmentation': ('UperNet', FINETUNED_SEGMENTATION_ITERS)}
# the fine-tuned dense metrics, reported only by a run that names their evaluations
FINETUNED_DENSE_METRICS = ['det_ft_box_ap', 'det_ft_mask_ap', 'seg_ft_miou']


def finetuned_dense_evaluations(
        dense_scenes: str,
        detection_iters: int = FINETUNED_DETECTION_ITERS,
        segmentation_iters: int = FINETUNED_SEGMENTATION_ITERS,
        detection_heads: str = '') -> List[Evaluation]:
    """The opt-in fine-tuned Mask R-CNN and UperNet of a scene set (none for a
    set without them), on their ``detection_iters`` / ``segmentation_iters``
    schedules (:data:`FINETUNED_DENSE_CONFIGS`), the Mask R-CNN with the neck
    and heads ``detection_heads`` names (:data:`FINETUNED_DETECTION_HEADS`)."""
    if dense_scenes not in FINETUNED_DENSE_CONFIGS:
        return []
    configs = FINETUNED_DENSE_CONFIGS[dense_scenes]
    det = (FINETUNED_DETECTION_HEADS[detection_heads][dense_scenes][detection_iters]
           if detection_heads else configs['detection'][detection_iters])
    seg = configs['segmentation'][segmentation_iters]
    return [
        Evaluation('detection-finetuned', det, {'det_ft_box_ap': 'coco/bbox_mAP',
                                                'det_ft_mask_ap': 'coco/segm_mAP'},
                   scale=100., opt_in=True),
        Evaluation('segmentation-finetuned', seg, {'seg_ft_miou': 'mIoU'},
                   opt_in=True),
    ]


#: every evaluation name of any scene set (the tool's choices)
EVALUATION_NAMES = [ev.name for ev in EVALUATIONS] + sorted(
    {ev.name for scenes in FINETUNED_DENSE_CONFIGS
     for ev in finetuned_dense_evaluations(scenes)})


def _check_dense_scenes(dense_scenes: str) -> None:
    if dense_scenes not in DENSE_CONFIGS:
        raise ValueError(f'unknown dense scene set {dense_scenes!r}; known: '
                         f'{sorted(DENSE_CONFIGS)}')


def _check_finetuned_iters(dense_scenes: str, **iters: int) -> None:
    """Refuse a fine-tuned schedule (``detection=4000``, ``segmentation=...``)
    the scene set does not have (the default one is every set's, used or not)."""
    for task, n in iters.items():
        head, default = FINETUNED_HEADS[task]
        known = sorted(FINETUNED_DENSE_CONFIGS.get(dense_scenes, {}).get(task, {}))
        if n != default and n not in known:
            raise ValueError(
                f'the dense scene set {dense_scenes!r} has no fine-tuned {head} of '
                f'{n} iterations; its schedules: {known or "none"}')


def _check_finetuned_detection_heads(dense_scenes: str, iters: int,
                                     heads: str) -> None:
    """Refuse fine-tuned Mask R-CNN heads the tool does not know, or that the
    scene set lacks on the schedule ``iters``."""
    if not heads:
        return
    if heads not in FINETUNED_DETECTION_HEADS:
        raise ValueError(f'unknown fine-tuned Mask R-CNN heads {heads!r}; known: '
                         f"{['', *sorted(FINETUNED_DETECTION_HEADS)]}")
    known = sorted(FINETUNED_DETECTION_HEADS[heads].get(dense_scenes, {}))
    if iters not in known:
        raise ValueError(
            f'the dense scene set {dense_scenes!r} has no fine-tuned Mask R-CNN '
            f'with {heads} heads of {iters} iterations; its {heads} schedules: '
            f'{known or "none"}')


def evaluations_for(dense_scenes: str = '',
                    finetuned_detection_iters: int = FINETUNED_DETECTION_ITERS,
                    finetuned_segmentation_iters: int = FINETUNED_SEGMENTATION_ITERS,
                    finetuned_detection_heads: str = '') -> List[Evaluation]:
    """:data:`EVALUATIONS` with the detection and segmentation configs of the
    dense scene set ``dense_scenes`` (a key of :data:`DENSE_CONFIGS`), then its
    opt-in fine-tuned ones (:func:`finetuned_dense_evaluations`)."""
    _check_dense_scenes(dense_scenes)
    _check_finetuned_iters(dense_scenes, detection=finetuned_detection_iters,
                           segmentation=finetuned_segmentation_iters)
    _check_finetuned_detection_heads(dense_scenes, finetuned_detection_iters,
                                     finetuned_detection_heads)
    det, seg = DENSE_CONFIGS[dense_scenes]
    configs = dict(detection=det, segmentation=seg)
    return [replace(ev, config=configs.get(ev.name, ev.config))
            for ev in EVALUATIONS] + finetuned_dense_evaluations(
                dense_scenes, finetuned_detection_iters, finetuned_segmentation_iters,
                finetuned_detection_heads)


# the frozen probes on the known / the held-out garment classes apart, each a
# probe trained and tested on those classes' images only; only a protocol with
# ``held_out_classes`` reports them (older records and other runs lack them)
HELD_OUT_METRICS = ['knn_top1_known', 'linear_top1_known', 'knn_top1_held_out',
                    'linear_top1_held_out']
# every metric is "higher is better"; the frozen probes run in-process
METRICS = ['knn_top1', 'linear_top1', 'ft10pct_top1', 'det_box_ap', 'det_mask_ap',
           'seg_miou'] + FINETUNED_DENSE_METRICS + HELD_OUT_METRICS
#: metrics a report shows only when a record has them
OPTIONAL_METRICS = FINETUNED_DENSE_METRICS + HELD_OUT_METRICS
METRIC_TITLES = {
    'knn_top1': 'kNN top-1 (frozen)',
    'linear_top1': 'linear top-1 (frozen)',
    'ft10pct_top1': 'fine-tune 10% labels top-1',
    'det_box_ap': 'Mask R-CNN box AP (frozen)',
    'det_mask_ap': 'Mask R-CNN mask AP (frozen)',
    'seg_miou': 'UperNet mIoU (frozen)',
    'det_ft_box_ap': 'Mask R-CNN box AP (fine-tuned)',
    'det_ft_mask_ap': 'Mask R-CNN mask AP (fine-tuned)',
    'seg_ft_miou': 'UperNet mIoU (fine-tuned)',
    'knn_top1_known': 'known classes: kNN top-1 (frozen)',
    'linear_top1_known': 'known classes: linear top-1 (frozen)',
    'knn_top1_held_out': 'held-out classes: kNN top-1 (frozen)',
    'linear_top1_held_out': 'held-out classes: linear top-1 (frozen)',
}
# the four headline metrics of the sensitivity criterion
SENSITIVITY_METRICS = ['linear_top1', 'ft10pct_top1', 'det_box_ap', 'seg_miou']
# and those of a run that has them
OPTIONAL_SENSITIVITY_METRICS = ['det_ft_box_ap', 'seg_ft_miou', 'linear_top1_held_out']


@dataclass(frozen=True)
class Protocol:
    """Budgets of one benchmark run.

    Args:
        pretrain_iters (int): Pre-training iterations (every method).
        pretrain_batch (int): Images per iteration.
        probe_limit (int, optional): Images per classification split for the
            frozen probes (None: all).
        linear_epochs (int): Epochs of the linear probe.
        eval_options (dict): Evaluation name -> extra ``--cfg-options``.
        label_fraction (float): Share of the labelled object pool that keeps
            its labels (class-balanced, :func:`.splits.label_budget_splits`);
            the rest stay in the pre-training data unlabelled. Below one,
            the stages that read labels change (``methods.stage_configs``),
            the label-free ones do not.
        held_out_classes (tuple[int]): Garment classes (indices 0-9 of the
            demo world's objects) the pre-training labels never name: their
            object images stay in the pool, unlabelled
            (:func:`.splits.held_out_splits`), the stages that read labels
            change (``methods.stage_configs``), and the frozen probes also
            report :data:`HELD_OUT_METRICS`. Kept sorted; empty: all classes
            labelled. With ``label_fraction`` below one the known garments
            keep that budget's labels only.
        dense_scenes (str): The scene set the detection and segmentation
            evaluations train and test on (:data:`DENSE_CONFIGS`): '' the
            pre-training's scenes/, 'v2' scenes_v2/ (the data root must hold
            it). The pre-training and the probes do not change.
        finetuned_detection_iters (int): The schedule of the fine-tuned Mask
            R-CNN (``detection-finetuned``), one the scene set has
            (:data:`FINETUNED_DENSE_CONFIGS`).
        finetuned_segmentation_iters (int): The schedule of the fine-tuned
            UperNet (``segmentation-finetuned``), one the scene set has.
        finetuned_detection_heads (str): The fine-tuned Mask R-CNN's neck and
            heads: '' those of the frozen protocol, 'gn-all' GroupNorm in the
            FPN and the RoI heads (:data:`FINETUNED_DETECTION_HEADS`, which
            names the scene sets and schedules that have them).
    """
    pretrain_iters: int = 1000
    pretrain_batch: int = 32
    probe_limit: Optional[int] = None
    linear_epochs: int = 30
    eval_options: Dict[str, List[str]] = field(default_factory=dict)
    label_fraction: float = 1.0
    held_out_classes: Tuple[int, ...] = ()
    dense_scenes: str = ''
    finetuned_detection_iters: int = FINETUNED_DETECTION_ITERS
    finetuned_segmentation_iters: int = FINETUNED_SEGMENTATION_ITERS
    finetuned_detection_heads: str = ''

    #: Fields added after the first records were written: :meth:`as_dict`
    #: leaves each out while it holds its default.
    LATER_FIELDS = ('label_fraction', 'held_out_classes', 'dense_scenes',
                    'finetuned_detection_iters', 'finetuned_segmentation_iters',
                    'finetuned_detection_heads')

    def __post_init__(self):
        classes = tuple(sorted(int(c) for c in self.held_out_classes))
        if len(set(classes)) != len(classes) or any(c < 0 for c in classes):
            raise ValueError('held_out_classes are distinct garment class indices, '
                             f'got {list(self.held_out_classes)}')
        object.__setattr__(self, 'held_out_classes', classes)
        _check_dense_scenes(self.dense_scenes)
        _check_finetuned_iters(self.dense_scenes,
                               detection=self.finetuned_detection_iters,
                               segmentation=self.finetuned_segmentation_iters)
        _check_finetuned_detection_heads(self.dense_scenes,
                                         self.finetuned_detection_iters,
                                         self.finetuned_detection_heads)

    @property
    def images_seen(self) -> int:
        return self.pretrain_iters * self.pretrain_batch

    def as_dict(self) -> dict:
        """The protocol as the records and their ``config_hash`` hold it.

        A field added after records were written (:attr:`LATER_FIELDS`) is
        left out while it holds its default, so a protocol that does not use
        it keeps the dict, and the hash, of the records written before it
        existed; a new field is appended to :attr:`LATER_FIELDS`.
        """
        out = asdict(self)
        for name in self.LATER_FIELDS:
            if out[name] == self.__dataclass_fields__[name].default:
                del out[name]
        if 'held_out_classes' in out:  # as JSON holds it (a record read back)
            out['held_out_classes'] = list(out['held_out_classes'])
        return out


FULL = Protocol()
QUICK = Protocol(
    pretrain_iters=4, pretrain_batch=8, probe_limit=40, linear_epochs=2,
    eval_options=dict(
        finetune=['train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
                  'train_dataloader.batch_size=8', 'val_dataloader.batch_size=8',
                  'test_dataloader.batch_size=8', 'param_scheduler=[]'],
        **{name: ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                  'train_dataloader.batch_size=2', 'param_scheduler=[]']
           for name in ('detection', 'segmentation', 'detection-finetuned',
                        'segmentation-finetuned')},
    ))
