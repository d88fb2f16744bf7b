import pytest

from mmhybrid.datasets import AnnotationError, PartialMultiLabelDataset
from mmhybrid.datasets.converters import convert_domainnet


@pytest.fixture
def lists(tmp_path):
    root = tmp_path / 'domainnet'
    root.mkdir()
    (root / 'clipart_train.txt').write_text(
        'clipart/aircraft_carrier/clipart_001_000018.jpg 0\n'
        'clipart/bicycle/clipart_020_000003.jpg 20\n'
        'clipart/bicycle/clipart_020_000003.jpg 20\n'
        'clipart/zebra/clipart_344_000001.jpg 344\n')
    (root / 'sketch_train.txt').write_text(
        'sketch/bicycle/sketch_020_000100.jpg 20\n'
        'sketch/bicycle/sketch_020_000101.jpg 21\n'
        'sketch/sketch_020_000102.jpg 20\n'
        'not a line\n')
    (root / 'real_train.txt').write_text('real/zebra/real_344_000007.jpg 344\n')
    for line in ('clipart/aircraft_carrier/clipart_001_000018.jpg',
                 'clipart/bicycle/clipart_020_000003.jpg',
                 'sketch/bicycle/sketch_020_000100.jpg'):
        (root / line).parent.mkdir(parents=True, exist_ok=True)
        (root / line).write_bytes(b'')
    return str(root), [str(root / f'{d}_train.txt')
                       for d in ('clipart', 'sketch', 'real')]


def test_class_and_domain_in_one_label_space(lists, tmp_path):
    conversion = convert_domainnet(*lists)
    assert conversion.classes == ['aircraft_carrier', 'bicycle', 'zebra',
                                  'clipart', 'real', 'sketch']
    labels = {e['img_path']: [conversion.classes[c] for c in e['gt_label']]
              for e in conversion.data_list}
    assert labels['sketch/bicycle/sketch_020_000100.jpg'] == ['bicycle', 'sketch']
    assert labels['real/zebra/real_344_000007.jpg'] == ['zebra', 'real']
    summary = conversion.write(str(tmp_path / 'train.json'))
    assert summary['images'] == 5
    assert summary['positives_per_labelled_image']['mean'] == 2
    assert summary['skipped']['by_reason'] == {
        'image listed twice': 1,
        "class index disagrees with the class's earlier index": 1,
        'path is not <domain>/<class>/<file>': 1,
        "malformed line (not 'path class_index')": 1}
    assert summary['skipped']['examples']['image listed twice'] == [
        'clipart_train.txt:3']
    assert len(PartialMultiLabelDataset(ann_file=str(tmp_path / 'train.json'))) == 5


def test_domain_selection_prefix_and_file_check(lists):
    conversion = convert_domainnet(*lists, domains=['clipart', 'sketch'],
                                   domain_prefix='domain:', check_files=True)
    assert conversion.classes == ['aircraft_carrier', 'bicycle', 'domain:clipart',
                                  'domain:sketch']
    assert conversion.skipped['image file missing'] == 1  # the clipart zebra
    assert conversion.skipped['domain not selected'] == 1


def test_domain_named_like_a_class_needs_a_prefix(tmp_path):
    listing = tmp_path / 'sketch_train.txt'
    listing.write_text('sketch/sketch/sketch_1.jpg 0\n')
    with pytest.raises(AnnotationError, match=r"\['sketch'\] are also object "
                       'classes; give a domain_prefix'):
        convert_domainnet(str(tmp_path), [str(listing)])


def test_cli(lists, tmp_path, run_cli):
    out = run_cli('domainnet_to_multilabel.py', lists[0], *lists[1], '--out',
                  tmp_path / 'd.json')
    assert 'domainnet: 5 images, 5 labelled (0 partially)' in out
