#!/usr/bin/env bash
# The GPU check (tools/benchmarks/gpu_check.sh) on a GPU machine that has torch and
# CUDA but neither the OpenMMLab stack nor internet access (a lent cloud GPU box).
#
#   # 1. where pip reaches PyPI: wheels for the GPU machine's Python (default 3.12)
#   #    and mmcv 2.1.0's sdist, patched as tools/install/install_stack.sh does
#   PYVER=3.12 tools/benchmarks/gpu_check_offline.sh --download WHEELS
#   # 2. on the GPU machine, from the repository root, with WHEELS copied over
#   LIMIT=540 tools/benchmarks/gpu_check_offline.sh WHEELS [LOG_DIR]
#   # or only the GPU path's switch table (issue 28; no mmcv CUDA build, ~5 min)
#   ONLY=switches LIMIT=480 tools/benchmarks/gpu_check_offline.sh WHEELS [LOG_DIR]
#
# Step 2 installs the wheels into /tmp/site (nothing system-wide but the removal
# of transformers, which mmpretrain 1.2 imports for its multimodal models and fails
# on with transformers 5: use a throw-away machine), starts building mmcv with CUDA
# ops for the visible GPU in the background, meanwhile runs the headline rows
# (hybrid_swin-b training in bf16, step_cost.py) on an ops-less mmcv, then the
# Mask R-CNN / UperNet rows once the CUDA build is in, and the summary; it stops
# starting rows when LIMIT seconds are near. The switch table (gpu_check.sh's
# step 6) runs after step_cost.py when time is left, or alone with ONLY=switches.
# LOG_DIR (default work_dirs/gpu_check_offline) receives the summary,
# step_cost.md, switches.md and the logs.
set -u
cd "$(dirname "$0")/../.."

if [ "${1:-}" = "--download" ]; then
    set -e
    DEST=${2:?usage: $0 --download WHEELS}; PYVER=${PYVER:-3.12}
    mkdir -p "$DEST"
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PYVER" \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d "$DEST" \
        mmengine==0.10.7 mmpretrain==1.2.0 mmdet==3.3.0 mmsegmentation==1.2.2 \
        'numpy>=2,<2.4' pycocotools ftfy wcwidth addict termcolor yapf platformdirs \
        terminaltables shapely prettytable mat4py modelindex model-index ordered-set \
        'importlib-metadata<8.8' 'setuptools<81'
    # the sdist's metadata step imports pkg_resources: the project's venv has
    # setuptools<81 and wheel (make install)
    PY=${PYTHON:-.venv/bin/python}; [ -x "$PY" ] || PY=python3
    "$PY" -m pip download -q --no-deps --no-binary :all: --no-build-isolation \
        -d "$DEST" mmcv==2.1.0
    tar -xzf "$DEST/mmcv-2.1.0.tar.gz" -C "$DEST" && rm "$DEST/mmcv-2.1.0.tar.gz"
    "$PY" tools/install/patch_mmcv_sdist.py "$DEST/mmcv-2.1.0"
    echo "wheels and the patched mmcv sdist in $DEST; copy it to the GPU machine"
    exit 0
fi

WHEELS=${1:?usage: $0 WHEELS [LOG_DIR]  (or --download WHEELS)}
LOGS=${2:-work_dirs/gpu_check_offline}
T0=$(date +%s); LIMIT=${LIMIT:-540}
left() { echo $(( LIMIT - ($(date +%s) - T0) )); }
say() { echo "== [$(( $(date +%s) - T0 ))s] $*"; }
W=/tmp/gpu_check
mkdir -p "$LOGS"
exec > >(tee "$LOGS/device.log") 2>&1

