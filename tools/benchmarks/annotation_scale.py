"""How long a big multi-label annotation takes to load, and how much memory it
costs per process, as JSON and as a memory-mapped label index (.lblidx).

    nice -n 19 python tools/benchmarks/annotation_scale.py \
        --work-dir work_dirs/annotation_scale --images 1000000 --scale-to 10000000

See mmhybrid/benchmarks/annotation_scale.py for what is measured and how.
"""
import os

os.environ.setdefault('HF_HUB_OFFLINE', '1')

from mmhybrid.benchmarks.annotation_scale import main  # noqa: E402

if __name__ == '__main__':
    main()
