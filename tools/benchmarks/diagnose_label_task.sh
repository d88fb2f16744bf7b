#!/usr/bin/env bash
# Does the supervised multi-label task learn at the ablation's budget? The ablation's
# multilabel-only pre-training (seed 0, 1000 x 32 images), one change at a time, each
# judged by its own label head's mAP on the held-out validation scenes
# (tools/benchmarks/label_head_map.py; chance = positive rate).
#
#   bash tools/benchmarks/diagnose_label_task.sh [WORK_DIR]   (~4 min a variant, 2 cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
W=${1:-work_dirs/diag}
mkdir -p "$W"
# the ablation's multilabel stage config, dumped
$PY - "$W" <<'PYEOF'
import sys
from mmhybrid.benchmarks.methods import METHODS, stage_configs
from mmhybrid.benchmarks.splits import make_splits
paths = make_splits('data/fashion_demo')
cfg, = stage_configs(METHODS['multilabel'], 1000, 32, 0, paths['pretrain_partial'])
cfg.dump(f'{sys.argv[1]}/base.py')
import json, os
full = json.load(open('data/fashion_demo/scenes/meta/train_multilabel.json'))
val = {os.path.basename(d['img_path']) for d in json.load(
    open('data/fashion_demo/' + paths['scenes_val_multilabel']))['data_list']}
json.dump(dict(full, data_list=[d for d in full['data_list']
                                if os.path.basename(d['img_path']) not in val]),
          open(f'{sys.argv[1]}/pretrain_all_labels.json', 'w'))
PYEOF
B=$(cd "$W" && pwd)/base.py
cat > "$W/bce.py" <<EOF2
_base_ = ['$B']
model = dict(multilabel=dict(head=dict(loss=dict(_delete_=True, type='CrossEntropyLoss', use_sigmoid=True))))
EOF2
run() {
  name=$1; shift
  if [ ! -f "$W/$name/last_checkpoint" ]; then
    $PY tools/train.py "$@" --work-dir "$W/$name" > "$W/$name.log" 2>&1 || { echo "$name failed: $W/$name.log"; return; }
  fi
  $PY tools/benchmarks/label_head_map.py "$W/$name" 2>&1 | tail -1
}
run baseline "$B"
run bce "$W/bce.py"
run all-labels "$B" --cfg-options train_dataloader.dataset.datasets.0.ann_file=$(cd "$W" && pwd)/pretrain_all_labels.json
run lr3e-3 "$B" --cfg-options optim_wrapper.optimizer.lr=0.003
run iters3000 "$B" --cfg-options train_cfg.max_iters=3000 param_scheduler.1.T_max=2900 \
    param_scheduler.1.end=3000 default_hooks.checkpoint.interval=3000
