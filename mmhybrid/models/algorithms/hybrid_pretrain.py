"""HybridPretrain: multi-label classification + SimMIM + MoCo v3 on one backbone."""
import logging
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.dist import all_reduce, is_distributed
from mmengine.logging import MessageHub, print_log
from mmpretrain.models.selfsup import SimMIMSwinTransformer
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.models.utils import CosineEMA
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import nn

from ..heads.partial_multilabel_head import is_labelled
from .step_plan import TASKS, TEACHER_VIEW, OnlinePass, StepPlan

NONFINITE_POLICIES = ('raise', 'skip')
# MessageHub key through which a skipped step reaches SkipNonFiniteOptimWrapper
SKIP_STEP_KEY = 'hybrid_skip_step'
# MessageHub key a skip-capable optim wrapper sets when it enters optim_context
# (checked in parse_losses: under DDP the model's train_step is bypassed)
SKIP_READY_KEY = 'hybrid_skip_ready'
SKIP_WRAPPERS = ('SkipNonFiniteOptimWrapper', 'SkipNonFiniteAmpOptimWrapper')
# the keys each task dict may hold: (required, optional)
TASK_KEYS = dict(mim=(('neck', 'head'), ()),
                 contrastive=(('neck', 'head'), ('base_momentum', 'ema_type')),
                 multilabel=(('head', ), ('neck', 'teacher')))
# the label teacher's settings (``multilabel=dict(teacher=...)``) and defaults
TEACHER_DEFAULTS = dict(weight=1.0, ramp_iters=0, mode='soft', threshold=0.7,
                        momentum=0.01)
TEACHER_MODES = ('soft', 'threshold')
# which samples of a batch the self-supervised tasks (MIM, contrastive) read
SSL_SAMPLES = ('all', 'unlabelled')


def resize_views(x: torch.Tensor, scale: float) -> torch.Tensor:
    """``x`` (``N, C, H, W``) resized by ``scale`` (bilinear, antialiased,
    each side rounded); itself at scale one."""
    if scale == 1:
        return x
    size = [max(1, int(round(side * scale))) for side in x.shape[-2:]]
    return F.interpolate(x, size=size, mode='bilinear', align_corners=False,
                         antialias=True)


def check_task_cfg(task: str, cfg: dict) -> None:
    """Refuse a task dict with a key ``HybridPretrain`` would not read (a typo,
    ``end_momentum``, ...) or without one it needs."""
    required, optional = TASK_KEYS[task]
    accepted = required + optional
    unknown = [k for k in cfg if k not in accepted]
    if unknown:
        raise ValueError(f'HybridPretrain: unknown key(s) {unknown} in {task}=dict(...); '
                         f'{task} accepts {list(accepted)}')
    missing = [k for k in required if k not in cfg]
    if missing:
        raise ValueError(f'HybridPretrain: {task}=dict(...) needs {missing}')


def teacher_settings(cfg: dict) -> dict:
    """``multilabel=dict(teacher=cfg)`` with its defaults filled in; an
    unknown key or an invalid value raises ``ValueError``."""
    unknown = [k for k in cfg if k not in TEACHER_DEFAULTS]
    if unknown:
        raise ValueError(f'HybridPretrain: unknown key(s) {unknown} in '
                         f'multilabel=dict(teacher=dict(...)); it accepts '
                         f'{list(TEACHER_DEFAULTS)}')
    out = dict(TEACHER_DEFAULTS, **cfg)
    if out['mode'] not in TEACHER_MODES:
        raise ValueError(f'teacher mode must be one of {TEACHER_MODES}, got '
                         f'{out["mode"]!r}')
    if not 0.5 < out['threshold'] < 1:
        raise ValueError(f'teacher threshold must be in (0.5, 1), got '
                         f'{out["threshold"]}')
    if out['weight'] < 0 or out['ramp_iters'] < 0:
        raise ValueError('teacher weight and ramp_iters must be >= 0')
    return out


