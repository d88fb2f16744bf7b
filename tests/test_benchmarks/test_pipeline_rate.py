"""The data pipeline rate benchmark (mmhybrid/benchmarks/pipeline_rate.py) at
toy size: deterministic JPEGs, every row measured, the loader-core arithmetic,
and the CLI's markdown section. No timing is asserted."""
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from mmhybrid.benchmarks import pipeline_rate as pr

REPO = Path(__file__).resolve().parents[2]
PYTHON = str(REPO / '.venv/bin/python') if (REPO / '.venv/bin/python').exists() \
    else sys.executable


@pytest.fixture
def sources(tmp_path):
    """Three small scene-like PNGs (as the demo world's scenes/train)."""
    src = tmp_path / 'scenes' / 'train'
    src.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i in range(3):
        img = cv2.resize(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), (32, 32),
                         interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(src / f'{i:06d}.png'), img)
    return src


def test_jpegs_are_deterministic_and_of_the_requested_size(sources, tmp_path):
    a = pr.write_jpegs(str(sources), str(tmp_path / 'a'), 5, size=(64, 48))
    b = pr.write_jpegs(str(sources), str(tmp_path / 'b'), 5, size=(64, 48))
    assert [Path(p).name for p in a] == [f'{i:05d}.jpg' for i in range(5)]
    assert [Path(p).read_bytes() for p in a] == [Path(p).read_bytes() for p in b]
    again = pr.write_jpegs(str(sources), str(tmp_path / 'a'), 5, size=(64, 48))
    assert [Path(p).read_bytes() for p in again] == [Path(p).read_bytes() for p in b]
    for p in a:
        with Image.open(p) as im:
            assert im.format == 'JPEG' and im.size == (64, 48) and im.mode == 'RGB'
    # images cycling over the same source differ by their noise
    assert len({Path(p).read_bytes() for p in a}) == 5
    other = pr.write_jpegs(str(sources), str(tmp_path / 'c'), 5, size=(64, 48), seed=1)
    assert [Path(p).read_bytes() for p in other] != [Path(p).read_bytes() for p in a]
    plain = pr.write_jpegs(str(sources), str(tmp_path / 'd'), 5, size=(64, 48), noise=0)
    assert pr.mean_file_kb(plain) < pr.mean_file_kb(a)
    with pytest.raises(FileNotFoundError):
        pr.write_jpegs(str(tmp_path / 'd' / 'none'), str(tmp_path / 'e'), 1)


def test_loader_cores():
    assert pr.loader_cores(354, 100) == 4
    assert pr.loader_cores(354, 354) == 1
    assert pr.loader_cores(708, 354) == 2
    assert pr.loader_cores(354, 400) == 1
    assert pr.loader_cores(708, 236) == 3
    assert pr.loader_cores(708, 235.9) == 4
    with pytest.raises(ValueError):
        pr.loader_cores(354, 0)


@pytest.fixture
def one_core():
    """pr.single_core() for one test; the session's threads come back after."""
    threads, cv2_threads = torch.get_num_threads(), cv2.getNumThreads()
    pr.single_core()
    yield
    torch.set_num_threads(threads)
    cv2.setNumThreads(cv2_threads)


def test_every_row_is_measured_with_a_positive_rate(sources, tmp_path, one_core):
    assert torch.get_num_threads() == 1
    paths = pr.write_jpegs(str(sources), str(tmp_path / 'jpegs'), 2, size=(96, 72))
    cfg = Config.fromfile(str(REPO / pr.HEADLINE_CONFIG))
    rows = pr.build_rows(cfg, paths)
    names = [r.name for r in rows]
    assert names[:3] == ['decode LoadImageRobust cv2', 'decode LoadImageRobust pillow',
                         'decode LoadImageFromFile cv2']
    assert 'views only (pre-decoded)' in names
    assert {'pipeline LoadImageRobust cv2', 'pipeline LoadImageRobust pillow',
            'pipeline LoadImageFromFile cv2'} <= set(names)
    for row in rows:
        out = row.fn(0)
        if row.kind == 'decode':
            assert out['img'].shape == (72, 96, 3) and out['img'].dtype == np.uint8
        else:  # the headline's two 192 px views, the mask and the label, packed
            assert [tuple(v.shape) for v in out['inputs']] == [(3, 192, 192)] * 2
            ds = out['data_samples']
            assert ds.view_names == ('masked', 'view1')
            assert tuple(ds.mask.shape) == (48, 48)
            assert 'gt_label' in ds
    pr.measure(rows, len(paths), repeats=1, log=lambda line: None)
    results = pr.summarise(rows, len(paths), gpu_rates=(354.0, 708.0))
    assert [r['row'] for r in results] == names
    for r in results:
        assert r['img_s'] > 0 and r['repeats'] == 1 and r['files'] == 2
        if r['kind'] == 'pipeline':
            assert r['cores'] == {g: pr.loader_cores(g, r['img_s'])
                                  for g in (354.0, 708.0)}
        else:
            assert r['cores'] == {}
    table = pr.format_table(results, (354.0, 708.0), markdown=True)
    assert 'cores for 354 img/s' in table and 'cores for 708 img/s' in table
    assert len(pr.verdict_lines(results, (354.0, 708.0))) == 3


def test_cli_appends_a_markdown_section_with_its_command(sources, tmp_path):
    out = tmp_path / 'results' / 'pipeline_rate.md'
    out.parent.mkdir()
    out.write_text('# earlier runs\n')
    args = ['--source', str(sources), '--jpeg-dir', str(tmp_path / 'jpegs'),
            '--images', '2', '--size', '64', '48', '--repeats', '1',
            '--gpu-rates', '354', '--out', str(out)]
    proc = subprocess.run([PYTHON, 'tools/benchmarks/pipeline_rate.py'] + args,
                          cwd=REPO, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = out.read_text()
    assert text.startswith('# earlier runs\n')
    assert '\n## pipeline rate, ' in text
    assert ('command: `python tools/benchmarks/pipeline_rate.py '
            + ' '.join(args) + '`') in text
    assert 'load average' in text and 'at start' in text and 'at end' in text
    assert 'JPEG decoders: Pillow' in text and 'turbojpeg module:' in text
    assert '| pipeline LoadImageRobust cv2 |' in text
    assert 'cores for 354 img/s' in text
    assert sorted(os.listdir(tmp_path / 'jpegs')) == ['00000.jpg', '00001.jpg']
