"""Tables and chart from the per-unit JSON results of :mod:`.ablation`."""
import glob
import json
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np

from mmhybrid.apis.tool_runs import format_table
from .methods import ALL_METHODS, METHODS, TUNING, base_of, uses_labels
from .protocol import (FINETUNED_HEADS, METRIC_TITLES, METRICS, OPTIONAL_METRICS,
                       OPTIONAL_SENSITIVITY_METRICS, SENSITIVITY_METRICS)
from .splits import GARMENTS


def load_records(unit_dir: str) -> List[dict]:
    records = []
    for path in sorted(glob.glob(osp.join(unit_dir, '*.json'))):
        with open(path) as f:
            records.append(json.load(f))
    return records


def mean_std(values: Sequence[float]):
    arr = np.asarray(values, dtype=float)
    std = arr.std(ddof=1) if len(arr) > 1 else float('nan')
    return arr.mean(), std, len(arr)


def summarize(records: List[dict], key: str = 'metrics') -> Dict[str, Dict[str, tuple]]:
    """method -> metric -> (mean, std, n) over seeds."""
    values = defaultdict(lambda: defaultdict(list))
    for r in records:
        for metric, v in r[key].items():
            values[r['method']][metric].append(v)
        values[r['method']]['pretrain_min'].append(r['wall_s']['pretrain'] / 60)
    return {m: {k: mean_std(v) for k, v in per.items()} for m, per in values.items()}


def _order(methods) -> List[str]:
    return [m for m in METHODS if m in methods]


def label_fraction_of(record: dict) -> float:
    """A record's label budget; records written before the field had all
    labels."""
    return record.get('label_fraction',
                      record.get('protocol', {}).get('label_fraction', 1.0))


def held_out_classes_of(record: dict) -> tuple:
    """A record's held-out garment classes; records written before the field
    held none out."""
    return tuple(record.get('held_out_classes',
                            record.get('protocol', {}).get('held_out_classes', ())))


def present_metrics(records: List[dict]) -> List[str]:
    """:data:`.protocol.METRICS` as a report of ``records`` shows them: the
    optional ones (held-out classes, fine-tuned dense tasks) only when a
    record has one (only a run that asks for them reports them); every other
    metric always (a record without it shows n/a)."""
    have = {k for r in records for key in ('metrics', 'val_metrics')
            for k in r.get(key, {})}
    return [k for k in METRICS if k not in OPTIONAL_METRICS or k in have]


def percent(fraction: float) -> str:
    return f'{100 * fraction:g}%'


def stat_cell(stat, best: bool) -> str:
    mean, std, n = stat
    text = f'{mean:.2f}' + ('' if np.isnan(std) else f' ± {std:.2f}')
    return f'**{text}**' if best else text


def table(summary, metrics: Sequence[str] = METRICS) -> str:
    methods = _order(summary)
    best = {k: max((summary[m][k][0] for m in methods if k in summary[m]), default=None)
            for k in metrics}
    rows = []
    for m in methods:
        seeds = max(s[2] for s in summary[m].values())
        row = [m, str(seeds)]
        for k in metrics:
            row.append(stat_cell(summary[m][k], summary[m][k][0] == best[k])
                       if k in summary[m] else 'n/a')
        row.append(f'{summary[m]["pretrain_min"][0]:.1f}')
        rows.append(row)
    header = ['method', 'seeds'] + [METRIC_TITLES[k] for k in metrics] + [
        'pre-train min']
    return format_table(rows, header)


def tuning_table(val, test, metrics: Sequence[str] = METRICS) -> Optional[str]:
    """The tried changes: each ``TUNING`` variant's mean on the validation split
    (the split that decides) and its difference to its base method
    (``<base>+<change>``); the test-split mean beside it for the record."""
    variants = [m for m in TUNING if m in val]
    if not variants:
        return None
    rows = []
    for m in variants:
        base = base_of(m)
        row = [m, TUNING[m].description, str(val[m][metrics[0]][2]), base]
        for k in metrics:
            if k not in val[m]:
                row.append('n/a')
                continue
            # (a base without records here, e.g. a variant screened at a label
            # budget alone, still shows the variant's own numbers)
            delta = (f'{val[m][k][0] - val[base][k][0]:+.2f}'
                     if k in val.get(base, {}) else 'no base record')
            row.append(f'{val[m][k][0]:.2f} ({delta}); test {test[m][k][0]:.2f}')
        rows.append(row)
    return format_table(rows, ['variant', 'change', 'seeds', 'vs'] + [
        f'{METRIC_TITLES[k]}: val (vs base); test' for k in metrics])


