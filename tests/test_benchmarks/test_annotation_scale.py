"""The annotation-scale benchmark at toy size: JSON and label index measured in
fresh processes, the table and its files written."""
import json

from mmhybrid.benchmarks.annotation_scale import main, synthetic_columns


def test_synthetic_annotation_has_the_documented_mix():
    columns = synthetic_columns(2000, labels=10, num_classes=500, seed=0)
    state = columns['state']
    assert len(columns['paths_offsets']) == 2001
    assert 0.05 < (state == 0).mean() < 0.15 and 0.15 < (state == 2).mean() < 0.25
    positives = columns['positives']
    assert positives.min() >= 0 and positives.max() < 500


def test_measures_json_and_index_and_writes_the_table(tmp_path, capsys):
    main(['--work-dir', str(tmp_path), '--images', '300', '--scale-to', '600',
          '--classes', '40', '--workers', '1', '--samples', '50', '--repeats', '1'])
    out = capsys.readouterr().out
    table = [line for line in out.splitlines() if line.startswith('| ')]
    formats = [line.split('|')[1].strip() for line in table[1:]]
    assert formats == ['json', 'lblidx', 'lblidx', 'json (extrapolated)']
    record = json.loads((tmp_path / 'annotation_scale.json').read_text())
    rows = record['rows']
    assert [r['images'] for r in rows] == [300, 300, 600, 600]
    assert all(r['load_s'] > 0 and r['file_mib'] > 0 for r in rows)
    assert (tmp_path / 'annotation_scale.csv').is_file()
