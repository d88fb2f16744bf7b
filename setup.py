"""Install mmhybrid. The OpenMMLab stack itself is installed by ``make install``
(tools/install/install_stack.sh): mmcv 2.1.0 has to be built from source there."""
import os.path as osp

from setuptools import find_packages, setup


def read_requirements(name):
    path = osp.join(osp.dirname(__file__), 'requirements', name)
    with open(path) as f:
        return [line.strip() for line in f
                if line.strip() and not line.startswith('#')]


def get_version():
    scope = {}
    with open(osp.join(osp.dirname(__file__), 'mmhybrid', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='mmhybrid',
    version=get_version(),
    description='Hybrid multi-label + SimMIM + MoCo v3 pre-training, an OpenMMLab '
                '2.x plugin',
    long_description=open(osp.join(osp.dirname(__file__), 'README.md')).read()
    if osp.exists(osp.join(osp.dirname(__file__), 'README.md')) else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    python_requires='>=3.9',
    install_requires=read_requirements('runtime.txt'),
    extras_require=dict(tests=read_requirements('tests.txt')),
    license='Apache License 2.0',
    zip_safe=False,
)
