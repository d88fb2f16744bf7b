"""The README.md written into a demo build."""
from typing import Sequence

from .scenes import (IMAGE_TYPE_HELP, MASK_THRESHOLD, OBJECT_SCALE_RANGE,
                     SCALE_RANGE)

_LAYOUT = """\
cls/                       Fashion-MNIST as images: the classification benchmark
  train/00000.png ...      {size}x{size} grayscale PNG, from Fashion-MNIST train
  test/00000.png ...       from Fashion-MNIST test (t10k)
  meta/train.txt           "train/00000.png 3" (mmpretrain CustomDataset ann_file)
  meta/test.txt
  meta/classes.txt         the 10 classes, one per line
scenes/                    {size}x{size} RGB PNG scenes, 1-{max_garments} garments each
  train/000000.png ...     garments from Fashion-MNIST train only
  val/000000.png ...       garments from Fashion-MNIST test only
  unlabelled/000000.png    more train-garment scenes, no annotations at all
  meta/classes.txt         multi-label space: 10 garments, then {num_types} image types
  meta/train_multilabel.json   mmpretrain MultiLabelDataset JSON, all labelled
  meta/train_partial.json      same, {unlabelled} of {train} entries "gt_label": []
  meta/val_multilabel.json
  meta/train_list.txt      "train/000000.png<TAB>3,7,12" (MultiLabelListDataset)
  annotations/instances_train.json, instances_val.json   COCO instances
  seg/train/000000.png, seg/val/...   uint8 class maps: 0 background, 1-10 garments
objects/                   {size}x{size} RGB PNG, one large garment each (ImageNet-like)
  train/000000.png ...     garments from Fashion-MNIST train images not in cls/train
  meta/train.json          mmpretrain MultiLabelDataset JSON: garment + image type
  meta/classes.txt         the scenes' multi-label space
provenance.json            which Fashion-MNIST image every picture was made from
build_info.json            build parameters, source checksums, counts
preview.png, README.md"""

_LOADING = """\
```python
# classification benchmark (mmpretrain)
dict(type='CustomDataset', data_root='{root}/cls', ann_file='meta/train.txt',
     classes='{root}/cls/meta/classes.txt')
# scenes, multi-label; unlabelled entries have no gt_label (mmhybrid)
dict(type='PartialMultiLabelDataset', data_root='{root}/scenes',
     ann_file='meta/train_partial.json')
dict(type='MultiLabelListDataset', data_root='{root}/scenes',
     ann_file='meta/train_list.txt', classes='{root}/scenes/meta/classes.txt')
dict(type='UnlabelledImageFolder', data_root='{root}/scenes',
     data_prefix='unlabelled')
# labelled object-centric images, multi-label (garment + image type)
dict(type='PartialMultiLabelDataset', data_root='{root}/objects',
     ann_file='meta/train.json')
# detection / instance segmentation (mmdet)
dict(type='CocoDataset', data_root='{root}/scenes/',
     ann_file='annotations/instances_train.json', data_prefix=dict(img='train/'),
     metainfo=dict(classes={garments}))
# semantic segmentation (mmseg): 11 classes, background included
dict(type='BaseSegDataset', data_root='{root}/scenes',
     data_prefix=dict(img_path='train', seg_map_path='seg/train'),
     img_suffix='.png', seg_map_suffix='.png', reduce_zero_label=False,
     metainfo=dict(classes=('background', ) + {garments}))
```"""


def _table(rows) -> str:
    lines = ['| ' + ' | '.join(map(str, rows[0])) + ' |',
             '|' + '---|' * len(rows[0])]
    lines += ['| ' + ' | '.join(map(str, r)) + ' |' for r in rows[1:]]
    return '\n'.join(lines)


