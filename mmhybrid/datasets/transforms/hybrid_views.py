"""Turn one decoded image into the named views HybridPretrain reads."""
import copy
from typing import Dict, List, Optional, Sequence

from mmcv.transforms import BaseTransform, Compose
from mmpretrain.registry import TRANSFORMS

VIEW_NAMES = ('masked', 'view1', 'view2')


@TRANSFORMS.register_module()
class HybridViews(BaseTransform):
    """Make the views of :class:`HybridPretrain` from one image.

    Each view runs its own pipeline on a copy of the decoded image:

    - ``'masked'``: weak augmentation (SimMIM's crop + flip); the mask from
      ``mask_generator`` (mmpretrain's ``SimMIMMaskGenerator``), if given, goes
      to ``results['mask']``. In ``shared`` mode this is the one online view.
    - ``'view1'``, ``'view2'``: the two MoCo v3 crops (``shared`` mode encodes
      ``view1`` as the momentum key).

    Output: ``results['img']`` is the list of views in the order of ``views``,
    ``results['view_names']`` their names (pack it with
    ``PackInputs(meta_keys=(..., 'view_names'))``), labels are left untouched:
    an unlabelled sample has no ``gt_label`` and keeps none.

    Args:
        view_pipelines (dict): Transform configs per view name.
        views (Sequence[str]): Which views to make. Defaults to all three, which
            serves every task set and both view modes; a config that runs fewer
            tasks may list only the views its model reads
            (``HybridPretrain.required_views``).
        mask_generator (dict, optional): Mask transform for the ``masked`` view,
            e.g. ``dict(type='SimMIMMaskGenerator', input_size=192,
            mask_patch_size=32, model_patch_size=4, mask_ratio=0.6)``. Needed
            only when the model reads a masked pass (the ``mim`` task); without
            it no ``mask`` is written and a model that needs one says so at its
            first step. Unused when ``views`` leaves out ``masked`` (so a
            config can narrow ``views`` alone).
    """

    def __init__(self,
                 view_pipelines: Dict[str, List[dict]],
                 views: Sequence[str] = VIEW_NAMES,
                 mask_generator: Optional[dict] = None) -> None:
        unknown = [v for v in views if v not in VIEW_NAMES]
        if unknown:
            raise ValueError(f'unknown view names {unknown}; known: {VIEW_NAMES}')
        missing = [v for v in views if v not in view_pipelines]
        if missing:
            raise ValueError(f'no pipeline given for views {missing}')
        self.views = tuple(views)
        self.pipelines = {v: Compose(view_pipelines[v]) for v in self.views}
        self.mask_generator = (TRANSFORMS.build(mask_generator)
                               if mask_generator is not None else None)

    def transform(self, results: dict) -> dict:
        images = []
        for view in self.views:
            out = self.pipelines[view](copy.deepcopy(results))
            if out is None:
                return None
            images.append(out['img'])
            if view == 'masked' and self.mask_generator is not None:
                results['mask'] = self.mask_generator(out)['mask']
        results['img'] = images
        results['view_names'] = self.views
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(views={self.views}, '
                f'mask_generator={self.mask_generator})')
