#!/usr/bin/env bash
# GPU check of the packaged recipes, a few minutes on one H200:
#   1. preflight: CUDA visible, bf16 supported, mmcv's CUDA ops run;
#   2. tools/train.py configs/pretrain/hybrid_swin-b.py, AMP bf16, batch 128 (the
#      recipe's per-GPU batch), 10 iterations on synthetic 192 px data;
#   3. tools/benchmarks/step_cost.py, Swin-B at 192 px, batch 64, cuda, bf16;
#   4. one training step (3 iterations: 1 warm-up) of every Mask R-CNN / UperNet
#      benchmark config (configs/benchmarks/mmdet/*.py, mmseg/*.py), random init,
#      synthetic COCO / ADE20K data, in the precision the config trains in;
#   5. a table: images/s and peak GPU memory per model;
#   6. the GPU path's switches (issue 28), one table: the headline recipe (batch 128,
#      bf16) as shipped, with fused attention, torch.compile of the backbone, fused
#      AdamW, the foreach EMA each on alone, and all on: img/s, step time, peak
#      memory, TFLOP/s from a FLOP count (mmhybrid/benchmarks/gpu_switches.py);
#      goal: all on >= 2x the 354 img/s of results/gpu_check/.
# Every training run carries DeviceCheckHook: it stops the run with a non-zero exit
# if the model, the data or the autocast dtype is not on the GPU / in the precision
# asked (tools/train.py's CPU fallbacks turn AMP into fp32 when no GPU is visible),
# and step_cost.py checks the same. Any failure ends the script with exit code 1
# and a line starting "GPU CHECK FAILED".
#
#   tools/benchmarks/gpu_check.sh [--work-dir DIR]    # default work_dirs/gpu_check
#   tools/benchmarks/gpu_check.sh --switches-only     # preflight and step 6 alone
#       (about 3-6 minutes on an H200, two inductor compiles of Swin-B included)
#   tools/benchmarks/gpu_check.sh --dry-run           # on a CPU machine: the same
#       wiring (data, configs, tools/train.py with the check hook, step_cost.py,
#       summary, switches) at toy size, expecting CPU / fp32; checks nothing
#       about GPUs. Combines with --switches-only.
#   SWITCHES_BUDGET=420 (seconds): step 6 starts no row after that.
set -euo pipefail
cd "$(dirname "$0")/../.."

DRY_RUN=0
SWITCHES_ONLY=0
WORK=work_dirs/gpu_check
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --switches-only) SWITCHES_ONLY=1 ;;
        --work-dir) WORK="$2"; shift ;;
        -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python
export HF_HUB_OFFLINE=1
fail() { echo "GPU CHECK FAILED: $*" >&2; exit 1; }
step() { echo; echo "== $*"; }

if [ "$DRY_RUN" = 1 ]; then
    DEVICE=cpu
    export CUDA_VISIBLE_DEVICES=''
    PREPARE_ARGS=(--dry-run --headline-iters 2 --downstream-iters 1)
    STEP_COST_ARGS=(--batch 2 --repeats 1 --warmup 1 --variants hybrid-shared SimMIM
                    --no-memory)
    SWITCHES_ARGS=(--dry-run)
else
    DEVICE=cuda
    PREPARE_ARGS=()
    STEP_COST_ARGS=(--config configs/pretrain/hybrid_swin-b.py --batch 64 --amp bf16
                    --repeats 5 --warmup 3)
    SWITCHES_ARGS=(--device cuda --warmup 3 --steps 10 --budget-s "${SWITCHES_BUDGET:-420}")
fi
switches() {
    step "switches: ${SWITCHES_ARGS[*]}"
    "$PY" -m mmhybrid.benchmarks.gpu_check switches "${SWITCHES_ARGS[@]}" \
        --out "$WORK/switches.md" --json "$WORK/switches.json" \
        || fail "switches (see above)"
}
START=$(date +%s)
if [ -d "$WORK" ] && [ -n "$(ls -A "$WORK")" ] && [ ! -f "$WORK/runs.tsv" ] \
        && [ ! -f "$WORK/switches.md" ]; then
    fail "refusing to clear $WORK: not empty and not a gpu_check work dir"
fi
rm -rf "$WORK"
mkdir -p "$WORK"

step "preflight ($DEVICE)"
PREFLIGHT_ARGS=()
[ "$SWITCHES_ONLY" = 1 ] && PREFLIGHT_ARGS=(--no-mmcv-ops)  # no Mask R-CNN rows
"$PY" -m mmhybrid.benchmarks.gpu_check preflight --device "$DEVICE" "${PREFLIGHT_ARGS[@]}" \
    || fail "preflight: see above"

if [ "$SWITCHES_ONLY" = 1 ]; then
    switches
    echo
    echo "gpu_check --switches-only ($DEVICE$([ "$DRY_RUN" = 1 ] && echo ', dry run')): done in $(( $(date +%s) - START )) s; table in $WORK/switches.md"
    exit 0
fi

step "the check hook flags a CPU / fp32 run asked to be GPU / bf16"
"$PY" -m mmhybrid.benchmarks.gpu_check selftest || fail "DeviceCheckHook selftest"

if [ "$DRY_RUN" = 1 ]; then
    step "step_cost.py --device cuda without a GPU refuses to measure the CPU"
    if "$PY" tools/benchmarks/step_cost.py --device cuda --batch 2 \
            > "$WORK/step_cost_refusal.log" 2>&1; then
        fail "step_cost.py --device cuda ran without CUDA"
    fi
    grep -q 'CUDA is not available' "$WORK/step_cost_refusal.log" \
        || fail "step_cost.py --device cuda failed for another reason: $WORK/step_cost_refusal.log"
    echo "refused: $(grep 'CUDA is not available' "$WORK/step_cost_refusal.log")"
fi

step "synthetic data and check configs ($WORK)"
"$PY" -m mmhybrid.benchmarks.gpu_check prepare --work-dir "$WORK" --device "$DEVICE" \
    "${PREPARE_ARGS[@]}" || fail "prepare"

while IFS=$'\t' read -r NAME CONFIG ARGS; do
    step "train $NAME"
    T0=$(date +%s)
    # shellcheck disable=SC2086  # ARGS holds several arguments
    if ! "$PY" tools/train.py "$CONFIG" --work-dir "$WORK/$NAME" --no-validate $ARGS \
            > "$WORK/$NAME.log" 2>&1; then
        grep -E 'DeviceCheckHook|Error|error' "$WORK/$NAME.log" | tail -5 >&2 || true
        fail "$NAME: training failed or ran on the wrong device / precision (log: $WORK/$NAME.log)"
    fi
    echo "$NAME: done in $(( $(date +%s) - T0 )) s"
done < "$WORK/runs.tsv"

step "step_cost.py ${STEP_COST_ARGS[*]} --device $DEVICE"
"$PY" tools/benchmarks/step_cost.py "${STEP_COST_ARGS[@]}" --device "$DEVICE" \
    --out "$WORK/step_cost.md" --csv "$WORK/step_cost.csv" \
    || fail "step_cost.py (see above)"

switches

step "summary"
"$PY" -m mmhybrid.benchmarks.gpu_check summary --work-dir "$WORK" \
    || fail "a run failed its device / precision check (see above)"
echo
echo "gpu_check ($DEVICE$([ "$DRY_RUN" = 1 ] && echo ', dry run')): all checks passed in $(( $(date +%s) - START )) s; logs and tables in $WORK"
