"""Curves of a run's logged scalars (matplotlib)."""
from typing import Dict, List, Sequence, Tuple

import matplotlib

matplotlib.use('Agg')  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

PROBE_METRICS = (('probe/knn_top1', 'kNN top-1 (%), Fashion-MNIST'),
                 ('probe/label_mAP', 'label head mAP (%), held-out scenes'))


def series(records: List[dict], key: str) -> Tuple[List[int], List[float]]:
    """(iterations, values) of ``key`` over the training records that have it."""
    points = [(r['iter'], r[key]) for r in records if key in r]
    return [p[0] for p in points], [p[1] for p in points]


def task_names(records: List[dict]) -> List[str]:
    """The tasks with a logged ``raw_<task>``, in logging order."""
    names: Dict[str, None] = {}
    for record in records:
        for key in record:
            if key.startswith('raw_'):
                names[key[len('raw_'):]] = None
    return list(names)


def plot_losses(records: List[dict], out_file: str, title: str = '') -> List[str]:
    """Each task's raw loss and weight over iterations (two panels), the total
    loss beside them; without ``raw_<task>`` keys (a downstream run) every
    key with ``loss`` in its name in one panel. Returns the keys drawn."""
    tasks = task_names(records)
    if tasks:
        fig, (ax_loss, ax_weight) = plt.subplots(1, 2, figsize=(11, 4))
        drawn = _lines(ax_loss, records, [f'raw_{t}' for t in tasks] + ['loss'],
                       labels=tasks + ['total (weighted)'])
        ax_loss.set_title('raw task losses (raw_<task>)')
        ax_loss.set_ylabel('loss')
        drawn += _lines(ax_weight, records, [f'weight_{t}' for t in tasks], labels=tasks)
        ax_weight.set_title('task weights (weight_<task>)')
        ax_weight.set_ylabel('weight')
        axes = (ax_loss, ax_weight)
    else:
        keys = sorted({k for r in records for k in r if 'loss' in k})
        fig, ax = plt.subplots(1, 1, figsize=(7, 4))
        drawn = _lines(ax, records, keys, labels=keys)
        ax.set_title('losses')
        axes = (ax, )
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out_file, dpi=110)
    plt.close(fig)
    return drawn


def plot_probe(records: List[dict], out_file: str, title: str = '') -> List[str]:
    """The online probe's metrics (``OnlineProbeHook``) over iterations, one
    panel each. Returns the keys drawn."""
    metrics = [(k, label) for k, label in PROBE_METRICS if series(records, k)[0]]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4),
                             squeeze=False)
    for ax, (key, label) in zip(axes[0], metrics):
        x, y = series(records, key)
        ax.plot(x, y, marker='o')
        for xi, yi in zip(x, y):
            ax.annotate(f'{yi:.1f}', (xi, yi), textcoords='offset points',
                        xytext=(0, 6), ha='center', fontsize=8)
        ax.set_title(label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel('iteration')
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out_file, dpi=110)
    plt.close(fig)
    return [k for k, _ in metrics]


def _lines(ax, records: List[dict], keys: Sequence[str],
           labels: Sequence[str]) -> List[str]:
    drawn = []
    for key, label in zip(keys, labels):
        x, y = series(records, key)
        if x:
            ax.plot(x, y, label=label, marker='.' if len(x) < 30 else None,
                    linestyle='--' if key == 'loss' else '-')
            drawn.append(key)
    return drawn
