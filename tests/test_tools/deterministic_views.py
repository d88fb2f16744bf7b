"""Test-only transforms: views and SimMIM masks that depend on the sample alone.

A 1-process and a 2-process run draw different random numbers in their data
pipelines, so their batches differ even when they hold the same images. For the
distributed-equivalence test each sample's views and mask must be a function of
the sample only: the mask here is seeded by the image path.
"""
import zlib

import numpy as np
from mmpretrain.datasets.transforms import SimMIMMaskGenerator
from mmpretrain.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PathSeededMaskGenerator(SimMIMMaskGenerator):
    """``SimMIMMaskGenerator`` whose mask is seeded by ``results['img_path']``
    (same count of masked patches, ``ceil(ratio * patches)``, per sample)."""

    def transform(self, results: dict) -> dict:
        rng = np.random.default_rng(zlib.crc32(str(results['img_path']).encode()))
        mask = np.zeros(self.token_count, dtype=int)
        mask[rng.permutation(self.token_count)[:self.mask_count]] = 1
        mask = mask.reshape((self.rand_size, self.rand_size))
        results['mask'] = mask.repeat(self.scale, axis=0).repeat(self.scale, axis=1)
        return results


def deterministic_pipeline(img_size: int = 64) -> list:
    """A ``HybridViews`` pipeline without randomness: resized ``masked`` view,
    flipped ``view1`` (the shared-mode key), path-seeded mask."""
    resize = dict(type='Resize', scale=(img_size, img_size))
    return [
        dict(type='LoadImageRobust', on_error='raise'),
        dict(type='HybridViews', views=('masked', 'view1'),
             view_pipelines=dict(
                 masked=[resize],
                 view1=[resize, dict(type='RandomFlip', prob=1.,
                                     direction='horizontal')]),
             mask_generator=dict(type='PathSeededMaskGenerator',
                                 input_size=img_size, mask_patch_size=16,
                                 model_patch_size=4, mask_ratio=0.6)),
        dict(type='PackInputs',
             meta_keys=('sample_idx', 'img_path', 'ori_shape', 'img_shape',
                        'view_names')),
    ]
