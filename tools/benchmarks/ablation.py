"""Hybrid pre-training vs its parts and no pre-training, on the demo world.

Methods x seeds x four evaluations (frozen kNN / linear probe, 10%-label
fine-tuning, Mask R-CNN and UperNet on frozen features; fine-tuned end to end
on request). Resumable: each finished
(method, seed) is written to results/ablation/<method>-s<seed>.json at once; a
rerun skips what is done. Writes results/ablation.md and results/ablation.png.

    python tools/benchmarks/ablation.py                 # the full protocol
    python tools/benchmarks/ablation.py --quick         # toy size, minutes
    python tools/benchmarks/ablation.py --report-only   # tables from what exists
    python tools/benchmarks/ablation.py --methods random multilabel --seeds 0 \
        --pretrain-iters 3000 --results results/budget-3000 \
        --work-dir work_dirs/ablation-3000             # another pre-training budget
    python tools/benchmarks/ablation.py --methods hybrid-shared+label-weight-4 \
        --evaluations finetune --results results/screen  # a screen: probes + fine-tune
    python tools/benchmarks/ablation.py --label-fraction 0.1 \
        --results results/label_budget/L10    # the methods that read labels, 10% kept
    python tools/benchmarks/ablation.py --label-budget-report results \
        results/label_budget/L10 results/label_budget/L1  # results/label_budget.md
    python tools/benchmarks/ablation.py --label-budget-report \
        results/dense_v3_finetuned results/label_budget/L10-seg-ft \
        --metrics seg_ft_miou --results results/label_budget/report-seg-ft
    python tools/benchmarks/ablation.py --held-out-classes 5 6 7 8 9 \
        --evaluations finetune --results results/held_out/screen-5-9 \
        --methods random mim multilabel   # labels never name garments 5-9
    python tools/benchmarks/ablation.py --held-out-classes 5 6 7 8 9 \
        --label-fraction 0.01 --evaluations \
        --results results/held_out/L1-5-9  # the same at 1% labels (probes only)
    python tools/benchmarks/ablation.py --dense-scenes v2 --evaluations detection \
        segmentation --results results/dense_v2  # the dense protocol v2 (scenes_v2/)
    python tools/benchmarks/ablation.py --dense-scenes v3 --evaluations \
        detection-finetuned segmentation-finetuned --results results/dense_v3_ft \
        --methods random multilabel   # Mask R-CNN / UperNet fine-tuned end to end
    python tools/benchmarks/ablation.py --dense-scenes v3 --evaluations \
        detection-finetuned --finetuned-detection-iters 4000 \
        --results results/dense_v3_ft4k   # the fine-tuned Mask R-CNN, 4000 its
    python tools/benchmarks/ablation.py --dense-scenes v3 --evaluations \
        detection-finetuned --finetuned-detection-iters 4000 \
        --finetuned-detection-heads gn-all --results results/dense_v3_ft4k_gn \
        --methods random                  # the same, GroupNorm in FPN and heads
    python tools/benchmarks/ablation.py --dense-scenes v3 --evaluations \
        segmentation-finetuned --finetuned-segmentation-iters 4000 \
        --results results/dense_v3_seg4k  # the fine-tuned UperNet, 4000 its
    python tools/benchmarks/ablation.py --evaluations --results results/probes \
        --methods random mim              # the frozen probes alone
"""
import argparse
import dataclasses
import os
import os.path as osp
import sys

os.environ.setdefault('HF_HUB_OFFLINE', '1')

