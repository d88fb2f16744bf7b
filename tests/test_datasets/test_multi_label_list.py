import pytest

from mmhybrid.datasets import AnnotationError, MultiLabelListDataset

CLASSES = [f'class{i}' for i in range(210)]


def write_list(tmp_path, text, name='list.txt'):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_parses_paths_and_labels(tmp_path):
    ann = write_list(tmp_path, 'dir/a.jpg\t3,17,205\n'
                     '# a comment\n\n'
                     'b.jpg\t 4 , 2\n')
    dataset = MultiLabelListDataset(ann_file=ann, data_prefix='root',
                                    classes=CLASSES)
    assert len(dataset) == 2
    assert dataset.get_data_info(0)['img_path'] == 'root/dir/a.jpg'
    assert dataset.get_data_info(0)['gt_label'] == [3, 17, 205]
    assert dataset.get_data_info(1)['gt_label'] == [2, 4]


def test_empty_label_field_means_unlabelled(tmp_path):
    ann = write_list(tmp_path, 'a.jpg\t\nb.jpg\nc.jpg\t1\n')
    dataset = MultiLabelListDataset(ann_file=ann, classes=CLASSES)
    assert len(dataset) == 3
    assert 'gt_label' not in dataset.get_data_info(0)
    assert 'gt_label' not in dataset.get_data_info(1)
    assert dataset.get_data_info(2)['gt_label'] == [1]


def test_classes_from_a_classes_file(tmp_path):
    classes = tmp_path / 'classes.txt'
    classes.write_text('cat\ndog\n')
    ann = write_list(tmp_path, 'a.jpg\t1\n')
    dataset = MultiLabelListDataset(ann_file=ann, classes=str(classes))
    assert dataset.CLASSES == ('cat', 'dog')


def test_label_out_of_range_names_file_and_line(tmp_path):
    ann = write_list(tmp_path, 'a.jpg\t1\n\nb.jpg\t0,2\n')
    with pytest.raises(AnnotationError,
                       match=r"list\.txt', line 3: label 2 is out of range"):
        MultiLabelListDataset(ann_file=ann, classes=['x', 'y'])


def test_negative_label_names_file_and_line(tmp_path):
    ann = write_list(tmp_path, 'a.jpg\t-3\n')
    with pytest.raises(AnnotationError,
                       match=r"list\.txt', line 1: label -3 is out of range"):
        MultiLabelListDataset(ann_file=ann, classes=['x', 'y'])


@pytest.mark.parametrize('field, message', [
    ('1,x', "label 'x' is not an integer"),
    ('1,,2', 'empty label'),
    ('1\t2', 'more than one tab'),
])
def test_malformed_label_field_names_the_line(tmp_path, field, message):
    ann = write_list(tmp_path, f'ok.jpg\t0\nbad.jpg\t{field}\n')
    with pytest.raises(AnnotationError, match=rf"line 2: .*{message}"):
        MultiLabelListDataset(ann_file=ann, classes=CLASSES)


def test_duplicate_lines_name_both_line_numbers(tmp_path):
    ann = write_list(tmp_path, 'a.jpg\t0\nb.jpg\t1\na.jpg\t\n')
    with pytest.raises(AnnotationError,
                       match=r"line 3: duplicate img_path 'a\.jpg', first at "
                       'line 1'):
        MultiLabelListDataset(ann_file=ann, classes=CLASSES)
    dataset = MultiLabelListDataset(ann_file=ann, classes=CLASSES,
                                    on_duplicate='skip')
    assert len(dataset) == 2 and dataset.num_duplicates_skipped == 1


def test_classes_are_required(tmp_path):
    ann = write_list(tmp_path, 'a.jpg\t0\n')
    with pytest.raises(AnnotationError, match='no class names'):
        MultiLabelListDataset(ann_file=ann)