python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site "$WHEELS"/*.whl > "$LOGS/pip.log" 2>&1 || { tail -20 "$LOGS/pip.log"; exit 1; }
export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
python3 -m pip uninstall -y -q transformers sentence-transformers peft > /dev/null 2>&1
nvidia-smi -L
python3 -c 'import torch, numpy; print("torch", torch.__version__, "CUDA", torch.version.cuda, "numpy", numpy.__version__)'

switches() {  # the switch table in what is left of LIMIT, 30 s kept for the end
    say "switches (budget $(( $(left) - 150 )) s to start a row)"
    timeout "$(( $(left) - 30 ))" python3 -m mmhybrid.benchmarks.gpu_check switches \
        --device cuda --warmup 3 --steps 10 --budget-s "$(( $(left) - 150 ))" \
        --out "$W/switches.md" --json "$W/switches.json" || echo "GPU CHECK FAILED: switches"
    cp "$W/switches.md" "$W/switches.json" "$LOGS/" 2>/dev/null
}
if [ "${ONLY:-}" = switches ]; then
    rm -rf /tmp/mmcv-lite && cp -r "$WHEELS/mmcv-2.1.0" /tmp/mmcv-lite
    (cd /tmp/mmcv-lite && MMCV_WITH_OPS=0 python3 -m pip install -q --no-deps \
      --no-build-isolation --target /tmp/lite .) > /tmp/mmcv_lite.log 2>&1 \
      || { tail -20 /tmp/mmcv_lite.log; exit 1; }
    export PYTHONPATH=/tmp/lite:/tmp/site:$PWD
    mkdir -p "$W"
    python3 -m mmhybrid.benchmarks.gpu_check preflight --device cuda --no-mmcv-ops || exit 1
    switches
    say "end"
    exit 0
fi

say "mmcv 2.1.0 with CUDA ops: building in the background"
ARCH=$(python3 -c 'import torch; print("%d.%d" % torch.cuda.get_device_capability())')
( cd "$WHEELS/mmcv-2.1.0" && MMCV_WITH_OPS=1 FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST=$ARCH \
  MAX_JOBS=12 CFLAGS=-g0 timeout 600 python3 -m pip wheel -q --no-deps --no-build-isolation \
  -w /tmp/mmcv-cuda . > /tmp/mmcv_cuda_build.log 2>&1; echo "build rc $?" >> /tmp/mmcv_cuda_build.log ) &
BUILD=$!
rm -rf /tmp/mmcv-lite && cp -r "$WHEELS/mmcv-2.1.0" /tmp/mmcv-lite
(cd /tmp/mmcv-lite && MMCV_WITH_OPS=0 python3 -m pip install -q --no-deps --no-build-isolation \
  --target /tmp/lite .) > /tmp/mmcv_lite.log 2>&1 || { tail -20 /tmp/mmcv_lite.log; exit 1; }
export PYTHONPATH=/tmp/lite:/tmp/site:$PWD
python3 -c 'import mmengine, mmcv, mmpretrain, mmdet, mmseg, mmhybrid; print("stack:", mmengine.__version__, mmcv.__version__, mmpretrain.__version__, mmdet.__version__, mmseg.__version__)' || exit 1

say "preflight on the ops-less mmcv (its mmcv-ops line fails until the CUDA build is in)"
python3 -m mmhybrid.benchmarks.gpu_check preflight --device cuda
python3 -m mmhybrid.benchmarks.gpu_check selftest || echo "GPU CHECK FAILED: DeviceCheckHook selftest"
python3 -m mmhybrid.benchmarks.gpu_check prepare --work-dir "$W" --device cuda --headline-only || exit 1

run_row() {  # name config args
    say "train $1"; local t; t=$(date +%s)
    # shellcheck disable=SC2086  # $3 holds several arguments
    if timeout "$(left)" python3 tools/train.py "$2" --work-dir "$W/$1" --no-validate $3 > "$W/$1.log" 2>&1; then
        echo "$1: done in $(( $(date +%s) - t )) s"
    else
        echo "GPU CHECK FAILED: $1"; grep -E 'DeviceCheckHook|Error' "$W/$1.log" | tail -8
    fi
}
while IFS=$'\t' read -r N C A; do run_row "$N" "$C" "$A"; done < "$W/runs.tsv"
say "step_cost.py: Swin-B, bf16, batch 64"
timeout "$(left)" python3 tools/benchmarks/step_cost.py --config configs/pretrain/hybrid_swin-b.py \
    --batch 64 --amp bf16 --repeats 5 --warmup 3 --device cuda --out "$W/step_cost.md" \
    --csv "$W/step_cost.csv" || echo "GPU CHECK FAILED: step_cost.py"
cp "$W/step_cost.md" "$W/hybrid_swin-b.log" "$LOGS/" 2>/dev/null
if [ "$(left)" -gt 240 ]; then switches; else say "no time left for the switch table"; fi

say "waiting for the mmcv CUDA build"
while kill -0 "$BUILD" 2>/dev/null && [ "$(left)" -gt 100 ]; do sleep 5; done
tail -30 /tmp/mmcv_cuda_build.log > "$LOGS/mmcv_cuda_build.log"
WHL=$(ls /tmp/mmcv-cuda/mmcv-*.whl 2>/dev/null | head -1)
if [ -n "$WHL" ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/cuda "$WHL"
    export PYTHONPATH=/tmp/cuda:/tmp/site:$PWD
    say "preflight with mmcv's CUDA ops"
    if python3 -m mmhybrid.benchmarks.gpu_check preflight --device cuda &&
       python3 -m mmhybrid.benchmarks.gpu_check prepare --work-dir "$W" --device cuda; then
        tail -n +2 "$W/runs.tsv" > /tmp/dense.tsv  # the headline row has run
        while IFS=$'\t' read -r N C A; do
            if [ "$(left)" -gt 40 ]; then run_row "$N" "$C" "$A"; else say "no time left for $N"; fi
        done < /tmp/dense.tsv
    fi
else
    say "GPU CHECK FAILED: no mmcv CUDA wheel in time (log: $LOGS/mmcv_cuda_build.log)"
fi
say "summary"
python3 -m mmhybrid.benchmarks.gpu_check summary --work-dir "$W" | tee "$LOGS/summary.txt"
say "end"