def sensitivity(val, test, metrics: Sequence[str] = SENSITIVITY_METRICS,
                baseline: str = 'random') -> Optional[str]:
    """Per metric: the pre-trained method best on the validation split (``val``),
    its gap to ``baseline`` on the test split (``test``), signed, and 3x the
    larger of their test stds over seeds. The criterion: gap > 3 std (a method
    behind the baseline fails however large the gap). The best is taken among
    the methods with a std (two seeds or more) when there are any: a one-seed
    method cannot be weighed against the seed spread."""
    if baseline not in val or baseline not in test:
        return None
    rows = []
    for k in metrics:
        others = [m for m in _order(val) if m != baseline and k in val[m]
                  and k in test.get(m, {})]
        if not others or k not in val[baseline] or k not in test[baseline]:
            continue
        others = [m for m in others if val[m][k][2] > 1] or others
        best = max(others, key=lambda m: val[m][k][0])
        gap = test[best][k][0] - test[baseline][k][0]
        std = max(test[best][k][1], test[baseline][k][1])
        holds = 'n/a (1 seed)' if np.isnan(std) else (
            'yes' if gap > 3 * std else 'no')
        rows.append([METRIC_TITLES[k], best, f'{gap:+.2f}',
                     'n/a' if np.isnan(std) else f'{3 * std:.2f}', holds])
    return format_table(rows, ['metric', 'best on val', f'test gap vs {baseline}',
                               '3 x test std', 'gap > 3 std'])


