#!/usr/bin/env bash
# Learning curves of random-init UperNet units of tools/benchmarks/dense_scenes.py
# (issue 26) on a lent GPU machine: how many iterations a from-scratch UperNet
# needs on scenes_v2, which 2 CPU cores cannot afford to find out.
#
#   # here: wheels (gpu_check_offline.sh --download) and the scene set as a tar
#   tools/benchmarks/gpu_check_offline.sh --download .whl
#   tar -cf .whl/scenes_v2.tar -C data fashion_demo_v2/scenes_v2 fashion_demo_v2/build_info.json
#   # on the GPU machine (device tool: carry .whl), results into OUT
#   LIMIT=360 tools/benchmarks/dense_curve_gpu.sh .whl .whl/scenes_v2.tar OUT [UNIT ...]
#   # on a CPU machine, the same wiring at toy size with the project's venv
#   tools/benchmarks/dense_curve_gpu.sh --dry-run DATA_ROOT OUT [UNIT ...]
#
# Installs the wheels into /tmp/site, builds mmcv 2.1.0's ops for the CPU (mmseg
# imports mmcv.ops; UperNet runs none of them) with every core, unpacks the
# scenes, then trains each unit (default seg-v2-3k) with tools/train.py from a
# random init, seed 0, validating every 500 iterations; units start only while
# LIMIT seconds are not near. OUT receives each unit's log and curve.tsv
# (unit, iteration, val mIoU, the log's time stamp).
set -u
cd "$(dirname "$0")/../.."
T0=$(date +%s); LIMIT=${LIMIT:-360}
left() { echo $(( LIMIT - ($(date +%s) - T0) )); }
say() { echo "== [$(( $(date +%s) - T0 ))s] $*"; }

if [ "${1:-}" = "--dry-run" ]; then
    DRY=1; DATA=$(cd "${2:?DATA_ROOT}" && pwd); OUT=${3:?OUT}; shift 3
    PY=${PYTHON:-.venv/bin/python}; export CUDA_VISIBLE_DEVICES=''
    EVERY=2; EXTRA=(train_cfg.max_iters=4 param_scheduler.0.end=2 param_scheduler.1.begin=2 param_scheduler.1.end=4 train_dataloader.batch_size=2)
else
    DRY=0; WHEELS=${1:?WHEELS}; TAR=${2:?SCENES_TAR}; OUT=${3:?OUT}; shift 3
    PY=python3; EVERY=500; EXTRA=()
fi
UNITS=("$@"); [ ${#UNITS[@]} -gt 0 ] || UNITS=(seg-v2-3k)
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1

if [ "$DRY" = 0 ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site "$WHEELS"/*.whl > "$OUT/pip.log" 2>&1 || { tail -20 "$OUT/pip.log"; exit 1; }
    python3 -m pip uninstall -y -q transformers sentence-transformers peft > /dev/null 2>&1
    say "mmcv 2.1.0 with CPU ops ($(nproc) jobs)"
    rm -rf /tmp/mmcv-cpu && cp -r "$WHEELS/mmcv-2.1.0" /tmp/mmcv-cpu
    (cd /tmp/mmcv-cpu && CUDA_VISIBLE_DEVICES='' MMCV_WITH_OPS=1 MAX_JOBS=$(nproc) CFLAGS=-g0 \
        PYTHONPATH=/tmp/site python3 -m pip install -q --no-deps --no-build-isolation \
        --target /tmp/cpuops .) > "$OUT/mmcv_build.log" 2>&1 || { tail -20 "$OUT/mmcv_build.log"; exit 1; }
    export PYTHONPATH=/tmp/cpuops:/tmp/site:$PWD
    mkdir -p /tmp/data && tar -xf "$TAR" -C /tmp/data
    DATA=/tmp/data/fashion_demo_v2
    nvidia-smi -L
fi
say "stack: $("$PY" -c 'import torch, mmcv, mmcv.ops, mmseg; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "mmcv", mmcv.__version__, "mmseg", mmseg.__version__)')" || exit 1

echo -e "unit\titeration\tval_mIoU\tlogged_at" > "$OUT/curve.tsv"
for UNIT in "${UNITS[@]}"; do
    if [ "$(left)" -lt 60 ]; then say "no time left for $UNIT"; continue; fi
    W=/tmp/dense_curve/$UNIT; rm -rf "$W"; mkdir -p "$W"
    "$PY" - "$UNIT" "$DATA" "$W/config.py" <<'PYEOF' || exit 1
import runpy, sys
unit, data, out = sys.argv[1:]
mod = runpy.run_path('tools/benchmarks/dense_scenes.py')
open(out, 'w').write(mod['unit_config'](unit, data))
PYEOF
    say "train $UNIT (val every $EVERY iterations, $(left) s left)"
    U0=$(date +%s)
    timeout "$(( $(left) - 15 ))" "$PY" tools/train.py "$W/config.py" --work-dir "$W" \
        --cfg-options model.backbone.init_cfg=None randomness.seed=0 \
        train_cfg.val_interval=$EVERY default_hooks.logger.interval=100 "${EXTRA[@]}" \
        > "$OUT/$UNIT.log" 2>&1
    say "$UNIT: rc $? after $(( $(date +%s) - U0 )) s"
    # mmengine logs "Iter(val) [n/n] ... mIoU: x" after each validation
    "$PY" - "$UNIT" "$OUT/$UNIT.log" "$EVERY" >> "$OUT/curve.tsv" <<'PYEOF'
import re, sys
unit, log, every = sys.argv[1], sys.argv[2], int(sys.argv[3])
text = open(log).read()
for k, (at, m) in enumerate(re.findall(
        r'(\d\d/\d\d \d\d:\d\d:\d\d) - mmengine - INFO - Iter\(val\) \[\d+/\d+\]\s+aAcc: \S+\s+mIoU: ([0-9.]+)', text)):
    print(f'{unit}\t{(k + 1) * every}\t{m}\t{at}')
PYEOF
done
cat "$OUT/curve.tsv"
say "end"
