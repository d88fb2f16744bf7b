"""The core (``mmhybrid.engine``) does not depend on the benchmark harness."""
import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ENGINE = REPO / 'mmhybrid' / 'engine'


def imported_modules(path: Path):
    """Absolute names of the modules ``path`` imports, at any depth of the
    file (lazy imports in functions included)."""
    package = '.'.join(path.relative_to(REPO).with_suffix('').parts)
    if path.name != '__init__.py':
        package = package.rsplit('.', 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split('.')
            if node.level:
                base = base[:len(base) - node.level + 1]
            module = '.'.join(base + ([node.module] if node.module else [])) \
                if node.level else node.module
            yield module
            yield from (f'{module}.{alias.name}' for alias in node.names)


def test_no_engine_file_imports_the_benchmarks():
    offenders = [f'{path.relative_to(REPO)}: {name}'
                 for path in sorted(ENGINE.rglob('*.py'))
                 for name in imported_modules(path)
                 if name == 'mmhybrid.benchmarks'
                 or name.startswith('mmhybrid.benchmarks.')]
    assert not offenders, offenders


def test_importing_the_engine_loads_no_benchmark_module():
    code = ('import sys, mmhybrid.engine; '
            'print(sorted(m for m in sys.modules if m.startswith("mmhybrid.bench")))')
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == '[]'
