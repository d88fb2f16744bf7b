"""tools/benchmarks/readme_table.py: README's benchmark tables are copied from the
report, the chosen columns only, between their markers, and nothing else moves."""
import pytest

from ..conftest import load_script

REPORT = """# Ablation

## Test split (mean ± std over seeds; higher is better; best in bold)

| method     | seeds | kNN top-1 (frozen) | UperNet mIoU (frozen) |
|------------|-------|--------------------|-----------------------|
| random     | 3     | 73.45 ± 0.69       | 20.92 ± 0.61          |
| multilabel | 3     | **75.83 ± 0.89**   | **22.65 ± 0.79**      |

## Validation split (for choices)

| method     | seeds | kNN top-1 (frozen) | UperNet mIoU (frozen) |
|------------|-------|--------------------|-----------------------|
| random     | 3     | 1.00 ± 0.00        | 2.00 ± 0.00           |

## Sensitivity (method chosen on the validation split, gap on the test split)

| metric                | best on val | test gap vs random | 3 x test std | gap > 3 std |
|-----------------------|-------------|--------------------|--------------|-------------|
| UperNet mIoU (frozen) | multilabel  | +1.73              | 2.38         | no          |
"""


def load_tool():
    return load_script('tools/benchmarks/readme_table.py')


def test_copies_the_chosen_test_columns_and_the_sensitivity(tmp_path):
    tool = load_tool()
    report = tmp_path / 'ablation.md'
    report.write_text(REPORT)
    readme = tmp_path / 'README.md'
    readme.write_text('intro\n<!-- t -->\nold numbers\n<!-- /t -->\nrest\n')
    assert tool.main([str(report), 't', '--columns', 'UperNet mIoU (frozen)',
                      '--readme', str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith('intro\n<!-- t -->\n(`') and text.endswith(
        '\n<!-- /t -->\nrest\n')
    assert 'old numbers' not in text and 'kNN' not in text  # only the chosen column
    assert '| multilabel | 3 | **22.65 ± 0.79** |' in text
    assert '2.00 ± 0.00' not in text  # the test split, not validation
    assert '| UperNet mIoU (frozen) | multilabel | +1.73 | 2.38 | no |' in text
    with pytest.raises(ValueError, match='not in the table'):
        tool.main([str(report), 't', '--columns', 'box AP', '--readme', str(readme)])
    readme.write_text('no markers\n')
    with pytest.raises(ValueError, match='exactly one <!-- t -->'):
        tool.main([str(report), 't', '--columns', 'UperNet mIoU (frozen)',
                   '--readme', str(readme)])
