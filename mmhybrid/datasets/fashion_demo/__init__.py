"""The Fashion-MNIST demo world: classification images, multi-label scenes with
COCO instances and semantic maps, built by
``tools/dataset_converters/build_fashion_demo.py``."""
from .builder import SCENE_CLASSES, DemoParams, build_fashion_demo
from .fashion_mnist import CLASSES, DEFAULT_DIR, FashionMNISTNotFound, load_split
from .scenes import (DENSE_SCENE_STYLES, IMAGE_TYPES, SceneStyle,
                     render_dense_scene, render_scene)

__all__ = [
    'CLASSES', 'DEFAULT_DIR', 'DENSE_SCENE_STYLES', 'IMAGE_TYPES',
    'SCENE_CLASSES', 'DemoParams', 'FashionMNISTNotFound', 'SceneStyle',
    'build_fashion_demo', 'load_split', 'render_dense_scene', 'render_scene'
]
