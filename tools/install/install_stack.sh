#!/usr/bin/env bash
# Install mmhybrid and its OpenMMLab stack into a virtual environment.
#
#   VENV=.venv MMHYBRID_WHEEL_CACHE=~/.cache/mmhybrid/wheels bash tools/install/install_stack.sh
#
# Steps: venv -> torch/torchvision -> build tools -> OpenMMLab packages -> mmcv 2.1.0
# (from the wheel cache, else built from its PyPI sdist with tools/install/patch_mmcv_sdist.py
# and stored in the cache) -> mmhybrid in editable mode -> Debian's dataset-fashion-mnist.
# Every step is idempotent; the Makefile only re-runs this script when its inputs change.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${VENV:-.venv}
CACHE=${MMHYBRID_WHEEL_CACHE:-$HOME/.cache/mmhybrid/wheels}
JOBS=${MAX_JOBS:-2}
MMCV=mmcv-2.1.0
PYTHON=${PYTHON:-python3}

# pip warns once per package about this machine's file:// index entries; hide only that line.
step() {
    local s rc; s=$(date +%s); echo "=== [$(date +%T)] $*"
    "$@" 2>&1 | grep -v 'is ignored: it is neither a file nor a directory' || true
    rc=${PIPESTATUS[0]}; echo "=== $(( $(date +%s) - s ))s: $*"; return "$rc"
}

[ -x "$VENV/bin/python" ] || step "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)

step "${PIP[@]}" 'torch>=2.6,<=2.14.1' 'torchvision>=0.21,<=0.29.1' 'numpy>=2,<2.4'
step "${PIP[@]}" -r requirements/build.txt
step "${PIP[@]}" $(grep -v -e '^#' -e '^mmcv' -e '^$' requirements/runtime.txt | tr '\n' ' ') \
    -r requirements/tests.txt

wheel=$(ls "$CACHE"/$MMCV-cp*-*.whl 2>/dev/null | head -n1 || true)
if [ -z "$wheel" ]; then
    echo "=== no $MMCV wheel in $CACHE: building it from the sdist (about 11 min on 2 cores)"
    build=$(mktemp -d)
    step "$VENV/bin/python" -m pip download -q --no-deps --no-binary :all: --no-build-isolation \
        -d "$build" mmcv==2.1.0
    tar -xzf "$build/$MMCV.tar.gz" -C "$build"
    "$VENV/bin/python" tools/install/patch_mmcv_sdist.py "$build/$MMCV"
    # setup.py builds CUDA ops when a GPU is visible (or FORCE_CUDA=1), CPU ops otherwise.
    mkdir -p "$CACHE"
    step env MMCV_WITH_OPS=1 MAX_JOBS="$JOBS" CFLAGS=-g0 \
        "$VENV/bin/python" -m pip wheel -q --no-deps --no-build-isolation -w "$CACHE" "$build/$MMCV"
    rm -rf "$build"
    wheel=$(ls "$CACHE"/$MMCV-cp*-*.whl | head -n1)
fi
if ! "$VENV/bin/python" -c 'import mmcv, sys; sys.exit(mmcv.__version__ != "2.1.0")' 2>/dev/null; then
    step "${PIP[@]}" --no-deps "$wheel"
fi

step "${PIP[@]}" --no-deps --no-build-isolation -e .

if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        step bash -c 'apt-get install -y -qq dataset-fashion-mnist >/dev/null || { apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null; }'
    else
        echo "=== WARNING: Debian's dataset-fashion-mnist is missing and cannot be apt-installed here;"
        echo "    the demo builder then needs --fashion-mnist DIR with the original IDX files."
    fi
fi

"$VENV/bin/python" - <<'PY'
import torch, torchvision, numpy, mmengine, mmcv, mmcv.ops, mmpretrain, mmdet, mmseg, timm, mmhybrid
print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'numpy', numpy.__version__)
print('mmengine', mmengine.__version__, 'mmcv', mmcv.__version__, 'mmpretrain', mmpretrain.__version__,
      'mmdet', mmdet.__version__, 'mmseg', mmseg.__version__, 'timm', timm.__version__,
      'mmhybrid', mmhybrid.__version__)
PY
