import runpy
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[3] / 'tools' / 'dataset_converters'


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """Run ``tools/dataset_converters/<script>`` in this process with ``args``;
    returns its stdout (a failing tool raises SystemExit)."""

    def run(script, *args):
        monkeypatch.setattr(sys, 'argv', [script] + [str(a) for a in args])
        runpy.run_path(str(TOOLS / script), run_name='__main__')
        return capsys.readouterr().out

    return run
