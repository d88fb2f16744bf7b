"""Step time, peak memory and backbone passes of HybridPretrain vs mmpretrain's
SimMIM, MoCoV3 and multi-label ImageClassifier on the same backbone and batch.

    python tools/benchmarks/step_cost.py                          # demo Swin, CPU
    python tools/benchmarks/step_cost.py --config configs/pretrain/hybrid_swin-b.py \
        --batch 64 --device cuda --amp bf16 --out results/step_cost.md
    python tools/benchmarks/step_cost.py --profile                # time by module group

See mmhybrid/benchmarks/step_cost.py for what is measured and how.
"""
import os

os.environ.setdefault('HF_HUB_OFFLINE', '1')

from mmhybrid.benchmarks.step_cost import main  # noqa: E402

if __name__ == '__main__':
    main()