def chart(summary, path: str, metrics: Sequence[str] = METRICS) -> None:
    """Grouped bars, one group per metric, one bar per method, std error bars."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    methods = _order(summary)
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 4.2))
    colors = plt.get_cmap('tab10')(np.arange(len(methods)))
    for ax, k in zip(np.atleast_1d(axes), metrics):
        means = [summary[m][k][0] if k in summary[m] else np.nan for m in methods]
        stds = [np.nan_to_num(summary[m][k][1]) if k in summary[m] else 0
                for m in methods]
        ax.bar(range(len(methods)), means, yerr=stds, color=colors, capsize=3)
        ax.set_title(METRIC_TITLES[k], fontsize=9)
        ax.set_xticks([])
        finite = [m + s for m, s in zip(means, stds) if not np.isnan(m)]
        if finite:  # bars from zero: a zoomed axis would magnify noise
            ax.set_ylim(0, max(max(finite) * 1.15, 1e-3))
        for x, m in enumerate(means):
            if not np.isnan(m):
                ax.text(x, m, f'{m:.1f}', ha='center', va='bottom', fontsize=7)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors]
    fig.legend(handles, methods, loc='lower center', ncol=len(methods), fontsize=8)
    fig.suptitle('Ablation on the demo world (mean ± std over seeds; test split)')
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def dense_protocol_lines(records: List[dict]) -> List[str]:
    """The dense scene sets, fine-tuned head schedules and non-default
    fine-tuned heads (``gn-all``) of ``records`` (nothing for records of the
    first dense protocol, which name none)."""
    scenes = sorted({r['protocol'].get('dense_scenes', '') for r in records})
    if scenes == ['']:
        return []
    line = 'Dense scenes: ' + ', '.join(f'scenes_{s}/' if s else 'scenes/'
                                        for s in scenes) + '.'
    for task, (head, default) in FINETUNED_HEADS.items():
        ran = [r for r in records if f'{task}-finetuned' in r['evaluations']]
        if ran:
            iters = sorted({r['protocol'].get(f'finetuned_{task}_iters', default)
                            for r in ran})
            line += f' Fine-tuned {head}: ' + ', '.join(map(str, iters)) + ' iterations'
            heads = sorted({r['protocol'].get(f'finetuned_{task}_heads', '')
                            for r in ran} - {''})
            line += (', ' + ', '.join(heads) + ' heads' if heads else '') + '.'
    return [line + '  ']


def write_report(records: List[dict], md_path: str, png_path: str,
                 command: str) -> str:
    """``results/ablation.md`` (test table, val table, sensitivity, provenance)
    and ``results/ablation.png``."""
    test = summarize(records, 'metrics')
    val = summarize(records, 'val_metrics')
    metrics = present_metrics(records)
    held_out = sorted({held_out_classes_of(r) for r in records})
    first = records[0]
    finished = sorted(r['finished'] for r in records)
    protocol = first['protocol']
    dense = dense_protocol_lines(records)
    hashes = sorted({(r['method'], r['config_hash']) for r in records})
    lines = [
        '# Ablation: hybrid pre-training vs its parts and no pre-training', '',
        f'Command: `{command}`  ',
        f'Units finished: {len(records)} ({finished[0]} .. {finished[-1]}); '
        f'machine: {first["machine"]}  ',
        'Versions: ' + ', '.join(f'{k} {v}' for k, v in first['versions'].items())
        + '  ',
        f'Pre-training: {protocol["pretrain_iters"]} iterations x '
        f'{protocol["pretrain_batch"]} images = '
        f'{protocol["pretrain_iters"] * protocol["pretrain_batch"]} images seen '
        'per method (same small Swin, same data).  ',
        'Labels: ' + ', '.join(percent(L) for L in sorted(
            {label_fraction_of(r) for r in records})) + ' of the labelled object '
        'pool (`label_fraction`).' + ('' if held_out == [()] and not dense
                                      else '  '),
    ] + dense + ([] if held_out == [()] else [
        'Garment classes held out of the pre-training labels (their object '
        'images unlabelled; the probes also report the known and the held-out '
        'classes apart, each a probe of its own): ' + '; '.join(
            ', '.join(f'{c} {GARMENTS[c]}' for c in h) or 'none'
            for h in held_out) + '.']) + [
        '',
        '## Test split (mean ± std over seeds; higher is better; best in bold)', '',
        table(test, metrics), '',
        '## Validation split (for choices)', '', table(val, metrics), '',
        '## Sensitivity (method chosen on the validation split, gap on the test '
        'split)', '', sensitivity(val, test, SENSITIVITY_METRICS + [
            k for k in OPTIONAL_SENSITIVITY_METRICS if k in metrics])
        or 'no random baseline yet',
        '', '## Tried changes (one at a time against the method before the +; '
        'decided on the validation split)', '',
        tuning_table(val, test, metrics) or 'none run yet', '',
        '## Methods', '',
        format_table([[m, METHODS[m].description] for m in _order(test)],
                     ['method', 'what']), '',
        'Config hashes: ' + ', '.join(f'{m} {h}' for m, h in hashes), '',
    ]
    text = '\n'.join(lines)
    with open(md_path, 'w') as f:
        f.write(text)
    if _order(test):  # a screen folder may hold tried changes only: no bars
        chart(test, png_path, metrics)
    return text


def budget_table(records: List[dict], metrics: Optional[Sequence[str]] = None,
                 key: str = 'metrics') -> str:
    """Each method's mean per pre-training budget (images seen), one row per
    (method, budget), from the records of several runs with different
    ``--pretrain-iters``; methods without pre-training appear once, at 0.
    Default ``metrics``: :func:`present_metrics`."""
    metrics = present_metrics(records) if metrics is None else metrics
    groups = defaultdict(list)
    for r in records:
        groups[(r['method'], r['images_seen'])].append(r)
    rows = []
    for method in _order({m for m, _ in groups}):
        for seen in sorted(s for m, s in groups if m == method):
            summary = summarize(groups[(method, seen)], key)[method]
            row = [method, str(seen), str(summary[metrics[0]][2])]
            row += [stat_cell(summary[k], False) if k in summary else 'n/a'
                    for k in metrics]
            row.append(f'{summary["pretrain_min"][0]:.1f}')
            rows.append(row)
    return format_table(rows, ['method', 'images seen', 'seeds'] + [
        METRIC_TITLES[k] for k in metrics] + ['pre-train min'])


def write_budget_report(result_dirs: Sequence[str], md_path: str,
                        command: str) -> str:
    """``results/budget.md``: the methods at every pre-training budget found
    in ``result_dirs`` (each the ``--results`` of one ablation run)."""
    records = [r for d in result_dirs for r in load_records(osp.join(d, 'ablation'))]
    if not records:
        raise FileNotFoundError(f'no ablation results under {list(result_dirs)}')
    lines = [
        '# Pre-training budget: do more images make pre-training pay?', '',
        f'Command: `{command}`  ',
        'Sources: ' + ', '.join(f'`{d}`' for d in result_dirs) + '  ',
        f'Machine: {records[0]["machine"]}', '',
        '## Test split (mean ± std over seeds)', '', budget_table(records), '',
        '## Validation split', '', budget_table(records, key='val_metrics'), '',
    ]
    text = '\n'.join(lines)
    with open(md_path, 'w') as f:
        f.write(text)
    return text


def _reads_no_labels(method: str) -> bool:
    return method in ALL_METHODS and not uses_labels(ALL_METHODS[method])


def _label_readers_measured(summary: dict, metric: str) -> bool:
    """Whether a method that reads labels has ``metric`` in one budget's
    summary: if none has, the label-free rows would only repeat L = 100%."""
    return any(metric in summary[m] and not _reads_no_labels(m) for m in summary)


def label_budget_records(result_dirs: Sequence[str]) -> Dict[float, List[dict]]:
    """Label budget -> its records, from the ``--results`` of ablation runs
    at several ``--label-fraction``. A method that reads no labels
    (``methods.uses_labels``) is the same at every budget: its records at
    full labels serve for all of them (any at a lower budget are left out).

    Raises:
        ValueError: A (method, seed, budget) found twice, or records whose
            protocols differ in more than the budget (another scene set,
            fine-tuned schedule or pre-training length: not one experiment).
    """
    by_dir = {d: load_records(osp.join(d, 'ablation')) for d in result_dirs}
    records = [r for rs in by_dir.values() for r in rs]
    if not records:
        raise FileNotFoundError(f'no ablation results under {list(result_dirs)}')
    protocols = defaultdict(set)
    for d, rs in by_dir.items():
        for r in rs:
            rest = {k: v for k, v in r.get('protocol', {}).items()
                    if k != 'label_fraction'}
            protocols[json.dumps(rest, sort_keys=True)].add(d)
    if len(protocols) > 1:
        raise ValueError(
            'the records differ in more than the label budget, so they are not '
            'one experiment: ' + '; '.join(f'{sorted(dirs)} have protocol {p}'
                                          for p, dirs in protocols.items()))
    seen = set()
    for r in records:
        key = (r['method'], r['seed'], label_fraction_of(r))
        if key in seen:
            raise ValueError(f'{key[0]} seed {key[1]} at label fraction {key[2]} '
                             f'is in more than one of {list(result_dirs)}')
        seen.add(key)
    label_free = {r['method'] for r in records if _reads_no_labels(r['method'])}
    fractions = sorted({label_fraction_of(r) for r in records}, reverse=True)
    return {L: [r for r in records if (label_fraction_of(r) == 1.0 if r['method']
                                       in label_free else label_fraction_of(r) == L)]
            for L in fractions}


def _budget_order(methods) -> List[str]:
    """The main table's order, then the tried changes, then the rest."""
    known = [m for m in ALL_METHODS if m in methods]
    return known + sorted(m for m in methods if m not in known)


