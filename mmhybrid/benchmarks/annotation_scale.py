"""How long a big multi-label annotation takes to load, and how much memory it
costs per process, as JSON and as a memory-mapped label index (.lblidx).

Generates a synthetic annotation (N images, ~L positives each, 10% unlabelled,
20% partial with verified negatives), then, each measurement in a fresh
process (median of --repeats):

- load: ``PartialMultiLabelDataset(ann_file)`` wall time, RSS after it
  (private ``RssAnon`` and file-backed ``RssFile``) and the peak (``VmHWM``);
- workers: a DataLoader with --workers workers reads --samples random samples
  (``get_data_info``, no images), each reports its RSS and PSS (the shared
  pages divided among the processes that map them); for the index also after
  touching every page of it (the state at the end of an epoch).

The JSON is measured at N and extrapolated linearly; the index is built from the
JSON at N (tools/dataset_converters/build_label_index.py's path, timed) and
written directly at --scale-to images and measured there, not extrapolated.

    nice -n 19 python tools/benchmarks/annotation_scale.py \
        --work-dir work_dirs/annotation_scale --images 1000000 --scale-to 10000000
"""
import argparse
import csv
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time

import numpy as np

UNLABELLED, FULL, PARTIAL = 0, 1, 2


# ---- synthetic annotation ------------------------------------------------------


