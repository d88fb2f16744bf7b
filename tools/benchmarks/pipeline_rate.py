"""img/s per CPU core of the headline data pipeline (decode + the two views +
the SimMIM mask) on real-size JPEGs, and the loader cores one GPU needs.

    python tools/benchmarks/pipeline_rate.py --images 200 --repeats 3 \
        --out results/pipeline_rate.md
    python tools/benchmarks/pipeline_rate.py --images 8 --size 128 96 --repeats 1

See mmhybrid/benchmarks/pipeline_rate.py for what is measured and how.
"""
import os

os.environ.setdefault('HF_HUB_OFFLINE', '1')

from mmhybrid.benchmarks.pipeline_rate import main  # noqa: E402

if __name__ == '__main__':
    main()