def readme_text(info: dict, scene_classes: Sequence[str],
                garments: Sequence[str], image_types: Sequence[str]) -> str:
    """Render the README of a build from its ``build_info`` record."""
    p, c = info['params'], info['counts']
    root = 'data/fashion_demo'
    counts = _table([
        ('part', 'images', 'garment instances', 'fully occluded, dropped'),
        ('cls/train', c['cls']['train'], '', ''),
        ('cls/test', c['cls']['test'], '', ''),
    ] + [(f'scenes/{s}', c[s]['scenes'],
          c[s]['instances'] if s != 'unlabelled' else '(not annotated)',
          c[s]['fully_occluded_dropped'] if s != 'unlabelled' else '')
         for s in ('train', 'val', 'unlabelled')] +
        [('objects/train', c['objects']['images'], c['objects']['images'], 0)])
    per_class = _table([('index', 'class', 'train instances',
                         'val instances')] +
                       [(i, name, c['train']['instances_per_class'][name],
                         c['val']['instances_per_class'][name])
                        for i, name in enumerate(garments)])
    types = '\n'.join(
        f'- `{10 + t}` **{name}**: {IMAGE_TYPE_HELP[name]} '
        f"({c['train']['scenes_per_image_type'][name]} train scenes)"
        for t, name in enumerate(image_types))
    options = ' '.join(
        f"--{k.replace('_', '-')} {v}" for k, v in p.items()
        if k != 'max_garments')
    return f"""# Fashion-MNIST demo world

A small, fully synthetic stand-in for the ImageNet / COCO / ADE20K trio, built
from [Fashion-MNIST](https://github.com/zalandoresearch/fashion-mnist) by
`tools/dataset_converters/build_fashion_demo.py` (mmhybrid). Every file here is
generated: rebuilding replaces the folder.

![preview](preview.png)

*Train scenes: left, the image with instance boxes and its image type; right,
the instance masks coloured by class.*

## Counts

{counts}

`scenes/meta/train_partial.json`: {c['train_partial']['labelled']} labelled,
{c['train_partial']['unlabelled']} unlabelled (`"gt_label": []`) entries.

Garment classes (`scenes/meta/classes.txt` indices 0-9, COCO category id =
index + 1, segmentation class = index + 1):

{per_class}

## Image types

Each scene is rendered in one type, which is also one of its labels (indices
10-{9 + len(image_types)} of `scenes/meta/classes.txt`):

{types}

## Layout

```
{_LAYOUT.format(size=p['size'], max_garments=p['max_garments'],
                num_types=len(image_types),
                unlabelled=c['train_partial']['unlabelled'],
                train=c['train']['scenes'])}
```

- **Scenes.** A background (plain, gradient, stripes or soft blotches), then 1 to
  {p['max_garments']} garments, each a random Fashion-MNIST image of the split
  (train for `train/` and `unlabelled/`, test for `val/`), randomly flipped,
  scaled to {SCALE_RANGE[0]}-{SCALE_RANGE[1]} of the side, placed, and tinted
  (shade 0.3-1.0 of a random colour); later garments cover earlier ones.
- **Objects.** One garment per image, scaled to {OBJECT_SCALE_RANGE[0]}-{OBJECT_SCALE_RANGE[1]} of the
  side, tinted, on a black backdrop (as Fashion-MNIST's own images), rendered in an
  image type like a scene; labels are the
  garment and the image type, every image labelled. The garments are
  class-balanced Fashion-MNIST train images that `cls/` does not use, so the
  classification benchmark's images never appear with labels in pre-training.
- **Masks.** A garment's mask is its resized intensity above {MASK_THRESHOLD}/255;
  the instance mask is what stays visible of it. A garment covered entirely is
  no instance and no label. Instance masks, boxes (tight around the visible
  pixels) and the `seg/` class maps agree pixel for pixel.
- **Multi-label.** A scene's labels are the classes of its visible garments plus
  its image type: one label space of {len(scene_classes)} classes.
- **COCO.** `file_name` is the bare file name (`000000.png`; the split folder
  is the data prefix), image id = file index + 1, `segmentation` is compressed
  RLE, `area` the visible pixel count, `iscrowd` 0.
- **Pixels.** `scenes/` are RGB PNGs, `cls/` grayscale PNGs (every loader in
  mmpretrain/mmdet/mmseg reads them as 3-channel colour).

## Loading

{_LOADING.format(root=root, garments=tuple(garments))}

## How it was built

```
python tools/dataset_converters/build_fashion_demo.py --out {root} {options}
```

From the Debian package `dataset-fashion-mnist` (or `--fashion-mnist DIR`),
checksums in `build_info.json`. The build is deterministic: the same parameters
and source give the same bytes. Running the command again with the same
parameters prints "up to date" and changes nothing.
"""