def budget_metric_table(summaries: Dict[float, dict], metric: str) -> Optional[str]:
    """One metric, method x label budget: mean ± std over seeds (the best
    per budget in bold), the seeds per budget; a method that reads no labels
    is marked ``*``. A budget at which no method that reads labels was
    measured on the metric gets no column (the label-free rows would only
    repeat L = 100% and win it by default); a line under the table names it."""
    measured = [L for L, s in summaries.items() if _label_readers_measured(s, metric)]
    unmeasured = [L for L in summaries if L not in measured]
    summaries = {L: summaries[L] for L in measured}
    methods = _budget_order({m for s in summaries.values() for m in s
                             if metric in s[m]})
    if not methods:
        return None
    fractions = list(summaries)
    best = {L: max((s[m][metric][0] for m in s if metric in s[m]), default=None)
            for L, s in summaries.items()}
    rows = []
    for m in methods:
        free = _reads_no_labels(m)
        cells = [stat_cell(summaries[L][m][metric],
                           summaries[L][m][metric][0] == best[L])
                 if metric in summaries[L].get(m, {}) else 'n/a' for L in fractions]
        seeds = ' / '.join(str(summaries[L][m][metric][2])
                           if metric in summaries[L].get(m, {}) else '0'
                           for L in fractions)
        rows.append([m + (' *' if free else ''), seeds] + cells)
    table = format_table(rows, ['method', 'seeds'] + [
        f'L = {percent(L)}' for L in fractions])
    if unmeasured:
        table += ('\n\nNot measured at ' + ', '.join(f'L = {percent(L)}' for L in
                                                  unmeasured)
                  + ' for the methods that read labels.')
    return table


