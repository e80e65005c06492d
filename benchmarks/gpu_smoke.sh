#!/usr/bin/env bash
# GPU smoke run, sized for a 15-minute lease of one GPU (about 8-10 minutes in all):
#   1. a paper config (default: RAF-DB) trains FAER-Base from scratch on generated RAF-DB-format
#      faces for a few hundred optimizer steps, as `training/train.py` runs it (bf16, channels_last,
#      the config's batch split), while nvidia-smi samples GPU utilisation;
#   2. the ratio benchmarks: training and inference, FAER-Base vs ConvNeXt-Base, bf16, channels_last.
# It prints images/s (median over the logged steps after warm-up), mean GPU utilisation while
# training, and the FAER/ConvNeXt ratios; everything is kept under $RESULTS.
#
#   bash benchmarks/gpu_smoke.sh                                   # defaults below
#   CONFIG=training/configs/celeba.yaml STEPS=200 bash benchmarks/gpu_smoke.sh
#
# Needs: a CUDA GPU, this package and its dependencies installed (no downloads: the backbone
# starts from scratch, the faces are generated).
set -euo pipefail
cd "$(dirname "$0")/.."

CONFIG=${CONFIG:-training/configs/rafdb.yaml}
STEPS=${STEPS:-300}                   # optimizer steps (global batch of the config: 256)
NUM_TRAIN=${NUM_TRAIN:-4608}          # generated training faces (10% become validation)
RESULTS=${RESULTS:-${OUT:-runs/gpu_smoke}}
WORKERS=${WORKERS:-$(( $(nproc) > 8 ? 8 : $(nproc) ))}
PY=${PYTHON:-python}
mkdir -p "$RESULTS"
export PYTHONUNBUFFERED=1

$PY - <<'EOF'
import torch
assert torch.cuda.is_available(), "gpu_smoke.sh needs a CUDA GPU"
print("GPU:", torch.cuda.get_device_name(0), "| torch", torch.__version__)
EOF
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$RESULTS/gpu.txt"

task_dataset=$($PY -c "import yaml,sys; from faer_hub.tasks import get_task; print(get_task(yaml.safe_load(open('$CONFIG'))['task']).dataset)")
DATA=$RESULTS/data/$task_dataset
if [ ! -d "$DATA" ]; then
  echo "== generating $NUM_TRAIN $task_dataset-format faces in $DATA"
  $PY -m faer_hub.cli synth "$task_dataset" "$DATA" --num-train "$NUM_TRAIN" --num-test 512 > /dev/null
fi

# optimizer steps per epoch after the 10% validation carve, then enough epochs for $STEPS steps
steps_per_epoch=$(( NUM_TRAIN * 9 / 10 / 256 ))
epochs=$(( (STEPS + steps_per_epoch - 1) / steps_per_epoch ))
echo "== training: $CONFIG, $epochs epochs x $steps_per_epoch steps (global batch 256), $WORKERS workers"
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits -lms 500 > "$RESULTS/gpu_util.csv" &
SMI=$!
trap 'kill $SMI 2>/dev/null || true' EXIT
$PY training/train.py --config "$CONFIG" --data-dir "$DATA" --output-dir "$RESULTS/run" --overwrite \
  --set model.pretrained=false --set train.epochs="$epochs" --set data.num_workers="$WORKERS" \
  --set train.log_every_steps=5 --set checkpoint.every_epochs=1000 --set tracking.report_to=none \
  2>&1 | tee "$RESULTS/train.log" | grep -v "it/s]" || true
kill $SMI 2>/dev/null || true

$PY - "$RESULTS" <<'EOF'
import json, statistics, sys
from pathlib import Path
out = Path(sys.argv[1])
events = [json.loads(l) for l in (out / "run" / "log.jsonl").read_text().splitlines()]
rates = [e["images_per_s"] for e in events if e["event"] == "train"][2:]  # after warm-up
util = [float(l.split(",")[0]) for l in (out / "gpu_util.csv").read_text().splitlines() if l.strip()]
busy = [u for u in util if u > 0] or [0.0]
steps = max((e["step"] for e in events if e["event"] == "train"), default=0)
summary = {"optimizer_steps": steps, "train_images_per_s_median": statistics.median(rates) if rates else None,
           "gpu_util_mean_while_busy": statistics.mean(busy), "gpu_util_samples": len(util)}
(out / "summary.json").write_text(json.dumps(summary, indent=2))
print("== training summary:", json.dumps(summary))
EOF

echo "== training throughput, FAER-Base vs ConvNeXt-Base (bf16, channels_last, per-device batch of the configs)"
$PY benchmarks/train_throughput.py --device cuda --sizes base --json "$RESULTS/train_throughput.json" 2>&1 | tee "$RESULTS/train_throughput.txt"
echo "== inference throughput (bf16, channels_last, batch 256)"
$PY benchmarks/inference_throughput.py --device cuda --batch-size 256 --sizes base 2>&1 | tee "$RESULTS/inference_throughput.txt"
