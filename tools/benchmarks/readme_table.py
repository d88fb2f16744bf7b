"""Copy an ablation report's test table (chosen columns) and its sensitivity table
into a Markdown file (``--readme``; by default docs/evidence/dense-tasks.md, where
the dense protocols' tables live) between ``<!-- NAME -->`` and ``<!-- /NAME -->``,
so that the documented numbers are the tool's output, not retyped:

    python tools/benchmarks/readme_table.py results/dense_v3/ablation.md dense-v3-table \\
        --columns "linear top-1 (frozen)" "Mask R-CNN box AP (frozen)" \\
        "Mask R-CNN mask AP (frozen)" "UperNet mIoU (frozen)"
"""
import argparse
import re
import sys
from typing import List, Sequence


def markdown_tables(text: str, heading: str) -> List[List[List[str]]]:
    """The Markdown tables under the first ``## `` heading that starts with
    ``heading``, each as rows of stripped cells (header first, no separator)."""
    sections = re.split(r'^## ', text, flags=re.M)
    section = next((s for s in sections if s.startswith(heading)), None)
    if section is None:
        raise ValueError(f'no "## {heading}" section')
    tables, rows = [], []
    for line in section.splitlines() + ['']:
        if line.startswith('|'):
            cells = [c.strip() for c in line.strip().strip('|').split('|')]
            if not all(set(c) <= set('-: ') for c in cells):
                rows.append(cells)
        elif rows:
            tables.append(rows)
            rows = []
    return tables


def render(rows: List[List[str]]) -> str:
    out = ['| ' + ' | '.join(rows[0]) + ' |', '|' + '---|' * len(rows[0])]
    out += ['| ' + ' | '.join(r) + ' |' for r in rows[1:]]
    return '\n'.join(out)


def select(rows: List[List[str]], columns: Sequence[str]) -> List[List[str]]:
    header = rows[0]
    missing = [c for c in columns if c not in header]
    if missing:
        raise ValueError(f'columns {missing} not in the table ({header})')
    keep = [0, 1] + [header.index(c) for c in columns]  # method, seeds, chosen
    return [[r[i] for i in keep] for r in rows]


def block(report: str, text: str, columns: Sequence[str]) -> str:
    test = markdown_tables(text, 'Test split')[0]
    sensitivity = markdown_tables(text, 'Sensitivity')[0]
    return '\n'.join([
        f'(`{report}`, tool output, test split, mean ± std over the seeds shown)', '',
        render(select(test, columns)), '',
        'Sensitivity (method chosen on validation, gap on test):', '',
        render(sensitivity)])


def replace_between(readme: str, name: str, content: str) -> str:
    start, end = f'<!-- {name} -->', f'<!-- /{name} -->'
    if readme.count(start) != 1 or readme.count(end) != 1:
        raise ValueError(f'the file needs exactly one {start} and one {end}')
    head, rest = readme.split(start)
    _, tail = rest.split(end)
    return f'{head}{start}\n{content}\n{end}{tail}'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('report', help='an ablation.md')
    parser.add_argument('marker', help='the file holds <!-- MARKER --> ... <!-- /MARKER -->')
    parser.add_argument('--columns', nargs='+', required=True)
    parser.add_argument('--readme', default='docs/evidence/dense-tasks.md')
    args = parser.parse_args(argv)
    with open(args.report) as f:
        content = block(args.report, f.read(), args.columns)
    with open(args.readme) as f:
        readme = f.read()
    with open(args.readme, 'w') as f:
        f.write(replace_between(readme, args.marker, content))
    print(content)
    return 0


if __name__ == '__main__':
    sys.exit(main())