@MODELS.register_module()
class HybridPretrain(BaseSelfSupervisor):
    """Pre-train one backbone with up to three tasks in the same step.

    Each task is optional and built from mmpretrain's own modules:

    - ``mim``: SimMIM, masked-patch pixel regression (``SimMIMLinearDecoder`` +
      ``SimMIMHead``);
    - ``contrastive``: MoCo v3, a projector (``NonLinearNeck``) and
      ``MoCoV3Head``, keys from a momentum encoder (backbone + projector,
      ``CosineEMA``) gathered from all ranks;
    - ``multilabel``: a pooled feature into a multi-label head; samples without
      a ``gt_label`` contribute to the self-supervised terms only.

    The backbone must accept ``backbone(x, mask)`` (``SimMIMSwinTransformer``).
    The contrastive and label tasks read its last output; MIM reads its first.
    With one ``out_indices`` (the default) they are the same stage; with two
    (e.g. ``(2, 3)``) MIM's decoder reads the earlier stage and its gradient
    stops there (Layer Grafted Pre-training: MIM shapes the lower layers, the
    other tasks the upper ones), a decoder sized for that stage
    (``in_channels``, ``encoder_stride``).

    Views and step plan: the pipeline (:class:`HybridViews`) packs named views,
    ``'masked'`` (a weak crop, with ``data_sample.mask``), ``'view1'`` and
    ``'view2'`` (MoCo v3's crops), and must build exactly
    :attr:`required_views`. :class:`StepPlan` (logged at construction) says
    which view goes through which backbone pass and which head reads it. In
    ``'shared'`` mode one masked pass over ``'masked'`` feeds MIM and, by
    default, the label head and the query, and ``'view1'`` is the key; in
    ``'separate'`` mode MIM reads ``'masked'`` and the contrastive task is MoCo
    v3 on ``'view1'`` / ``'view2'``.

    Distributed training over ranks with equal batches equals one process with
    the global batch: the keys are all-gathered (MoCo v3), ``SyncBN`` normalises
    over the global batch, the label loss averages over the global labelled
    samples and every sample masks the same number of patches
    (``tests/test_tools/test_dist_equivalence.py``).

    Args:
        backbone (dict): Config of the backbone, e.g. ``SimMIMSwinTransformer``.
        mim (dict, optional): ``dict(neck=..., head=...)`` of SimMIM.
            Defaults to None (no MIM task).
        contrastive (dict, optional): ``dict(neck=..., head=...,
            base_momentum=0.01)`` of MoCo v3; ``ema_type`` names the momentum
            encoder's class (``'CosineEMA'``, or ``'ForeachCosineEMA'``: the
            same update in foreach kernels). A head with ``reads_labels``
            (``LabelAwareMoCoV3Head``: same-class keys of labelled samples as
            extra positives) gets the batch's data samples. Defaults to None.
        multilabel (dict, optional): ``dict(head=..., neck=..., teacher=...)``
            of the label task; ``neck`` defaults to ``GlobalAveragePooling``.
            ``teacher`` (off when absent) trains the samples without labels
            toward an EMA teacher, FixMatch-style: an EMA copy of
            ``neck`` + ``head`` (``label_teacher``) on the momentum encoder's
            backbone reads the weak ``'masked'`` crop without the mask and
            predicts their labels; the student is the label head on the MIM
            pass (the same crop with the mask) when ``mim`` is on, else on the
            label pass (:class:`StepPlan`); the head's ``teacher_loss`` gives
            the term, logged as ``loss_teacher`` / ``raw_teacher`` /
            ``weight_teacher`` and weighted outside ``loss_balancer``. Keys:
            ``weight`` (the full weight), ``ramp_iters`` (the weight rises
            linearly from zero at the first iteration to ``weight`` at this
            one; zero: no ramp), ``mode`` (``'soft'`` or ``'threshold'``, see
            ``PartialMultiLabelLinearClsHead.teacher_loss``), ``threshold``,
            ``momentum`` (of the teacher's ``CosineEMA``). Needs the
            contrastive task. Defaults to None. A key other than those named
            in a task dict (or in ``teacher``) raises ``ValueError``.
        view_mode (str): ``'shared'`` or ``'separate'``, see :class:`StepPlan`.
            Defaults to ``'shared'``.
        symmetric (bool): ``'shared'`` mode with the contrastive task only: add
            the swapped pair (query from ``'view1'``, key from ``'masked'``).
            Defaults to False.
        label_input (str, optional): What the label head reads: ``'masked'``
            (the MIM pass; needs ``mim``) or ``'unmasked'`` (a pass over the
            ``'masked'`` crop without the mask, in either view mode). Defaults
            to None: ``'masked'`` in ``'shared'`` mode; in ``'separate'`` mode
            the unmasked ``'view1'`` pass when contrastive is on, else an
            unmasked pass over ``'masked'``. Needs the multilabel task.
        query_input (str, optional): What the contrastive query reads in
            ``'shared'`` mode, ``'masked'`` or ``'unmasked'`` as above.
            Defaults to None (``'masked'``). Refused in ``'separate'`` mode,
            whose queries are always the unmasked ``'view1'`` / ``'view2'``
            passes.
        unmasked_scale (float): Resize factor of the views the unmasked
            online passes read (the label / query pass over the weak crop in
            ``'shared'`` mode; MoCo v3's crops in ``'separate'`` mode), in
            ``(0, 1]``: FixRes-style, a pass at half the side costs about a
            quarter. The masked (MIM) pass always reads the full view (its
            mask and pixel targets are on that grid). The backbone must take
            the smaller input (Swin: ``pad_small_map=True`` when a stage's
            map falls below the window). Defaults to 1 (full resolution).
        key_scale (float): The same for the views the momentum encoder keys
            (the label teacher, when on, reads its view at full resolution).
            Defaults to 1.
        ssl_samples (str): Which samples of a batch MIM and the contrastive
            task read: ``'all'``, or ``'unlabelled'`` (those without a
            ``gt_label``; the labelled ones train the label head alone, as
            semi-supervised methods give their unsupervised term the
            unlabelled batch). With ``'unlabelled'`` an online pass that only
            the self-supervised tasks read (e.g. the MIM pass when the label
            head reads the unmasked one) and the momentum keys run on those
            samples alone; a batch without one raises ``ValueError``.
            Single process only (MoCo v3 gathers equal batches from every
            rank). Defaults to ``'all'``.
        loss_balancer (dict): How the task losses combine, e.g.
            ``dict(type='FixedTaskWeights', weights=dict(mim=1.0))`` or
            ``dict(type='UncertaintyTaskWeights')``.
            Defaults to ``dict(type='FixedTaskWeights')``.
        nonfinite (str): What a NaN/Inf task loss does, decided on all ranks
            together. ``'raise'``: ``FloatingPointError`` naming the task(s)
            and iteration, before the optimizer step. ``'skip'``: skip the
            (micro-)batch, leaving weights, optimizer state, BN statistics and
            the momentum encoder untouched, and count it in
            ``num_skipped_steps``; needs ``optim_wrapper.type=
            'SkipNonFiniteOptimWrapper'`` (``'SkipNonFiniteAmpOptimWrapper'``
            with AMP), checked at the first step, and keeps a copy of the
            momentum encoder and of the online buffers per step.
            Defaults to ``'raise'``.
        data_preprocessor (dict, optional): Defaults to None
            (``SelfSupDataPreprocessor``).
        init_cfg (dict or list[dict], optional): Initialisation config.
            Defaults to None.
    """

    def __init__(self,
                 backbone: dict,
                 mim: Optional[dict] = None,
                 contrastive: Optional[dict] = None,
                 multilabel: Optional[dict] = None,
                 view_mode: str = 'shared',
                 symmetric: bool = False,
                 label_input: Optional[str] = None,
                 query_input: Optional[str] = None,
                 unmasked_scale: float = 1.,
                 key_scale: float = 1.,
                 ssl_samples: str = 'all',
                 loss_balancer: dict = dict(type='FixedTaskWeights'),
                 nonfinite: str = 'raise',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        super().__init__(
            backbone=backbone,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.view_mode = view_mode
        if nonfinite not in NONFINITE_POLICIES:
            raise ValueError(f'nonfinite must be one of {NONFINITE_POLICIES}, '
                             f'got {nonfinite!r}')
        self.nonfinite = nonfinite
        self.register_buffer('num_skipped_steps', torch.zeros((), dtype=torch.long))
        # Per-step state of nonfinite='skip', from loss() to parse_losses():
        # tasks found non-finite before the momentum update, the moving
        # averages' states (momentum encoder, label teacher) from just before
        # the update, the online buffers (BN statistics) from the start of the step.
        self._skip_before_update: Optional[List[str]] = None
        self._momentum_snapshot: Optional[Dict[str, Dict[str, torch.Tensor]]] = None
        self._buffer_snapshot: Optional[Dict[str, torch.Tensor]] = None
        task_cfgs = dict(zip(TASKS, (mim, contrastive, multilabel)))
        for task, cfg in task_cfgs.items():
            if cfg is not None:
                check_task_cfg(task, cfg)
        self.tasks = tuple(t for t, cfg in task_cfgs.items() if cfg is not None)
        if not self.tasks:
            raise ValueError('HybridPretrain needs at least one of mim, '
                             'contrastive and multilabel')
        teacher = (multilabel or {}).get('teacher')
        self.teacher_cfg = None if teacher is None else teacher_settings(teacher)
        self.plan = StepPlan.build(self.tasks, view_mode, symmetric,
                                   label_input, query_input,
                                   teacher=teacher is not None)
        for name, value in (('unmasked_scale', unmasked_scale),
                            ('key_scale', key_scale)):
            if not 0 < value <= 1:
                raise ValueError(f'{name} must be in (0, 1], got {value}')
        if unmasked_scale != 1 and all(p.masked for p in self.plan.online):
            raise ValueError(f'unmasked_scale={unmasked_scale} has no effect: the '
                             f'step plan has no unmasked online pass '
                             f'({self.plan.describe()})')
        if key_scale != 1 and not self.plan.momentum:
            raise ValueError(f'key_scale={key_scale} has no effect: the step plan '
                             f'keys no view ({self.plan.describe()})')
        self.unmasked_scale = unmasked_scale
        self.key_scale = key_scale
        if ssl_samples not in SSL_SAMPLES:
            raise ValueError(f'ssl_samples must be one of {SSL_SAMPLES}, got '
                             f'{ssl_samples!r}')
        if ssl_samples != 'all':
            if 'multilabel' not in self.tasks or len(self.tasks) == 1:
                raise ValueError(f'ssl_samples={ssl_samples!r} needs the multilabel '
                                 f'task and a self-supervised one, got {self.tasks}')
            if is_distributed():
                raise NotImplementedError(
                    f'ssl_samples={ssl_samples!r} runs in one process only: MoCo '
                    "v3's head gathers equal batches from every rank, and each "
                    "rank's count of unlabelled samples varies")
        self.ssl_samples = ssl_samples
        out_indices = tuple(getattr(self.backbone, 'out_indices', ()))
        if len(out_indices) > 2 or (len(out_indices) == 2 and mim is None):
            raise ValueError(
                f'backbone out_indices {out_indices}: the contrastive and label '
                'tasks read the last output and only MIM may read an earlier '
                'one, so give one index, or two with the mim task')
        scales = ''.join(f', {n} {v:g}' for n, v in (
            ('unmasked passes at', unmasked_scale), ('keys at', key_scale)) if v != 1)
        if len(out_indices) == 2:
            if type(self.backbone) is SimMIMSwinTransformer:
                raise ValueError(
                    'backbone out_indices with two stages needs '
                    "type='HybridSimMIMSwinTransformer': mmpretrain's "
                    'SimMIMSwinTransformer returns an earlier stage of the masked '
                    'pass after its patch merging, which its norm does not fit')
            scales += f', MIM reads backbone stage {out_indices[0] + 1}'
        if ssl_samples != 'all':
            scales += ', MIM and the contrastive task on the unlabelled samples'
        print_log(f'HybridPretrain step plan: {self.plan.describe()}{scales}',
                  logger='current')

        if mim is not None:
            self.mim_neck = MODELS.build(mim['neck'])
            self.mim_head = MODELS.build(mim['head'])
        if contrastive is not None:
            self.con_neck = MODELS.build(contrastive['neck'])
            self.con_head = MODELS.build(contrastive['head'])
            self.momentum_encoder = MODELS.build(dict(
                type=contrastive.get('ema_type', 'CosineEMA'),
                model=nn.Sequential(self.backbone, self.con_neck),
                momentum=contrastive.get('base_momentum', 0.01)))
        if multilabel is not None:
            self.cls_neck = MODELS.build(
                multilabel.get('neck', dict(type='GlobalAveragePooling')))
            self.cls_head = MODELS.build(multilabel['head'])
        if self.teacher_cfg is not None:
            self.label_teacher = CosineEMA(
                nn.Sequential(self.cls_neck, self.cls_head),
                momentum=self.teacher_cfg['momentum'])
        self.balancer = MODELS.build(
            dict(loss_balancer, tasks=self.tasks))
        if not self.plan.uses_mask and hasattr(self.backbone, 'mask_token'):
            # Never used without a masked pass: keep it out of the optimizer and of DDP's
            # unused-parameter check.
            self.backbone.mask_token.requires_grad_(False)

    # ------------------------------------------------------------------ views
    @property
    def required_views(self) -> Tuple[str, ...]:
        """Names of the views this configuration reads, in pipeline order."""
        return self.plan.required_views

    def _name_views(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
                    data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """Map the packed views to their names (``data_sample.view_names``).

        The pipeline must build exactly the views the plan reads: a view built,
        augmented and collated for nothing is a configuration error.
        """
        if isinstance(inputs, torch.Tensor):
            inputs = [inputs]
        names = data_samples[0].metainfo.get('view_names') if data_samples else None
        if names is None:
            names = self.required_views  # direct API use: views in plan order
        names = tuple(names)
        if len(names) != len(inputs):
            raise ValueError(f'{len(inputs)} views packed but view_names is {names}')
        if names != self.required_views:
            missing = [v for v in self.required_views if v not in names]
            unread = [v for v in names if v not in self.required_views]
            raise ValueError(
                f'HybridPretrain(tasks={self.tasks}, view_mode={self.view_mode!r}) '
                f'reads views {self.required_views}; the pipeline packed {names}'
                + (f' (missing {missing})' if missing else '')
                + (f' (built but never read: {unread})' if unread else '')
                + f'. Set HybridViews(views={self.required_views}).')
        return dict(zip(names, inputs))

    def _ssl_index(self, data_samples: List[DataSample]
                   ) -> Optional[torch.Tensor]:
        """The indices of the samples the self-supervised tasks read (see
        ``ssl_samples``); None: all of them."""
        if self.ssl_samples == 'all':
            return None
        keep = [i for i, ds in enumerate(data_samples) if not is_labelled(ds)]
        if not keep:
            raise ValueError(
                f"HybridPretrain(ssl_samples='unlabelled'): a batch of "
                f'{len(data_samples)} samples holds no unlabelled one for MIM and '
                'the contrastive task; give the sampler unlabelled sources (ratios) '
                'or set ssl_samples=\'all\'')
        return torch.tensor(keep, dtype=torch.long)

    def _stack_masks(self, data_samples: List[DataSample]) -> torch.Tensor:
        if not all('mask' in ds for ds in data_samples):
            raise ValueError(
                f'HybridPretrain(tasks={self.tasks}, view_mode={self.view_mode!r}) '
                f'reads a masked pass ({self.plan.describe()}) but the data '
                'samples carry no mask: set HybridViews.mask_generator (e.g. '
                "dict(type='SimMIMMaskGenerator', ...)) in the train pipeline.")
        return torch.stack([ds.mask for ds in data_samples])

    # ------------------------------------------------------------- features
    def extract_feat(self, inputs: torch.Tensor):
        """Backbone features of unmasked images."""
        return self.backbone(inputs, mask=None)

    def _query(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.con_neck(feats[-1:])[0]

    @torch.no_grad()
    def _key(self, view: torch.Tensor) -> torch.Tensor:
        # (backbone, projector) of the momentum encoder; the backbone is called
        # with mask=None explicitly since SimMIMSwinTransformer requires it.
        backbone, projector = self.momentum_encoder.module
        return projector(backbone(view, None)[-1:])[0]

    # ----------------------------------------------------------------- loss
    def _update_momentum_encoder(self) -> None:
        self.momentum_encoder.update_parameters(
            nn.Sequential(self.backbone, self.con_neck))
        if self.teacher_cfg is not None:
            self.label_teacher.update_parameters(
                nn.Sequential(self.cls_neck, self.cls_head))

    def _averages(self) -> Dict[str, nn.Module]:
        """The moving averages a step updates (restored when it is skipped)."""
        return {name: getattr(self, name) for name in ('momentum_encoder',
                                                        'label_teacher')
                if hasattr(self, name)}

    @torch.no_grad()
    def _teacher_score(self, view: torch.Tensor) -> torch.Tensor:
        """The label teacher's logits: the momentum encoder's backbone over
        ``view`` without the mask, then the EMA label path."""
        return self.label_teacher.module(
            self.momentum_encoder.module[0](view, None)[-1:])

    def teacher_weight(self) -> float:
        """The teacher term's weight at the current iteration (MessageHub
        ``iter``): linear from zero to ``weight`` over ``ramp_iters``."""
        cfg = self.teacher_cfg
        step = MessageHub.get_current_instance().get_info('iter', 0)
        ramp = min(1., step / cfg['ramp_iters']) if cfg['ramp_iters'] else 1.
        return cfg['weight'] * ramp

    def _guarded_momentum_update(self, losses: Dict[str, torch.Tensor],
                                 queries: List[torch.Tensor]) -> bool:
        """Update the momentum encoder; with ``nonfinite='skip'`` only if the
        online terms (``losses`` so far, the contrastive ``queries``) are finite
        on every rank, keeping a copy of its state to restore should the step
        still be skipped (see ``nonfinite``). Returns whether it updated."""
        if self.nonfinite == 'skip':
            bad = self._nonfinite_tasks(
                dict(losses, contrastive=queries))
            if bad:
                self._skip_before_update = bad
                return False
            self._momentum_snapshot = {
                name: {k: v.detach().clone() for k, v in module.state_dict().items()}
                for name, module in self._averages().items()}
        self._update_momentum_encoder()
        return True

    def _nonfinite_tasks(self, values: Dict[str, Union[torch.Tensor,
                                                       Sequence[torch.Tensor]]]
                         ) -> List[str]:
        """The tasks (of ``values``: task -> tensor(s)) with a NaN/Inf value on
        any rank. Every rank must call it at the same point (one all-reduce)."""
        def finite(v):
            vs = [v] if isinstance(v, torch.Tensor) else v
            return all(bool(torch.isfinite(t).all()) for t in vs)

        flags = torch.tensor([float(t in values and not finite(values[t]))
                              for t in self.terms])
        if is_distributed():
            all_reduce(flags, op='max')  # one rank's NaN stops/skips all ranks
        return [t for t, f in zip(self.terms, flags.tolist()) if f > 0]

    @property
    def terms(self) -> Tuple[str, ...]:
        """The loss terms of a step: the tasks, and ``'teacher'`` when on."""
        return self.tasks + (('teacher', ) if self.teacher_cfg is not None else ())

    def task_losses(self, inputs: List[torch.Tensor],
                    data_samples: List[DataSample],
                    update_momentum: bool = False) -> Dict[str, torch.Tensor]:
        """Raw (unweighted) loss of every enabled task for one batch, computed
        as ``self.plan`` says (see :class:`StepPlan`), and of the label
        teacher's term (``'teacher'``) when it is on.

        Args:
            inputs (list[Tensor]): The packed views (see :class:`HybridViews`).
            data_samples (list[DataSample]): With ``mask`` and, when labelled,
                ``gt_label``.
            update_momentum (bool): Update the momentum encoder (once) between the
                online and the momentum passes, as MoCo v3 does. Diagnostics pass
                False to leave the training state untouched.
        """
        plan = self.plan
        views = self._name_views(inputs, data_samples)
        mask = self._stack_masks(data_samples) if plan.uses_mask else None
        ssl = self._ssl_index(data_samples)
        # the passes only MIM and the queries read run on their samples alone
        ssl_only = () if ssl is None else tuple(
            p for p in plan.online if p not in (plan.labels, plan.teacher))

        def ssl_part(x: torch.Tensor, p: Optional[OnlinePass] = None):
            """``x`` of the whole batch (or of pass ``p``) cut to the samples
            the self-supervised tasks read."""
            return x if ssl is None or p in ssl_only else x[ssl]

        feats = {}
        for p in plan.online:
            view, pass_mask = views[p.view], mask
            if p in ssl_only:
                view, pass_mask = view[ssl], mask[ssl] if p.masked else None
            feats[p] = (self.backbone(view, pass_mask) if p.masked else
                        self.backbone(resize_views(view, self.unmasked_scale), None))
        losses = {}
        if plan.mim is not None:
            losses['mim'] = self.mim_head.loss(
                self.mim_neck(ssl_part(feats[plan.mim][0], plan.mim)),
                ssl_part(views['masked']), ssl_part(mask))
        if plan.labels is not None:
            # before the momentum update, so nonfinite='skip' can check it there
            losses['multilabel'] = self.cls_head.loss(
                self.cls_neck(feats[plan.labels][-1:]), data_samples)['loss']
        if plan.queries:
            queries = [(self._query([ssl_part(feats[p][-1], p)]), key)
                       for p, key in plan.queries]
            # MoCo v3 order: online passes, momentum update, then the keys
            # (the update also syncs the projector's BN buffers).
            if update_momentum and not self._guarded_momentum_update(
                    losses, [q for q, _ in queries]):
                # skipped before the update: no keys (their momentum pass
                # would move the momentum encoder's BN statistics)
                losses['contrastive'] = queries[0][0].new_full((), float('nan'))
                losses['teacher'] = losses['contrastive']  # nor targets
            else:
                keys = {view: self._key(resize_views(ssl_part(views[view]),
                                                     self.key_scale))
                        for view in plan.momentum}
                # a head that reads labels (LabelAwareMoCoV3Head) gets the
                # batch's samples: query i, key i and sample i are one image
                labels = (([data_samples[i] for i in ssl.tolist()]
                           if ssl is not None else data_samples, ) if getattr(
                    self.con_head, 'reads_labels', False) else ())
                losses['contrastive'] = sum(
                    self.con_head.loss(q, keys[key], *labels)
                    for q, key in queries)
        if plan.teacher is not None and 'teacher' not in losses:
            cfg = self.teacher_cfg
            losses['teacher'] = self.cls_head.teacher_loss(
                self.cls_neck(feats[plan.teacher][-1:]),
                self._teacher_score(views[TEACHER_VIEW]), data_samples,
                mode=cfg['mode'], threshold=cfg['threshold'])
        return {term: losses[term] for term in self.terms}

    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """One training step's losses.

        Returns ``loss_<task>`` (weighted term, summed into the total by mmengine),
        plus ``raw_<task>`` and ``weight_<task>`` for logging (not summed); the
        label teacher's term likewise as ``<...>_teacher``, weighted by
        :meth:`teacher_weight` instead of the balancer.
        """
        self._skip_before_update = self._momentum_snapshot = None
        self._buffer_snapshot = None if self.nonfinite != 'skip' else {
            name: buf.detach().clone() for name, buf in self.named_buffers()
            if not name.startswith(tuple(f'{n}.' for n in self._averages()))}
        raw = self.task_losses(inputs, data_samples, update_momentum=True)
        weighted, weights = self.balancer(raw)
        out = {f'loss_{task}': weighted[task] for task in self.tasks}
        for task in self.tasks:
            out[f'raw_{task}'] = raw[task].detach()
            out[f'weight_{task}'] = weights[task].detach()
        if self.teacher_cfg is not None:
            weight = raw['teacher'].new_tensor(self.teacher_weight())
            out['loss_teacher'] = weight * raw['teacher']
            out['raw_teacher'] = raw['teacher'].detach()
            out['weight_teacher'] = weight
        return out

    def train_step(self, data, optim_wrapper) -> Dict[str, torch.Tensor]:
        """mmengine's training step; with ``nonfinite='skip'`` the optim wrapper
        must be able to skip (``supports_nonfinite_skip``), see ``nonfinite``."""
        if self.nonfinite == 'skip':
            self._check_skip_support(optim_wrapper)
        return super().train_step(data, optim_wrapper)

    def _check_skip_support(self, optim_wrapper=None) -> None:
        if optim_wrapper is not None:
            if getattr(optim_wrapper, 'supports_nonfinite_skip', False):
                return
            what = f'optim wrapper {type(optim_wrapper).__name__}'
        elif MessageHub.get_current_instance().get_info(SKIP_READY_KEY, False):
            return
        else:  # parse_losses under DDP: the wrapper did not announce itself
            what = 'an optim wrapper without supports_nonfinite_skip'
        raise RuntimeError(
            f'HybridPretrain(nonfinite="skip") is trained with {what}, which '
            'would still step on the zero loss of a skipped step (AdamW moves '
            'the weights with zero gradients). Set optim_wrapper.type='
            f'{SKIP_WRAPPERS[0]!r} ({SKIP_WRAPPERS[1]!r} in place of '
            'AmpOptimWrapper), or model.nonfinite="raise".')

    def parse_losses(self, losses: Dict[str, torch.Tensor]
                     ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """mmengine's loss parsing plus the non-finite guard (see ``nonfinite``)."""
        snapshot, self._momentum_snapshot = self._momentum_snapshot, None
        buffers, self._buffer_snapshot = self._buffer_snapshot, None
        early, self._skip_before_update = self._skip_before_update, None
        if self.nonfinite == 'skip':
            self._check_skip_support()
        # skipped before the momentum update, or check every task now
        bad = early or self._nonfinite_tasks(
            {t: (losses[f'raw_{t}'], losses[f'loss_{t}']) for t in self.terms})
        if not bad:
            return super().parse_losses(losses)
        hub = MessageHub.get_current_instance()
        iteration = hub.get_info('iter', -1) + 1
        msg = (f'non-finite loss in task(s) {bad} at iteration {iteration} '
               f'(raw: { {t: float(losses[f"raw_{t}"]) for t in self.terms} })')
        if self.nonfinite == 'raise':
            raise FloatingPointError(
                f'HybridPretrain: {msg}; training stopped before the optimizer '
                'step, the last checkpoint is intact. Set model.nonfinite="skip" '
                'with optim_wrapper.type="SkipNonFiniteOptimWrapper" to skip '
                'such steps instead.')
        if early:
            msg += ('; found before the momentum update (not done, contrastive '
                    'loss not computed)')
        with torch.no_grad():
            for name, state in (snapshot or {}).items():  # updated, then a loss failed
                getattr(self, name).load_state_dict(state)
            for name, buf in self.named_buffers():
                if buffers is not None and name in buffers:
                    buf.copy_(buffers[name])  # BN statistics of the passes
        self.num_skipped_steps += 1
        print_log(f'HybridPretrain: {msg}; skipping this step '
                  f'({int(self.num_skipped_steps)} skipped so far)',
                  logger='current', level=logging.WARNING)
        hub.update_info(SKIP_STEP_KEY, True)
        # A zero that reaches every trainable parameter: backward gives exact
        # zero gradients (no NaN) and keeps DDP's gradient buckets in sync.
        zero = sum(p.sum() * 0. for p in self.parameters() if p.requires_grad)
        log_vars = {k: v.detach() for k, v in losses.items()
                    if not k.startswith('loss_')}
        log_vars['skipped_steps'] = self.num_skipped_steps.float()
        return zero, dict(loss=zero.detach(), **log_vars)

    def predict(self, inputs, data_samples=None, **kwargs):
        """Multi-label predictions of the label head (for validation)."""
        if 'multilabel' not in self.tasks:
            raise RuntimeError('predict needs the multilabel task')
        if isinstance(inputs, list):
            inputs = inputs[0]
        return self.cls_head.predict(
            self.cls_neck(self.extract_feat(inputs)[-1:]), data_samples)

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        return super().forward(inputs, data_samples, mode)