from mmhybrid.benchmarks.ablation import AblationRun  # noqa: E402
from mmhybrid.benchmarks.methods import ALL_METHODS, METHODS, uses_labels  # noqa: E402
from mmhybrid.benchmarks.protocol import EVALUATION_NAMES, FULL, QUICK  # noqa: E402
from mmhybrid.benchmarks.protocol import FINETUNED_DETECTION_HEADS  # noqa: E402
from mmhybrid.benchmarks.protocol import METRICS  # noqa: E402
from mmhybrid.benchmarks.report import load_records, write_report  # noqa: E402
from mmhybrid.benchmarks.report import write_label_budget_report  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--methods', nargs='+', default=list(METHODS),
                        choices=list(ALL_METHODS),
                        help='default: the main table; the <method>+<change> '
                        'variants are the tried changes')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--quick', action='store_true',
                        help='toy budgets (what the tests run)')
    parser.add_argument('--data', default='data/fashion_demo')
    parser.add_argument('--results', default=None,
                        help='default: results/ (results/quick/ with --quick)')
    parser.add_argument('--work-dir', default=None,
                        help='default: work_dirs/ablation[-quick]')
    parser.add_argument('--pretrain-iters', type=int, default=None,
                        help='another pre-training budget (iterations of the '
                        'protocol batch; the default is the protocol\'s): give it '
                        'its own --results and --work-dir')
    parser.add_argument('--evaluations', nargs='*', default=None,
                        choices=EVALUATION_NAMES,
                        help='downstream evaluations to run (default: all but '
                        'the fine-tuned dense ones, which --dense-scenes v3 '
                        'offers by name; the frozen probes always run, alone if '
                        'none is named): a screen, whose steps a full run in the '
                        'same --work-dir reuses; give it its own --results')
    parser.add_argument('--label-fraction', type=float, default=None,
                        help='share of the labelled objects that keep their labels '
                        '(0 < L < 1; default all): the methods that read labels '
                        '(the default --methods then), into their own --results; '
                        'the label-free methods\' full-label records serve')
    parser.add_argument('--held-out-classes', nargs='+', type=int, default=None,
                        metavar='CLASS',
                        help='garment classes (0-9) the pre-training labels never '
                        'name (their object images stay in the pool unlabelled); '
                        'the probes also report the known and the held-out '
                        'classes apart. Every method runs (the label-free ones '
                        'reuse their pre-training, their probes rerun), into '
                        'its own --results; with --label-fraction the known '
                        'classes keep that budget\'s labels (the methods that '
                        'read labels, as there)')
    parser.add_argument('--dense-scenes', default=None, choices=['v2', 'v3'],
                        help='train and test the detection and segmentation '
                        'heads on this dense scene set (scenes_<name>/ of --data: '
                        'build_fashion_demo.py --dense-scenes <name>; v3 is v2 '
                        'with 4000-scene val / test splits) instead of the '
                        'pre-training\'s scenes/; pre-training and probes are '
                        'reused from --work-dir; give it its own --results')
    parser.add_argument('--finetuned-detection-iters', type=int, default=None,
                        help='the schedule of the fine-tuned Mask R-CNN '
                        '(detection-finetuned; v3 has 2000, the default, and '
                        '4000); give it its own --results')
    parser.add_argument('--finetuned-segmentation-iters', type=int, default=None,
                        help='the schedule of the fine-tuned UperNet '
                        '(segmentation-finetuned; v3 has 2000, the default, and '
                        '4000); give it its own --results')
    parser.add_argument('--finetuned-detection-heads', default=None,
                        choices=sorted(FINETUNED_DETECTION_HEADS),
                        help='the fine-tuned Mask R-CNN\'s neck and heads: gn-all '
                        'puts GroupNorm in the FPN and the RoI heads (mmdet\'s '
                        'GN-all; v3 has it with --finetuned-detection-iters 4000); '
                        'default: the frozen protocol\'s, without normalisation; '
                        'give it its own --results')
    parser.add_argument('--label-budget-report', nargs='+', default=None,
                        metavar='RESULTS',
                        help='only write <--results>/label_budget.md and .png from '
                        'the --results of runs at several --label-fraction (the '
                        'full-label one among them)')
    parser.add_argument('--metrics', nargs='+', default=None, choices=METRICS,
                        help='with --label-budget-report: only these metrics '
                        '(default: every metric the records have)')
    parser.add_argument('--report-only', action='store_true')
    args = parser.parse_args()
    results = args.results or ('results/quick' if args.quick else 'results')
    if args.metrics and not args.label_budget_report:
        parser.error('--metrics chooses the columns of --label-budget-report')
    if args.label_budget_report:
        os.makedirs(results, exist_ok=True)
        try:
            print(write_label_budget_report(
                args.label_budget_report, osp.join(results, 'label_budget.md'),
                osp.join(results, 'label_budget.png'),
                'python tools/benchmarks/ablation.py --label-budget-report '
                + ' '.join(args.label_budget_report)
                + (' --metrics ' + ' '.join(args.metrics) if args.metrics else '')
                + (f' --results {args.results}' if args.results else ''),
                metrics=args.metrics))
        except ValueError as e:  # mixed protocols, or metrics no record has
            parser.error(str(e))
        return
    work_dir = args.work_dir or ('work_dirs/ablation-quick' if args.quick
                                 else 'work_dirs/ablation')
    if not args.report_only:
        protocol = QUICK if args.quick else FULL
        if args.pretrain_iters is not None:
            if args.results is None or args.work_dir is None:
                parser.error('--pretrain-iters needs its own --results and --work-dir')
            protocol = dataclasses.replace(protocol, pretrain_iters=args.pretrain_iters)
        if args.label_fraction is not None and not 0 < args.label_fraction <= 1:
            parser.error('--label-fraction is a share in (0, 1]')
        if args.label_fraction is not None and args.label_fraction < 1:
            if args.results is None:
                parser.error('--label-fraction needs its own --results')
            protocol = dataclasses.replace(protocol, label_fraction=args.label_fraction)
            if args.methods == parser.get_default('methods'):
                args.methods = [m for m in args.methods if uses_labels(METHODS[m])]
        if args.held_out_classes:
            if args.results is None:
                parser.error('--held-out-classes needs its own --results')
            try:
                protocol = dataclasses.replace(
                    protocol, held_out_classes=tuple(args.held_out_classes))
            except ValueError as e:
                parser.error(str(e))
        if args.dense_scenes:
            if args.results is None:
                parser.error('--dense-scenes needs its own --results')
            protocol = dataclasses.replace(protocol, dense_scenes=args.dense_scenes)
        for task in ('detection', 'segmentation'):
            iters = getattr(args, f'finetuned_{task}_iters')
            if iters is None:
                continue
            if args.results is None:
                parser.error(f'--finetuned-{task}-iters needs its own --results')
            try:
                protocol = dataclasses.replace(
                    protocol, **{f'finetuned_{task}_iters': iters})
            except ValueError as e:
                parser.error(str(e))
        if args.finetuned_detection_heads:
            if args.results is None:
                parser.error('--finetuned-detection-heads needs its own --results')
            try:
                protocol = dataclasses.replace(
                    protocol, finetuned_detection_heads=args.finetuned_detection_heads)
            except ValueError as e:
                parser.error(str(e))
        if args.evaluations is not None and args.results is None:
            parser.error('--evaluations needs its own --results (its records hold '
                         'only those metrics)')
        try:
            run = AblationRun(protocol, results, work_dir, args.data,
                              log=lambda msg: print(msg, flush=True),
                              evaluations=args.evaluations)
        except ValueError as e:  # an evaluation the scene set does not have
            parser.error(str(e))
        run.run(args.methods, args.seeds)
    records = load_records(osp.join(results, 'ablation'))
    if not records:
        sys.exit(f'no results under {results}/ablation yet')
    command = 'python tools/benchmarks/ablation.py' + (' --quick' if args.quick else '') + (
        f' --pretrain-iters {args.pretrain_iters}' if args.pretrain_iters else '') + (
        ' '.join(['', '--evaluations', *args.evaluations])
        if args.evaluations is not None else '') + (
        f' --label-fraction {args.label_fraction}' if args.label_fraction else '') + (
        ' --held-out-classes ' + ' '.join(map(str, args.held_out_classes))
        if args.held_out_classes else '') + (
        f' --dense-scenes {args.dense_scenes}' if args.dense_scenes else '') + (
        f' --finetuned-detection-iters {args.finetuned_detection_iters}'
        if args.finetuned_detection_iters else '') + (
        f' --finetuned-segmentation-iters {args.finetuned_segmentation_iters}'
        if args.finetuned_segmentation_iters else '') + (
        f' --finetuned-detection-heads {args.finetuned_detection_heads}'
        if args.finetuned_detection_heads else '')
    print(write_report(records, osp.join(results, 'ablation.md'),
                       osp.join(results, 'ablation.png'), command))


if __name__ == '__main__':
    main()
