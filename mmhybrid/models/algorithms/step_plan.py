"""The per-step plan of HybridPretrain: which view goes through which pass, and
which head reads each pass."""
from dataclasses import dataclass
from typing import Optional, Tuple

TASKS = ('mim', 'contrastive', 'multilabel')
VIEW_MODES = ('shared', 'separate')
INPUTS = ('masked', 'unmasked')
VIEW_NAMES = ('masked', 'view1', 'view2')  # pipeline order (HybridViews)


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
    """
    online: Tuple[OnlinePass, ...]
    momentum: Tuple[str, ...]
    mim: Optional[OnlinePass]
    queries: Tuple[Tuple[OnlinePass, str], ...]
    labels: Optional[OnlinePass]

    @classmethod
    def build(cls,
              tasks: Tuple[str, ...],
              view_mode: str = 'shared',
              symmetric: bool = False,
              label_input: Optional[str] = None,
              query_input: Optional[str] = None) -> 'StepPlan':
        """Plan the passes of a task set and view mode.

        ``'shared'``: the online view is ``masked``. MIM reads its masked pass;
        the label head and the contrastive query read the masked pass
        (``label_input`` / ``query_input`` = ``'masked'``) or an unmasked pass
        over the same crop (``'unmasked'``), added only when asked. The momentum
        encoder keys ``view1``; ``symmetric`` adds the swapped pair (query from
        ``view1``, key from ``masked``).

        ``'separate'``: MIM on ``masked``; the contrastive task is MoCo v3
        (queries from unmasked ``view1`` and ``view2``, each keyed by the other);
        the label head reads the unmasked ``view1`` pass when contrastive is on,
        otherwise an unmasked pass over ``masked``; ``label_input='masked'``
        makes it read the MIM pass instead. ``query_input`` must be unmasked.

        Without ``mim`` there is no mask: every pass is unmasked.
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
            if query_input == 'masked':
                raise ValueError("view_mode='separate' is MoCo v3: the queries "
                                 "read unmasked views; query_input='masked' "
                                 "needs view_mode='shared'")
            if 'contrastive' in tasks:
                queries = ((OnlinePass('view1', False), 'view2'),
                           (OnlinePass('view2', False), 'view1'))
                momentum = ('view1', 'view2')
            if 'multilabel' in tasks:
                if label_input == 'masked':
                    labels = masked_crop('masked')
                elif 'contrastive' in tasks:
                    labels = OnlinePass('view1', False)
                else:
                    labels = OnlinePass('masked', False)
        readers = ([mim] if mim else []) + [q for q, _ in queries] + (
            [labels] if labels else [])
        online = tuple(dict.fromkeys(readers))  # unique, first-use order
        return cls(online=online, momentum=momentum, mim=mim, queries=queries,
                   labels=labels)

    @property
    def uses_mask(self) -> bool:
        return any(p.masked for p in self.online)

    @property
    def required_views(self) -> Tuple[str, ...]:
        """Names of the views this plan reads, in pipeline order."""
        needs = {p.view for p in self.online} | set(self.momentum)
        return tuple(v for v in VIEW_NAMES if v in needs)

    def describe(self) -> str:
        """One line, e.g. ``online 1: masked +mask -> mim, query(view1), labels;
        momentum 1: view1 -> key``."""
        parts = []
        for i, p in enumerate(self.online, 1):
            readers = (['mim'] if p == self.mim else []) + [
                f'query(key {key})' for q, key in self.queries if q == p] + (
                ['labels'] if p == self.labels else [])
            parts.append(f'online {i}: {p} -> {", ".join(readers)}')
        for i, view in enumerate(self.momentum, 1):
            parts.append(f'momentum {i}: {view} -> key')
        return '; '.join(parts)
