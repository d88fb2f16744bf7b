"""Does the supervised label task learn? The ablation's multilabel pre-training,
one change at a time (data mix, learning rate, loss), short runs over seeds,
judged on validation images by the label head's garment mAP and by frozen probes
against random init. Resumable: one JSON per finished (variant, seed).

    python tools/benchmarks/diagnose_label_task.py                  # every variant, seeds 0 1
    python tools/benchmarks/diagnose_label_task.py --variants protocol-v2 objects-only
    python tools/benchmarks/diagnose_label_task.py --quick --data DIR --results DIR --work-dir DIR

See mmhybrid/benchmarks/label_task.py.
"""
import argparse
import os

os.environ.setdefault('HF_HUB_OFFLINE', '1')

from mmhybrid.benchmarks.label_task import (VARIANTS, LabelTaskDiagnosis,  # noqa: E402
                                            write_table)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--variants', nargs='+', default=list(VARIANTS),
                        choices=list(VARIANTS))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1])
    parser.add_argument('--iters', type=int, default=600)
    parser.add_argument('--data', default='data/fashion_demo')
    parser.add_argument('--results', default='results/diagnostics/label_task_v2')
    parser.add_argument('--work-dir', default='work_dirs/diagnose_label_task')
    parser.add_argument('--quick', action='store_true',
                        help='toy size (2 iterations of 4, probes on 40 images)')
    args = parser.parse_args()
    run = LabelTaskDiagnosis(args.results, args.work_dir,
                             iters=2 if args.quick else args.iters, data_root=args.data,
                             probe_limit=40 if args.quick else 2000,
                             batch_size=4 if args.quick else 32,
                             log=lambda msg: print(msg, flush=True))
    run.run(args.variants, args.seeds)
    command = 'python tools/benchmarks/diagnose_label_task.py' + (
        ' --quick' if args.quick else f' --iters {args.iters}') + (
        ' --variants ' + ' '.join(args.variants)
        if args.variants != list(VARIANTS) else '') + (
        ' --seeds ' + ' '.join(map(str, args.seeds)))
    print(write_table(args.results, command))


if __name__ == '__main__':
    main()
