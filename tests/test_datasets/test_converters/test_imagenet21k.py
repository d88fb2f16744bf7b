import pytest

from mmhybrid.datasets import AnnotationError, PartialMultiLabelDataset
from mmhybrid.datasets.converters import convert_imagenet21k

# entity > animal > dog > terrier; animal > cat; entity > artifact > toy;
# toy_dog is a dog and a toy (WordNet is a DAG)
IS_A = '''n00000000 n00000001
n00000001 n00000002
n00000002 n00000003
n00000001 n00000004
n00000000 n00000005
n00000005 n00000006
n00000002 n00000007
n00000006 n00000007
'''
ENTITY, ANIMAL, DOG, TERRIER, CAT, ARTIFACT, TOY, TOY_DOG = (
    f'n0000000{i}' for i in range(8))


@pytest.fixture
def world(tmp_path):
    root = tmp_path / 'imagenet21k'
    files = {TERRIER: ['n00000003_1.JPEG', 'n00000003_2.JPEG', 'notes.txt'],
             CAT: ['n00000004_1.JPEG'], TOY_DOG: ['n00000007_1.jpg'],
             'n00000009': ['n00000009_1.JPEG']}
    for wnid, names in files.items():
        (root / wnid).mkdir(parents=True)
        for name in names:
            (root / wnid / name).write_bytes(b'')
    (root / 'README.txt').write_text('not a synset')
    is_a = tmp_path / 'wordnet.is_a.txt'
    is_a.write_text(IS_A)
    return str(root), str(is_a)


def labels_by_path(conversion):
    return {e['img_path']: {conversion.classes[c] for c in e['gt_label']}
            for e in conversion.data_list}


def test_each_image_gets_its_synset_and_all_ancestors(world, tmp_path):
    conversion = convert_imagenet21k(*world)
    labels = labels_by_path(conversion)
    assert labels[f'{TERRIER}/n00000003_1.JPEG'] == {TERRIER, DOG, ANIMAL, ENTITY}
    assert labels[f'{CAT}/n00000004_1.JPEG'] == {CAT, ANIMAL, ENTITY}
    # both parents' lines
    assert labels[f'{TOY_DOG}/n00000007_1.jpg'] == {
        TOY_DOG, DOG, ANIMAL, TOY, ARTIFACT, ENTITY}
    assert labels['n00000009/n00000009_1.JPEG'] == {'n00000009'}
    summary = conversion.write(str(tmp_path / 'train.json'))
    assert summary['images'] == 5 and summary['labelled'] == 5
    assert summary['positives_per_labelled_image']['max'] == 6
    assert summary['skipped']['by_reason'] == {'not a synset folder': 1,
                                               'not an image file': 1}
    assert any('n00000009' in note for note in summary['notes'])
    dataset = PartialMultiLabelDataset(ann_file=str(tmp_path / 'train.json'))
    assert len(dataset) == 5 and dataset.CLASSES == tuple(conversion.classes)


def test_depth_cut(world):
    labels = labels_by_path(convert_imagenet21k(*world, min_depth=1, max_depth=2))
    # the root is gone; terrier (depth 3) and toy dog (depth 3) are cut
    assert labels[f'{TERRIER}/n00000003_1.JPEG'] == {DOG, ANIMAL}
    assert labels[f'{TOY_DOG}/n00000007_1.jpg'] == {DOG, ANIMAL, TOY, ARTIFACT}


def test_rare_classes_dropped_and_images_left_without_labels_reported(world):
    conversion = convert_imagenet21k(*world, min_images=2)
    assert conversion.classes == [ENTITY, ANIMAL, DOG, TERRIER]
    labels = labels_by_path(conversion)
    assert labels['n00000009/n00000009_1.JPEG'] == set()  # now unlabelled
    summary = conversion.summary()
    assert summary['unlabelled'] == 1
    assert summary['skipped']['examples'][
        'no class left after the depth cut / min_images (kept as unlabelled)'] == [
        'n00000009/n00000009_1.JPEG']
    assert any('fewer than 2 images' in note for note in summary['notes'])


@pytest.mark.parametrize('text,match', [
    ('a b\nb a\n', 'cycle in the is_a hierarchy'),
    ('a b\nb c d\n', r"line 2: expected 'parent child'"),
])
def test_bad_hierarchy_is_named(world, tmp_path, text, match):
    is_a = tmp_path / 'bad_is_a.txt'
    is_a.write_text(text)
    with pytest.raises(AnnotationError, match=match):
        convert_imagenet21k(world[0], str(is_a))


def test_cli(world, tmp_path, run_cli):
    out = run_cli('imagenet21k_to_multilabel.py', *world, '--out',
                  tmp_path / 'train.json', '--min-depth', '1', '--min-images', '2')
    assert 'imagenet21k: 5 images, 4 labelled (0 partially), 1 unlabelled' in out
    assert 'classes: 3 (0 without any positive image)' in out
