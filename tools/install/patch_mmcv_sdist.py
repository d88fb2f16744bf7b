"""Patch an unpacked mmcv 2.1.0 sdist so that it builds and runs on torch 2.14 / numpy 2.

Two edits, each checked before and after:

1. ``setup.py``: ``-std=c++17`` -> ``-std=c++20`` (torch >= 2.10 headers refuse C++17).
2. ``mmcv/image/photometric.py``: ``np.uint8(hue_factor * 255)`` overflows under
   numpy 2 for negative hue factors (ColorJitter in MoCo v3 pipelines); it becomes
   ``np.uint8(int(hue_factor * 255) % 256)``, the same bytes numpy 1 produced.

Fails loudly (exit 1, naming the file and the text it looked for) if the sdist is
not the one these patches were written for.

Usage: python tools/install/patch_mmcv_sdist.py SRC_DIR
"""
import argparse
import sys
from pathlib import Path

PATCHES = [
    ('setup.py', '-std=c++17', '-std=c++20'),
    ('mmcv/image/photometric.py', 'np.uint8(hue_factor * 255)',
     'np.uint8(int(hue_factor * 255) % 256)'),
]


def apply_patch(root: Path, rel: str, old: str, new: str) -> str:
    """Replace ``old`` by ``new`` in ``root/rel``; idempotent, verified."""
    path = root / rel
    if not path.is_file():
        sys.exit(f'patch_mmcv_sdist: {path} not found: is {root} an mmcv 2.1.0 sdist?')
    text = path.read_text()
    if old not in text:
        if new in text:
            return f'{rel}: already patched'
        sys.exit(f'patch_mmcv_sdist: {path} does not contain {old!r}; '
                 'the sdist changed, update tools/install/patch_mmcv_sdist.py')
    path.write_text(text.replace(old, new))
    if old in path.read_text() or new not in path.read_text():
        sys.exit(f'patch_mmcv_sdist: patching {path} failed')
    return f'{rel}: {old!r} -> {new!r}'


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', type=Path, help='unpacked mmcv-2.1.0 folder')
    args = parser.parse_args()
    for rel, old, new in PATCHES:
        print('patch_mmcv_sdist:', apply_patch(args.src, rel, old, new))


if __name__ == '__main__':
    main()