def synthetic_columns(num_images, labels, num_classes, seed=0):
    """Columnar entries: Poisson(labels) distinct positives per labelled image
    (at least 1, at most 32), 10% unlabelled, 20% partial with Poisson(5)
    verified negatives disjoint from the positives."""
    rng = np.random.default_rng(seed)
    state = np.full(num_images, FULL, dtype=np.int8)
    draw = rng.random(num_images)
    state[draw < 0.1] = UNLABELLED
    state[(draw >= 0.1) & (draw < 0.3)] = PARTIAL
    n_pos = np.clip(rng.poisson(labels, num_images), 1, 32)
    n_pos[state == UNLABELLED] = 0
    n_neg = np.clip(rng.poisson(5, num_images), 0, 32)
    n_neg[state != PARTIAL] = 0
    # distinct classes per image: start + k * stride (mod C), k < 64
    start = rng.integers(0, num_classes, num_images)
    stride = max(1, num_classes // 64)

    def ragged(counts, first):
        owner = np.repeat(np.arange(num_images), counts)
        offsets = np.zeros(num_images + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        k = np.arange(len(owner)) - offsets[owner] + first[owner]
        values = (start[owner] + k * stride) % num_classes
        order = np.lexsort((values, owner))  # sorted within each entry
        return values[order], offsets

    positives, pos_offsets = ragged(n_pos, np.zeros(num_images, np.int64))
    negatives, neg_offsets = ragged(n_neg, n_pos.astype(np.int64))
    path_len = len(image_path(0))
    paths = np.frombuffer(''.join(image_path(i) for i in range(num_images))
                          .encode(), dtype=np.uint8)
    return dict(paths=paths,
                paths_offsets=np.arange(num_images + 1, dtype=np.int64) * path_len,
                positives=positives, positives_offsets=pos_offsets,
                negatives=negatives, negatives_offsets=neg_offsets, state=state)


def image_path(i):
    return f'train/{i // 1000:05d}/{i:09d}.jpg'


def write_json(path, columns, classes):
    """The same entries as PartialMultiLabelDataset JSON, one entry a line."""
    pos, pos_off = columns['positives'].tolist(), columns['positives_offsets']
    neg, neg_off = columns['negatives'].tolist(), columns['negatives_offsets']
    with open(path, 'w') as f:
        f.write('{"metainfo": ' + json.dumps(dict(classes=classes)) +
                ',\n "data_list": [')
        for i, state in enumerate(columns['state'].tolist()):
            entry = dict(img_path=image_path(i),
                         gt_label=pos[pos_off[i]:pos_off[i + 1]])
            if state == PARTIAL:
                entry['gt_negative'] = neg[neg_off[i]:neg_off[i + 1]]
            f.write((',\n  ' if i else '\n  ') + json.dumps(entry))
        f.write('\n ]\n}\n')


# ---- measuring, in a fresh process ---------------------------------------------


def memory():
    """This process's memory in MiB: RSS (anon + file), peak RSS, PSS."""
    values = {}
    with open('/proc/self/status') as f:
        for line in f:
            key, _, rest = line.partition(':')
            if key in ('VmRSS', 'VmHWM', 'RssAnon', 'RssFile', 'RssShmem'):
                values[key] = int(rest.split()[0]) / 1024
    with open('/proc/self/smaps_rollup') as f:
        for line in f:
            if line.startswith('Pss:'):
                values['Pss'] = int(line.split()[1]) / 1024
    return values


class _Touch:
    """Collate function run in the workers: report the worker's memory, after
    touching every page of the index when asked."""

    def __init__(self, dataset, touch):
        self.dataset, self.touch = dataset, touch

    def __call__(self, batch):
        index = getattr(self.dataset, 'label_index', None)
        if self.touch and index is not None:
            for array in index.arrays.values():
                int(np.asarray(array).sum())
        return dict(pid=os.getpid(), **memory())


def measure(ann_file, workers, samples, touch):
    """Load ``ann_file`` and read it from DataLoader workers; print JSON."""
    import torch
    from torch.utils.data import DataLoader

    # as the training tools do: registers the modules (mmhybrid's datasets)

    from mmhybrid.datasets import PartialMultiLabelDataset
    before = memory()
    t0 = time.perf_counter()
    dataset = PartialMultiLabelDataset(ann_file=ann_file)
    load_s = time.perf_counter() - t0
    after = memory()
    n = len(dataset)
    t0 = time.perf_counter()
    g = torch.Generator().manual_seed(0)
    chosen = torch.randint(0, n, (samples, ), generator=g).tolist()
    for i in chosen[:1000]:
        dataset.get_data_info(i)
    per_sample_us = (time.perf_counter() - t0) / min(1000, samples) * 1e6
    out = dict(images=n, load_s=load_s, per_sample_us=per_sample_us,
               before=before, after=after, workers={})
    for touch_all in ([False, True] if touch else [False]):
        # one batch per worker, each a share of the random samples
        batch = max(1, samples // workers)
        loader = DataLoader(
            _Samples(dataset, chosen), batch_size=batch, num_workers=workers,
            collate_fn=_Touch(dataset, touch_all))
        reports = {r['pid']: r for r in loader}
        out['workers']['touched' if touch_all else 'sampled'] = list(
            reports.values())
    print('RESULT ' + json.dumps(out))


class _Samples:
    """The chosen samples' data infos (no pipeline, no images)."""

    def __init__(self, dataset, chosen):
        self.dataset, self.chosen = dataset, chosen

    def __len__(self):
        return len(self.chosen)

    def __getitem__(self, i):
        return self.dataset.get_data_info(self.chosen[i])


def run_measure(args, ann_file, touch):
    cmd = [sys.executable, '-m', 'mmhybrid.benchmarks.annotation_scale', '--measure',
           ann_file, '--workers',
           str(args.workers), '--samples', str(args.samples)]
    if touch:
        cmd.append('--touch')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    results = []
    for _ in range(args.repeats):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode:
            sys.exit(proc.stdout[-2000:] + proc.stderr[-4000:])
        line = [l for l in proc.stdout.splitlines() if l.startswith('RESULT ')]
        results.append(json.loads(line[-1][len('RESULT '):]))
    return results


def median(results, get):
    return statistics.median(get(r) for r in results)


def summarise(name, results, images):
    """One row: medians over the repeats."""
    row = dict(
        format=name, images=images,
        load_s=median(results, lambda r: r['load_s']),
        per_sample_us=median(results, lambda r: r['per_sample_us']),
        rss_after_load_mib=median(results, lambda r: r['after']['VmRSS']),
        anon_after_load_mib=median(results, lambda r: r['after']['RssAnon']),
        file_after_load_mib=median(results, lambda r: r['after']['RssFile']),
        peak_rss_mib=median(results, lambda r: r['after']['VmHWM']),
    )
    for key, field in (('rss', 'VmRSS'), ('anon', 'RssAnon'),
                       ('peak_rss', 'VmHWM')):
        row[f'{key}_before_load_mib'] = median(
            results, lambda r: r['before'][field])
    for phase in ('sampled', 'touched'):
        if phase not in results[0]['workers']:
            continue
        for key, field in (('rss', 'VmRSS'), ('anon', 'RssAnon'),
                           ('pss', 'Pss')):
            row[f'worker_{phase}_{key}_mib'] = median(
                results, lambda r: max(w[field] for w in r['workers'][phase]))
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/annotation_scale')
    parser.add_argument('--images', type=int, default=1_000_000)
    parser.add_argument('--scale-to', type=int, default=10_000_000,
                        help='also write and measure an index of this size')
    parser.add_argument('--labels', type=float, default=10,
                        help='mean positives per labelled image')
    parser.add_argument('--classes', type=int, default=10_000)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--samples', type=int, default=20_000,
                        help='random samples the workers read')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--skip-json', action='store_true',
                        help='do not load the JSON (slow at 1M)')
    parser.add_argument('--measure', help=argparse.SUPPRESS)
    parser.add_argument('--touch', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        return measure(args.measure, args.workers, args.samples, args.touch)

    from mmhybrid.datasets import build_label_index, write_label_index
    os.makedirs(args.work_dir, exist_ok=True)
    classes = [f'class{i:05d}' for i in range(args.classes)]
    tag = f'{args.images // 1000}k'
    ann_json = osp.join(args.work_dir, f'ann_{tag}.json')
    ann_index = osp.join(args.work_dir, f'ann_{tag}.lblidx')
    setup = {}
    if not osp.isfile(ann_json):
        t0 = time.perf_counter()
        write_json(ann_json, synthetic_columns(args.images, args.labels,
                                               args.classes), classes)
        setup['generate_json_s'] = time.perf_counter() - t0
    t0 = time.perf_counter()
    build_label_index(ann_json, ann_index)
    setup['build_index_from_json_s'] = time.perf_counter() - t0
    big = None
    if args.scale_to:
        big = osp.join(args.work_dir, f'ann_{args.scale_to // 1000}k.lblidx')
        if not osp.isdir(big):
            t0 = time.perf_counter()
            write_label_index(big, classes, synthetic_columns(
                args.scale_to, args.labels, args.classes))
            setup['write_big_index_s'] = time.perf_counter() - t0

    def size_mib(path):
        if osp.isdir(path):
            return sum(osp.getsize(osp.join(path, f))
                       for f in os.listdir(path)) / 2**20
        return osp.getsize(path) / 2**20

    rows = []
    if not args.skip_json:
        rows.append(summarise('json', run_measure(args, ann_json, False),
                              args.images))
        rows[-1]['file_mib'] = size_mib(ann_json)
    rows.append(summarise('lblidx', run_measure(args, ann_index, True),
                          args.images))
    rows[-1]['file_mib'] = size_mib(ann_index)
    if big:
        rows.append(summarise('lblidx', run_measure(args, big, True),
                              args.scale_to))
        rows[-1]['file_mib'] = size_mib(big)
    if not args.skip_json and args.scale_to:
        # linear extrapolation of the JSON path: time and memory above the
        # process's baseline grow with the number of entries
        json_row = rows[0]
        factor = args.scale_to / args.images
        extra = dict(format='json (extrapolated)', images=args.scale_to,
                     load_s=json_row['load_s'] * factor,
                     file_mib=json_row['file_mib'] * factor)
        for key, before in (('rss_after_load_mib', 'rss_before_load_mib'),
                            ('anon_after_load_mib', 'anon_before_load_mib'),
                            ('peak_rss_mib', 'peak_rss_before_load_mib')):
            base = json_row[before]
            extra[key] = base + (json_row[key] - base) * factor
        rows.append(extra)

    print(f'\nannotation scale: {args.images} (and {args.scale_to}) images, '
          f'Poisson({args.labels}) positives per labelled image, 10% unlabelled, '
          f'20% partial with Poisson(5) negatives, {args.classes} classes; '
          f'{args.workers} DataLoader workers reading {args.samples} random '
          f'samples; median of {args.repeats} fresh processes; warm page cache; '
          f'{os.cpu_count()} CPUs')
    print('setup: ' + ', '.join(f'{k} {v:.1f} s' for k, v in setup.items()))
    header = ['format', 'images', 'file_mib', 'load_s', 'per_sample_us',
              'rss_before_load_mib', 'rss_after_load_mib', 'anon_after_load_mib', 'peak_rss_mib',
              'worker_sampled_rss_mib', 'worker_sampled_pss_mib',
              'worker_touched_rss_mib', 'worker_touched_anon_mib',
              'worker_touched_pss_mib']
    print('| ' + ' | '.join(header) + ' |')
    print('|' + '---|' * len(header))
    for row in rows:
        print('| ' + ' | '.join(
            f'{row[h]:.3g}' if isinstance(row.get(h), float) else
            str(row.get(h, '')) for h in header) + ' |')
    with open(osp.join(args.work_dir, 'annotation_scale.csv'), 'w',
              newline='') as f:
        writer = csv.DictWriter(f, fieldnames=sorted({k for r in rows
                                                      for k in r}))
        writer.writeheader()
        writer.writerows(rows)
    with open(osp.join(args.work_dir, 'annotation_scale.json'), 'w') as f:
        json.dump(dict(args=vars(args), setup=setup, rows=rows), f, indent=1)


if __name__ == '__main__':
    main()
