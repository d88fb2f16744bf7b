import json

import pytest

from mmhybrid.datasets import AnnotationError, PartialMultiLabelDataset
from mmhybrid.datasets.converters import convert_open_images

LABELS = '''ImageID,Source,LabelName,Confidence
000002b66c9c498e,verification,/m/014j1m,0
000002b66c9c498e,verification,/m/014sv8,1
000002b66c9c498e,crowdsource-verification,/m/01599,1
000002b97e5471a0,verification,/m/05_5p_0,1
000002b97e5471a0,verification,/m/014j1m,1
000002b97e5471a0,verification,/m/014j1m,0
000002b97e5471a0,verification,/m/0abc,0
000002c707c9895e,verification,/m/0bogus,1
000002c707c9895e,verification,/m/01599,0.5
000002c707c9895e,machine,/m/014sv8,1
000002c707c9895e,verification
'''
DESCRIPTIONS = '''LabelName,DisplayName
/m/011k07,Tortoise
/m/014j1m,Apple
/m/014sv8,Human eye
/m/01599,Beer
/m/05_5p_0,"Table, desk"
/m/0abc,Apple
'''


@pytest.fixture
def files(tmp_path):
    labels = tmp_path / 'oidv6-train-annotations-human-imagelabels.csv'
    labels.write_text(LABELS)
    descriptions = tmp_path / 'oidv7-class-descriptions.csv'
    descriptions.write_text(DESCRIPTIONS)
    return str(labels), str(descriptions)


def test_confidence_one_is_positive_zero_negative_unlisted_unknown(files):
    conversion = convert_open_images(*files)
    # used classes in the descriptions' order; shared display names told apart
    assert conversion.classes == ['Apple (/m/014j1m)', 'Human eye', 'Beer',
                                  'Table, desk', 'Apple (/m/0abc)']
    entries = {e['img_path']: e for e in conversion.data_list}
    assert entries['000002b66c9c498e.jpg'] == dict(
        img_path='000002b66c9c498e.jpg', gt_label=[1, 2], gt_negative=[0])
    # Apple is given 1 and 0: left unknown
    assert entries['000002b97e5471a0.jpg'] == dict(
        img_path='000002b97e5471a0.jpg', gt_label=[3], gt_negative=[4])
    assert entries['000002c707c9895e.jpg']['gt_label'] == [1]


def test_summary_counts_images_labels_classes_and_skips(files, tmp_path):
    conversion = convert_open_images(*files, sources=['verification'])
    summary = conversion.write(str(tmp_path / 'out' / 'train.json'))
    assert summary['images'] == 3
    assert summary['partially_labelled'] == 2 and summary['unlabelled'] == 1
    assert summary['classes'] == 4  # Beer had a crowdsourced label only
    assert summary['skipped']['by_reason'] == {
        "source 'crowdsource-verification' not kept": 1,
        "source 'machine' not kept": 1,
        'LabelName not in the class descriptions': 1,
        'confidence not 0 or 1': 1,
        'confidence 1 and 0 for the same image and class (left unknown)': 1,
        'malformed row (not 4 columns)': 1,
    }
    assert summary['skipped']['examples'][
        'LabelName not in the class descriptions'] == ['line 9']
    assert any('Apple' in note for note in summary['notes'])
    on_disk = json.loads((tmp_path / 'out' / 'train.summary.json').read_text())
    assert on_disk['images'] == 3
    # the annotation loads as written
    dataset = PartialMultiLabelDataset(ann_file=str(tmp_path / 'out' / 'train.json'))
    assert dataset.get_data_info(0)['gt_negative'] == [0]
    assert not dataset.is_labelled(2)  # its one positive was a machine label


def test_trainable_classes_and_header_check(files, tmp_path):
    trainable = tmp_path / 'trainable.txt'
    trainable.write_text('/m/014sv8\n/m/01599\n')
    conversion = convert_open_images(*files, trainable_classes=str(trainable))
    assert conversion.classes == ['Human eye', 'Beer']
    bad = tmp_path / 'bad.csv'
    bad.write_text('ImageID,LabelName,Confidence\n')
    with pytest.raises(AnnotationError, match=r"bad\.csv', line 1: expected "
                       'the header ImageID,Source,LabelName,Confidence'):
        convert_open_images(str(bad), files[1])


def test_cli_writes_annotation_summary_and_index(files, tmp_path, run_cli):
    out = tmp_path / 'oi' / 'train.json'
    text = run_cli('open_images_to_multilabel.py', *files, '--out', out,
                   '--path-template', 'train/{image_id}.jpg', '--index')
    assert 'openimages: 3 images, 3 labelled (3 partially)' in text
    assert '1 x LabelName not in the class descriptions (e.g. line 9)' in text
    dataset = PartialMultiLabelDataset(ann_file=str(tmp_path / 'oi' / 'train.lblidx'))
    assert dataset.get_data_info(0)['img_path'] == 'train/000002b66c9c498e.jpg'
    assert dataset.get_data_info(0)['gt_negative'] == [0]
