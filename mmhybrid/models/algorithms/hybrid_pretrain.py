"""HybridPretrain: multi-label classification + SimMIM + MoCo v3 on one backbone."""
import logging
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.dist import all_reduce, is_distributed
from mmengine.logging import MessageHub, print_log
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.models.utils import CosineEMA
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import nn

from .step_plan import TASKS, StepPlan

NONFINITE_POLICIES = ('raise', 'skip')
# MessageHub key through which a skipped step reaches SkipNonFiniteOptimWrapper
SKIP_STEP_KEY = 'hybrid_skip_step'
# MessageHub key a skip-capable optim wrapper sets when it enters optim_context
# (checked in parse_losses: under DDP the model's train_step is bypassed)
SKIP_READY_KEY = 'hybrid_skip_ready'
SKIP_WRAPPERS = ('SkipNonFiniteOptimWrapper', 'SkipNonFiniteAmpOptimWrapper')
# the keys each task dict may hold: (required, optional)
TASK_KEYS = dict(mim=(('neck', 'head'), ()),
                 contrastive=(('neck', 'head'), ('base_momentum', )),
                 multilabel=(('head', ), ('neck', )))


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


@MODELS.register_module()
class HybridPretrain(BaseSelfSupervisor):
    """Pre-train one backbone with up to three tasks in the same step.

    The tasks, each optional and each built from mmpretrain's own modules:

    - ``mim``: SimMIM pixel regression on masked patches (``SimMIMLinearDecoder``
      neck + ``SimMIMHead`` with ``PixelReconstructionLoss``);
    - ``contrastive``: MoCo v3, a projector (``NonLinearNeck``) and ``MoCoV3Head``
      (predictor + InfoNCE against keys gathered from all ranks), with a momentum
      encoder of backbone + projector updated every step by ``CosineEMA``;
    - ``multilabel``: a pooled feature into a multi-label head; samples without a
      ``gt_label`` contribute to the self-supervised terms only.

    The backbone must accept ``backbone(x, mask)`` (``SimMIMSwinTransformer``), so
    masked and unmasked inputs share the same weights.

    Distributed training (DDP averages the ranks' gradients) equals one process
    with the global batch when the ranks hold equal batches:

    - contrastive negatives, as MoCo v3: ``MoCoV3Head`` all-gathers the keys
      (momentum encoder outputs, no gradient) from all ranks in rank order; each
      rank's queries are scored against this global key set, the positive of
      local query ``i`` being ``i + local_batch * rank``. Every query thus has
      the other ``global_batch - 1`` keys as negatives;
    - ``SyncBN`` in the projector/predictor normalises over the global batch
      (``GlooSyncBN`` on CPU, see ``mmhybrid.engine.cpu_support``);
    - the label loss is averaged over the labelled samples of the global batch
      (:class:`PartialMultiLabelLinearClsHead`);
    - SimMIM averages over each rank's masked pixels; the mask generator masks
      the same number of patches in every sample, so that equals the global mean.

    ``tests/test_tools/test_dist_equivalence.py`` checks it (losses and weights,
    1 x 4 vs 2 x 2 samples, 20 steps).

    Views. The data pipeline (:class:`HybridViews`) packs named views; the model
    reads them by name, so the view mode is a model setting alone:

    - ``'masked'``: a weakly augmented crop; its mask is in ``data_sample.mask``;
    - ``'view1'``, ``'view2'``: the two MoCo v3 crops.

    The pipeline must build exactly ``required_views`` (checked every step).

    The step plan (:class:`StepPlan`, logged once at construction) says which
    view goes through which pass and which head reads each pass. With all three
    tasks on:

    - ``'shared'``: ONE online pass over ``masked`` with the mask feeds the MIM
      decoder, and by default also the contrastive query and the label head;
      ``query_input`` / ``label_input='unmasked'`` make them read an unmasked
      pass over the same crop instead (one extra online pass, shared by both).
      ONE momentum pass encodes ``view1`` as the key. ``symmetric=True`` adds
      the swapped pair: an online pass over ``view1`` (query) and a momentum
      pass over ``masked`` without mask (key). 1 online + 1 momentum (2 + 2
      symmetric).
    - ``'separate'``: MIM on ``masked``; contrastive exactly as MoCo v3 on
      ``view1``/``view2`` (2 online + 2 momentum passes, symmetric loss); the label
      head reads the online pass of ``view1``. 3 online + 2 momentum.

    Args:
        backbone (dict): Backbone config, e.g. ``SimMIMSwinTransformer``.
        mim (dict, optional): ``dict(neck=..., head=...)`` for SimMIM, or None.
        contrastive (dict, optional): ``dict(neck=..., head=..., base_momentum=0.01)``
            for MoCo v3, or None.
        multilabel (dict, optional): ``dict(neck=..., head=...)`` for the label
            head (``neck`` defaults to ``GlobalAveragePooling``), or None.
        view_mode (str): ``'shared'`` or ``'separate'``, see above.
        symmetric (bool): In ``'shared'`` mode, add the swapped contrastive pair.
        label_input (str, optional): What the label head reads: ``'masked'``
            (the MIM pass) or ``'unmasked'`` (a pass without the mask, as
            ``predict`` and every downstream use see). None: ``'masked'`` in
            ``shared`` mode, ``view1``'s pass in ``separate`` mode.
        query_input (str, optional): What the contrastive query reads in
            ``shared`` mode, ``'masked'`` (default) or ``'unmasked'``.
        loss_balancer (dict): How task losses combine into the total, e.g.
            ``dict(type='FixedTaskWeights', weights=dict(mim=1.0))`` or
            ``dict(type='UncertaintyTaskWeights')``.
        nonfinite (str): What a NaN/Inf task loss does. ``'raise'`` (default):
            stop with ``FloatingPointError`` naming the task(s) and iteration,
            before the optimizer step, so the weights and the last checkpoint
            stay good (the momentum encoder may already have been updated in
            memory; it is not saved). ``'skip'``: skip that (micro-)batch, log
            it and count it in ``num_skipped_steps`` (saved in the checkpoint).
            Needs ``optim_wrapper.type='SkipNonFiniteOptimWrapper'`` (or
            ``'SkipNonFiniteAmpOptimWrapper'`` for AMP); any other wrapper is
            refused at the first training step, since it would still step on
            the zero loss (AdamW moves weights with zero gradients). A skipped
            step leaves the weights, the optimizer state, the online BN
            statistics and the momentum encoder (parameters, BN buffers,
            ``CosineEMA.steps``) exactly untouched; with gradient accumulation
            it contributes nothing and the window's other micro-batches still
            update at its boundary. The online terms (SimMIM and label losses,
            contrastive queries) are checked before the momentum update, which
            a bad step then does not do. The contrastive loss needs the keys
            of the updated momentum encoder, so with ``'skip'`` a copy of the
            momentum encoder's state (its parameters and buffers: one more
            backbone + projector in device memory, e.g. ~0.37 GB in fp32 for
            Swin-B, and a device copy of that size per step) is taken just
            before the update and restored if the step is skipped; so is a
            copy of the online model's buffers (BN statistics, a few MB) taken
            at the start of the step, since the forward passes move them.
            ``'raise'`` takes no copy. Every decision is all-reduced, so all
            ranks raise or skip together.
        data_preprocessor (dict, optional): Defaults to ``SelfSupDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config.
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
        # tasks found non-finite before the momentum update, the momentum
        # encoder's state from just before the update, the online buffers
        # (BN statistics) from the start of the step.
        self._skip_before_update: Optional[List[str]] = None
        self._momentum_snapshot: Optional[Dict[str, torch.Tensor]] = None
        self._buffer_snapshot: Optional[Dict[str, torch.Tensor]] = None
        task_cfgs = dict(zip(TASKS, (mim, contrastive, multilabel)))
        for task, cfg in task_cfgs.items():
            if cfg is not None:
                check_task_cfg(task, cfg)
        self.tasks = tuple(t for t, cfg in task_cfgs.items() if cfg is not None)
        if not self.tasks:
            raise ValueError('HybridPretrain needs at least one of mim, '
                             'contrastive and multilabel')
        self.plan = StepPlan.build(self.tasks, view_mode, symmetric,
                                   label_input, query_input)
        print_log(f'HybridPretrain step plan: {self.plan.describe()}',
                  logger='current')

        if mim is not None:
            self.mim_neck = MODELS.build(mim['neck'])
            self.mim_head = MODELS.build(mim['head'])
        if contrastive is not None:
            self.con_neck = MODELS.build(contrastive['neck'])
            self.con_head = MODELS.build(contrastive['head'])
            self.momentum_encoder = CosineEMA(
                nn.Sequential(self.backbone, self.con_neck),
                momentum=contrastive.get('base_momentum', 0.01))
        if multilabel is not None:
            self.cls_neck = MODELS.build(
                multilabel.get('neck', dict(type='GlobalAveragePooling')))
            self.cls_head = MODELS.build(multilabel['head'])
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
        return self.con_neck(feats)[0]

    @torch.no_grad()
    def _key(self, view: torch.Tensor) -> torch.Tensor:
        # (backbone, projector) of the momentum encoder; the backbone is called
        # with mask=None explicitly since SimMIMSwinTransformer requires it.
        backbone, projector = self.momentum_encoder.module
        return projector(backbone(view, None))[0]

    # ----------------------------------------------------------------- loss
    def _update_momentum_encoder(self) -> None:
        self.momentum_encoder.update_parameters(
            nn.Sequential(self.backbone, self.con_neck))

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
                k: v.detach().clone()
                for k, v in self.momentum_encoder.state_dict().items()}
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
                              for t in self.tasks])
        if is_distributed():
            all_reduce(flags, op='max')  # one rank's NaN stops/skips all ranks
        return [t for t, f in zip(self.tasks, flags.tolist()) if f > 0]

    def task_losses(self, inputs: List[torch.Tensor],
                    data_samples: List[DataSample],
                    update_momentum: bool = False) -> Dict[str, torch.Tensor]:
        """Raw (unweighted) loss of every enabled task for one batch, computed
        as ``self.plan`` says (see :class:`StepPlan`).

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
        feats = {p: self.backbone(views[p.view], mask if p.masked else None)
                 for p in plan.online}
        losses = {}
        if plan.mim is not None:
            losses['mim'] = self.mim_head.loss(
                self.mim_neck(feats[plan.mim][0]), views['masked'], mask)
        if plan.labels is not None:
            # before the momentum update, so nonfinite='skip' can check it there
            losses['multilabel'] = self.cls_head.loss(
                self.cls_neck(feats[plan.labels]), data_samples)['loss']
        if plan.queries:
            queries = [(self._query(feats[p]), key) for p, key in plan.queries]
            # MoCo v3 order: online passes, momentum update, then the keys
            # (the update also syncs the projector's BN buffers).
            if update_momentum and not self._guarded_momentum_update(
                    losses, [q for q, _ in queries]):
                # skipped before the update: no keys (their momentum pass
                # would move the momentum encoder's BN statistics)
                losses['contrastive'] = queries[0][0].new_full((), float('nan'))
            else:
                keys = {view: self._key(views[view]) for view in plan.momentum}
                losses['contrastive'] = sum(
                    self.con_head.loss(q, keys[key]) for q, key in queries)
        return {task: losses[task] for task in self.tasks}

    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """One training step's losses.

        Returns ``loss_<task>`` (weighted term, summed into the total by mmengine),
        plus ``raw_<task>`` and ``weight_<task>`` for logging (not summed).
        """
        self._skip_before_update = self._momentum_snapshot = None
        self._buffer_snapshot = None if self.nonfinite != 'skip' else {
            name: buf.detach().clone() for name, buf in self.named_buffers()
            if not name.startswith('momentum_encoder.')}
        raw = self.task_losses(inputs, data_samples, update_momentum=True)
        weighted, weights = self.balancer(raw)
        out = {f'loss_{task}': weighted[task] for task in self.tasks}
        for task in self.tasks:
            out[f'raw_{task}'] = raw[task].detach()
            out[f'weight_{task}'] = weights[task].detach()
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
            {t: (losses[f'raw_{t}'], losses[f'loss_{t}']) for t in self.tasks})
        if not bad:
            return super().parse_losses(losses)
        hub = MessageHub.get_current_instance()
        iteration = hub.get_info('iter', -1) + 1
        msg = (f'non-finite loss in task(s) {bad} at iteration {iteration} '
               f'(raw: { {t: float(losses[f"raw_{t}"]) for t in self.tasks} })')
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
            if snapshot is not None:  # updated, then the contrastive loss failed
                self.momentum_encoder.load_state_dict(snapshot)
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
            self.cls_neck(self.extract_feat(inputs)), data_samples)

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        return super().forward(inputs, data_samples, mode)
