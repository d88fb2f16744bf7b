"""The per-step plan of HybridPretrain: which view goes through which pass, and
which head reads each pass."""
from dataclasses import dataclass
from typing import Optional, Tuple

TASKS = ('mim', 'contrastive', 'multilabel')
VIEW_MODES = ('shared', 'separate')
INPUTS = ('masked', 'unmasked')
VIEW_NAMES = ('masked', 'view1', 'view2')  # pipeline order (HybridViews)
TEACHER_VIEW = 'masked'  # the weak crop, which the label teacher reads unmasked


@dataclass(frozen=True)
class OnlinePass:
    """One pass of the online backbone over a view, with or without the mask."""
    view: str
    masked: bool

    def __str__(self) -> str:
        return f'{self.view} +mask' if self.masked else self.view


@dataclass(frozen=True)
class StepPlan:
    """What one training step of :class:`HybridPretrain` computes.

    Attributes:
        online (tuple[OnlinePass]): Online backbone passes, in execution order.
        momentum (tuple[str]): Views the momentum encoder keys, in execution order.
        mim (OnlinePass, optional): The pass the SimMIM decoder reads.
        queries (tuple[tuple[OnlinePass, str]]): Contrastive pairs: the online
            pass a query is projected from, and the view whose momentum key is
            its positive.
        labels (OnlinePass, optional): The pass the label head reads.
        teacher (OnlinePass, optional): With the label teacher: the pass whose
            label scores are trained toward the teacher's predictions (the
            student); the teacher reads :data:`TEACHER_VIEW` unmasked through
            the momentum encoder's backbone.
    """
    online: Tuple[OnlinePass, ...]
    momentum: Tuple[str, ...]
    mim: Optional[OnlinePass]
    queries: Tuple[Tuple[OnlinePass, str], ...]
    labels: Optional[OnlinePass]
    teacher: Optional[OnlinePass] = None

    @classmethod
    def build(cls,
              tasks: Tuple[str, ...],
              view_mode: str = 'shared',
              symmetric: bool = False,
              label_input: Optional[str] = None,
              query_input: Optional[str] = None,
              teacher: bool = False) -> 'StepPlan':
        """Plan the passes of a task set and view mode.

        ``'shared'``: the online view is ``masked``. MIM reads its masked pass;
        the label head and the contrastive query read the masked pass
        (``label_input`` / ``query_input`` = ``'masked'``, the default) or an
        unmasked pass over the same crop (``'unmasked'``), added only when
        asked. The momentum encoder keys ``view1``; ``symmetric`` adds the
        swapped pair (query from ``view1``, key from ``masked``).

        ``'separate'``: MIM on ``masked``; the contrastive task is MoCo v3
        (queries from unmasked ``view1`` and ``view2``, each keyed by the other:
        already symmetric, so ``symmetric`` and ``query_input`` are refused).
        The label head reads, by default, the unmasked ``view1`` pass when
        contrastive is on (no extra pass), otherwise an unmasked pass over
        ``masked``; ``label_input='masked'`` makes it read the MIM pass and
        ``label_input='unmasked'`` an unmasked pass over the ``masked`` (weak)
        crop, as in ``'shared'`` mode (one more online pass when contrastive
        is on).

        Without ``mim`` there is no mask: every pass is unmasked.

        ``teacher`` (the label teacher, FixMatch-style): the momentum encoder's
        backbone reads the weak ``masked`` crop without the mask and an EMA
        copy of the label path predicts the targets; the student is the MIM
        pass (the same crop with the mask: the strong view) when ``mim`` is
        on, else the label head's pass. It adds no online pass, and needs the
        multilabel and the contrastive task (its momentum encoder).

        An option that would change nothing is refused with a ``ValueError``:
        ``symmetric=True`` without contrastive or in ``'separate'`` mode,
        ``query_input`` without contrastive or in ``'separate'`` mode,
        ``label_input`` without multilabel, ``'masked'`` without mim.
        """
        unknown = [t for t in tasks if t not in TASKS]
        if unknown or not tasks:
            raise ValueError(f'tasks must be a non-empty subset of {TASKS}, '
                             f'got {tasks}')
        if view_mode not in VIEW_MODES:
            raise ValueError(f'view_mode must be one of {VIEW_MODES}, '
                             f'got {view_mode!r}')
        for name, value in (('label_input', label_input),
                            ('query_input', query_input)):
            if value is not None and value not in INPUTS:
                raise ValueError(f'{name} must be one of {INPUTS} or None, '
                                 f'got {value!r}')
        cls._refuse_unused(tasks, view_mode, symmetric, label_input, query_input)
        missing = [t for t in ('multilabel', 'contrastive') if t not in tasks]
        if teacher and missing:
            raise ValueError(f'the label teacher needs the {missing} task(s): it '
                             'is an EMA copy of the label path on the momentum '
                             "encoder's backbone")
        use_mim = 'mim' in tasks
        mim = OnlinePass('masked', True) if use_mim else None

        def masked_crop(choice: str) -> OnlinePass:
            return OnlinePass('masked', use_mim and choice == 'masked')

        queries, momentum, labels = (), (), None
        if view_mode == 'shared':
            if 'contrastive' in tasks:
                queries = ((masked_crop(query_input or 'masked'), 'view1'), )
                momentum = ('view1', )
                if symmetric:
                    queries += ((OnlinePass('view1', False), 'masked'), )
                    momentum = ('masked', 'view1')
            if 'multilabel' in tasks:
                labels = masked_crop(label_input or 'masked')
        else:
            if 'contrastive' in tasks:
                queries = ((OnlinePass('view1', False), 'view2'),
                           (OnlinePass('view2', False), 'view1'))
                momentum = ('view1', 'view2')
            if 'multilabel' in tasks:
                if label_input is not None:
                    labels = masked_crop(label_input)
                elif 'contrastive' in tasks:
                    labels = OnlinePass('view1', False)
                else:
                    labels = OnlinePass('masked', False)
        readers = ([mim] if mim else []) + [q for q, _ in queries] + (
            [labels] if labels else [])
        online = tuple(dict.fromkeys(readers))  # unique, first-use order
        return cls(online=online, momentum=momentum, mim=mim, queries=queries,
                   labels=labels, teacher=(mim or labels) if teacher else None)

    @staticmethod
    def _refuse_unused(tasks: Tuple[str, ...], view_mode: str, symmetric: bool,
                       label_input: Optional[str],
                       query_input: Optional[str]) -> None:
        """Raise on an option the plan of ``tasks`` / ``view_mode`` would ignore."""
        where = f'view_mode={view_mode!r} with tasks {tuple(tasks)}'
        if symmetric and 'contrastive' not in tasks:
            raise ValueError(f'symmetric=True has no effect in {where}: it adds '
                             'a contrastive pair and needs the contrastive task')
        if symmetric and view_mode == 'separate':
            raise ValueError("symmetric=True has no effect in view_mode="
                             "'separate': that mode is MoCo v3, whose loss is "
                             'already symmetric (view1 and view2 each query the '
                             "other's key); use it with view_mode='shared'")
        if query_input is not None and 'contrastive' not in tasks:
            raise ValueError(f'query_input={query_input!r} has no effect in '
                             f'{where}: there is no contrastive query')
        if query_input is not None and view_mode == 'separate':
            raise ValueError(f"query_input={query_input!r} is not accepted in "
                             "view_mode='separate': that mode is MoCo v3, whose "
                             'queries are always the unmasked view1 and view2 '
                             "passes; leave query_input=None or use "
                             "view_mode='shared'")
        if label_input is not None and 'multilabel' not in tasks:
            raise ValueError(f'label_input={label_input!r} has no effect in '
                             f'{where}: there is no label head')
        for name, value in (('label_input', label_input),
                            ('query_input', query_input)):
            if value == 'masked' and 'mim' not in tasks:
                raise ValueError(f"{name}='masked' has no effect in {where}: "
                                 'without the mim task there is no mask')

    @property
    def uses_mask(self) -> bool:
        return any(p.masked for p in self.online)

    @property
    def required_views(self) -> Tuple[str, ...]:
        """Names of the views this plan reads, in pipeline order."""
        needs = {p.view for p in self.online} | set(self.momentum) | (
            {TEACHER_VIEW} if self.teacher else set())
        return tuple(v for v in VIEW_NAMES if v in needs)

    def describe(self) -> str:
        """One line, e.g. ``online 1: masked +mask -> mim, query(key view1),
        labels; momentum 1: view1 -> key``."""
        parts = []
        for i, p in enumerate(self.online, 1):
            readers = (['mim'] if p == self.mim else []) + [
                f'query(key {key})' for q, key in self.queries if q == p] + (
                ['labels'] if p == self.labels else []) + (
                ['labels (student)'] if p == self.teacher else [])
            parts.append(f'online {i}: {p} -> {", ".join(readers)}')
        for i, view in enumerate(self.momentum, 1):
            parts.append(f'momentum {i}: {view} -> key')
        if self.teacher:
            parts.append(f'momentum {len(self.momentum) + 1}: {TEACHER_VIEW} -> '
                         'labels (teacher)')
        return '; '.join(parts)
