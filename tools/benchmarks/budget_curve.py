"""Metrics against pre-training budget, from several ablation runs.

Each argument is the ``--results`` directory of one ``tools/benchmarks/ablation.py``
run (the default budget in ``results``, others from ``--pretrain-iters``):

    python tools/benchmarks/budget_curve.py results results/budget-3000
"""
import argparse
import sys

from mmhybrid.benchmarks.report import write_budget_report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('results', nargs='+', help='ablation --results directories')
    parser.add_argument('--out', default='results/budget.md')
    args = parser.parse_args()
    command = 'python tools/benchmarks/budget_curve.py ' + ' '.join(args.results)
    print(write_budget_report(args.results, args.out, command))


if __name__ == '__main__':
    sys.exit(main())