def budget_chart(summaries: Dict[float, dict], path: str,
                 metrics: Sequence[str]) -> None:
    """Each metric against the label budget (log axis), one line per method
    with std error bars; methods that read no labels dashed."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    methods = _budget_order({m for s in summaries.values() for m in s})
    fractions = sorted(summaries)
    cols = min(3, len(metrics))
    rows = -(-len(metrics) // cols)
    # the legend under the plots: long method names, so at most two columns
    # on a narrow figure; its height grows with its lines
    legend_cols = 2 if cols == 3 else 1
    legend_in = 0.25 * -(-len(methods) // legend_cols) + 0.3
    height = 3.4 * rows + 0.6 + legend_in
    fig, axes = plt.subplots(rows, cols, figsize=(max(4.2 * cols, 8.), height),
                             squeeze=False)
    # one colour and marker per method: tab10 repeats after ten methods
    colors = plt.get_cmap('tab20')(np.arange(len(methods)) % 20)
    markers = 'osD^vPX<>*'
    for ax in axes.flat[len(metrics):]:
        ax.set_visible(False)
    for ax, k in zip(axes.flat, metrics):
        for i, (m, color) in enumerate(zip(methods, colors)):
            stats = [summaries[L].get(m, {}).get(k) for L in fractions]
            xs = [100 * L for L, st in zip(fractions, stats) if st]
            if not xs:
                continue
            free = _reads_no_labels(m)
            ax.errorbar(xs, [st[0] for st in stats if st],
                        yerr=[np.nan_to_num(st[1]) for st in stats if st],
                        color=color, marker=markers[i % len(markers)],
                        capsize=3, label=m,
                        linestyle='--' if free else '-')
        ax.set_xscale('log')
        ax.set_xticks([100 * L for L in fractions])
        ax.set_xticklabels([percent(L) for L in fractions])
        ax.set_xlabel('labels kept (L)')
        ax.set_title(METRIC_TITLES[k], fontsize=9)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc='lower center',
               ncol=min(len(labels), legend_cols), fontsize=8)
    fig.suptitle('Label budget (mean ± std over seeds; test split; dashed: no '
                 'labels read)', fontsize=10)
    fig.tight_layout(rect=(0, legend_in / height, 1, 1 - 0.4 / height))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_label_budget_report(result_dirs: Sequence[str], md_path: str,
                              png_path: str, command: str,
                              metrics: Optional[Sequence[str]] = None) -> str:
    """``results/label_budget.md`` and ``.png``: every method at every label
    budget found in ``result_dirs`` (:func:`label_budget_records`), per
    metric a method x budget table of the test split (then of the validation
    split), the sensitivity check per budget, and each metric against the
    budget. ``metrics`` (default: every metric a record has) keeps the report
    to those, e.g. the fine-tuned UperNet of the dense runs, whose records also
    hold the frozen probes.

    Raises:
        ValueError: None of ``metrics`` is in any record.
    """
    by_budget = label_budget_records(result_dirs)
    test = {L: summarize(rs) for L, rs in by_budget.items()}
    val = {L: summarize(rs, 'val_metrics') for L, rs in by_budget.items()}
    found = [k for k in METRICS if any(k in s[m] for s in test.values() for m in s)]
    if metrics is not None:
        if not set(metrics) & set(found):
            raise ValueError(f'none of {list(metrics)} is in the records under '
                             f'{list(result_dirs)} (they have {found})')
        found = [k for k in found if k in metrics]
    metrics = found
    first = next(iter(by_budget.values()))[0]
    lines = [
        '# Label budget: each method with a share L of the object labels', '',
        f'Command: `{command}`  ',
        'Sources: ' + ', '.join(f'`{d}`' for d in result_dirs) + '  ',
        f'Machine: {first["machine"]}  ',
        *dense_protocol_lines([r for rs in by_budget.values() for r in rs]), '',
        'L: the share of the 20,000 labelled object images that keep their '
        'labels (class-balanced by garment); the others stay in the pre-training '
        'data unlabelled. `*`: the method reads no labels, so its records at '
        'L = 100% serve for every L.', '',
        '## Test split (mean ± std over seeds; best per L in bold)', '']
    for split, summaries in (('test', test), ('validation', val)):
        if split == 'validation':
            lines += ['## Validation split (for choices)', '']
        for k in metrics:
            lines += [f'### {METRIC_TITLES[k]}', '',
                      budget_metric_table(summaries, k) or 'none', '']
    lines += ['## Sensitivity per L (method chosen on the validation split, gap '
              'on the test split)', '']
    for L in by_budget:
        # the opt-in evaluations (fine-tuned dense tasks, held-out classes)
        # count where a method that reads labels was measured on them
        measured = [k for k in SENSITIVITY_METRICS + OPTIONAL_SENSITIVITY_METRICS
                    if k in metrics and _label_readers_measured(test[L], k)]
        lines += [f'### L = {percent(L)}', '',
                  (sensitivity(val[L], test[L], measured) or 'no random baseline')
                  if measured else 'no method that reads labels measured here', '']
    text = '\n'.join(lines)
    with open(md_path, 'w') as f:
        f.write(text)
    budget_chart(test, png_path, metrics)
    return text
