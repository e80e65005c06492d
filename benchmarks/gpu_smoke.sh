#!/usr/bin/env bash
# GPU smoke run, in two halves, for a lent GPU machine (one H200; 15 minutes of device time in all,
# machine starts included; nothing there can be downloaded):
#
#   bash benchmarks/gpu_smoke.sh prepare          # CPU machine with PyPI: the wheels the GPU machine lacks -> .whl/
#   bash benchmarks/gpu_smoke.sh run              # GPU machine (the device tool's `run`, carry [".whl"]): < 6 min
#   bash benchmarks/gpu_smoke.sh run --dry-run    # anywhere, on CPU: the same stages, tiny (tests/benchmarks/)
#
# `run` installs .whl/ into /tmp (pip --target + PYTHONPATH), checks every import at once before
# anything else, then runs these stages, each under `timeout` and all within SMOKE_BUDGET_S:
#   1. inference and training throughput, FAER-Base vs ConvNeXt-Base, bf16 + channels_last, eager
#      (training also with the finite flag read every step: the host sync training no longer does);
#   2. the RAF-DB paper config (FAER-Base, 224 px, global batch 256) for STEPS optimizer steps on
#      generated RAF-DB-format faces (made in the background during stage 1): loss curve, images/s,
#      peak memory, GPU utilisation (nvidia-smi);
#   3. the same throughput benchmarks under torch.compile (whatever the budget leaves).
# STAGES_ONLY="bench_train_compile ..." runs only those stages (after the import check), e.g. for
# a second call that measures what the budget of the first one left out.
# Data, runs and caches live under /tmp; $OUT receives 8 small files (the most that come back): summary.json (every
# figure and each stage's exit status), smoke.log, train_log.jsonl, bench_*.json, gpu_util.csv.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"

# Missing on the GPU image (datasets, evaluate and their dill, multiprocess), plus what must match
# datasets' pins or our floors and whose version there is unknown (pyarrow, fsspec, xxhash, timm):
# carried at the versions the test suite ran with here. facenet-pytorch is not needed to train.
# pyarrow is 55 of the ~58 MiB: SKIP_WHEELS=pyarrow leaves it out when the tree grows and the
# image's own pyarrow satisfies datasets (>= 24; the import stage says so at once if not).
WHEELS=()
for name in datasets evaluate dill multiprocess fsspec pyarrow xxhash timm; do
  [[ " ${SKIP_WHEELS:-} " == *" $name "* ]] || WHEELS+=("$name")
done
WHEEL_DIR=.whl
TREE_LIMIT_MIB=64

prepare() {
  local py=${PYTHON:-python3} pins=() name version
  for name in "${WHEELS[@]}"; do
    version=$("$py" -c "from importlib.metadata import version; print(version('$name'))" 2>/dev/null) || {
      echo "prepare: $name is not installed in $py; run prepare with the project's environment (PYTHON=...)" >&2
      return 2; }
    pins+=("$name==$version")
  done
  git check-ignore -q "$WHEEL_DIR/x.whl" || {
    echo "prepare: .gitignore lacks .whl/ (the wheels must not be committed)" >&2; return 2; }
  rm -rf "$WHEEL_DIR.partial" && mkdir -p "$WHEEL_DIR.partial"
  echo "== downloading ${pins[*]} (Python 3.12, x86-64 Linux)"
  "$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any \
    -d "$WHEEL_DIR.partial" "${pins[@]}" || { echo "prepare: pip download failed" >&2; return 1; }
  local count
  count=$(ls "$WHEEL_DIR.partial"/*.whl | wc -l)
  [ "$count" -eq "${#WHEELS[@]}" ] || { echo "prepare: expected ${#WHEELS[@]} wheels, got $count" >&2; return 1; }
  rm -rf "$WHEEL_DIR" && mv "$WHEEL_DIR.partial" "$WHEEL_DIR"
  # what the device tool sends: tracked and untracked-not-ignored files, plus the carried .whl/
  local tree wheels total
  tree=$(git ls-files -co --exclude-standard -z | du --files0-from=- -cb 2>/dev/null | tail -1 | cut -f1)
  wheels=$(du -sb "$WHEEL_DIR" | cut -f1)
  total=$(( (tree + wheels) / 1048576 ))
  echo "== $count wheels in $WHEEL_DIR: $(( wheels / 1048576 )) MiB; tree $(( tree / 1048576 )) MiB; together $total MiB (limit $TREE_LIMIT_MIB)"
  [ "$total" -lt "$TREE_LIMIT_MIB" ] || { echo "prepare: tree + wheels exceed $TREE_LIMIT_MIB MiB" >&2; return 1; }
}

run() {
  local dry=0
  [ "${1:-}" = "--dry-run" ] && dry=1
  local out=${OUT:-/tmp/faer_smoke_out}
  mkdir -p "$out"
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/faer_smoke.XXXXXX")
  trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT  # data, caches, checkpoints: ours to remove (KEEP_WORK=1 keeps them)
  STAGES=$WORK/stages.tsv
  : > "$STAGES"
  local py=${PYTHON:-python3}
  local started
  started=$(date +%s)
  # the whole run stays under 6 minutes: stages get what is left of the budget, minus the summary's reserve
  # (the dry run on a busy CPU takes longer, and must not skip or time out: four times everything)
  SCALE=$( ((dry)) && echo 4 || echo 1 )
  DEADLINE=$(( started + ${SMOKE_BUDGET_S:-$(( 330 * SCALE ))} ))
  exec > >(tee -a "$out/smoke.log") 2>&1
  export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
  export HF_HOME=$WORK/hf TORCHINDUCTOR_CACHE_DIR=$WORK/inductor MPLCONFIGDIR=$WORK/mpl
  export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}
  echo "== gpu_smoke run$( ((dry)) && echo ' --dry-run'): work in $WORK, results in $out, $(date -u)"

  if [ -d "$WHEEL_DIR" ] && ls "$WHEEL_DIR"/*.whl > /dev/null 2>&1 && ((!dry)); then
    echo "== installing $(ls "$WHEEL_DIR"/*.whl | wc -l) wheels into $WORK/site"
    "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$WORK/site" \
      "$WHEEL_DIR"/*.whl || { record install 1 0; summarize "$out" "$dry"; return 1; }
    export PYTHONPATH=$WORK/site:$PYTHONPATH
  fi

  # every import of training, evaluation and the benchmarks, at once, before any work
  stage imports 120 "$py" - "$dry" <<'EOF' || { summarize "$out" "$dry"; return 1; }
import importlib, importlib.util, sys
from importlib.metadata import version
dry = sys.argv[1] == "1"
for name in ("torch", "torchvision", "timm", "accelerate", "datasets", "evaluate", "dill", "multiprocess", "pyarrow",
             "fsspec", "xxhash", "sklearn", "yaml", "PIL", "safetensors", "huggingface_hub", "numpy", "tqdm", "pandas"):
    importlib.import_module(name)
spec = importlib.util.spec_from_file_location("train_script", "training/train.py")
spec.loader.exec_module(importlib.util.module_from_spec(spec))  # training/train.py's own imports
for module in ("faer_hub.evaluation.metrics", "faer_hub.data.synthetic.write", "faer_hub.training.guard", "faer_hub.cli"):
    importlib.import_module(module)
from faer_hub.evaluation.metrics import load_metric
load_metric("fer_accuracy")  # evaluate's local-script loading, offline
import torch
print("versions:", {n: version(n) for n in ("torch", "timm", "accelerate", "datasets", "evaluate", "pyarrow")})
if not dry:
    assert torch.cuda.is_available(), "no CUDA device visible to torch"
    print("GPU:", torch.cuda.get_device_name(0), "capability", torch.cuda.get_device_capability(0))
EOF
  command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

  # sizes: the real thing on the GPU; tiny on CPU (same stages, same code paths)
  local device sizes bench_infer bench_train train_set num_train num_test steps workers
  workers=$(( $(nproc) > 12 ? 12 : $(nproc) ))
  # loader workers hand batches over in /dev/shm (~10 MB each, two in flight per worker): a small one would crash them
  local shm_mib
  shm_mib=$(df -Pm /dev/shm 2> /dev/null | awk 'NR == 2 {print $4}')
  if [ -n "$shm_mib" ] && [ "$shm_mib" -lt 1024 ]; then
    workers=2
    echo "== /dev/shm has ${shm_mib} MiB free: 2 loader workers"
  fi
  if ((dry)); then
    device=cpu; sizes=atto; steps=${STEPS:-4}; num_train=40; num_test=16
    bench_infer=(--batch-size 2 --img-size 32 --warmup 1 --iters 1 --rounds 1)
    bench_train=(--batch-size 2 --img-size 32 --warmup 1 --iters 1 --rounds 1 --compile-backend eager)
    train_set=(--set model.name=faer_atto --set model.img_size=32 --set train.global_batch_size=8
               --set train.per_device_batch_size=4 --set train.eval_batch_size=16 --set train.cpu_threads=1
               --set data.num_workers=0 --set train.log_every_steps=1)
    bench_infer+=(--compile-backend eager)
  else
    device=cuda; sizes=base; steps=${STEPS:-200}; num_train=${NUM_TRAIN:-1152}; num_test=256
    bench_infer=(--batch-size 256 --warmup 10 --iters 40 --rounds 1)
    bench_train=(--warmup 5 --iters 20 --rounds 1)
    train_set=(--set data.num_workers="$workers" --set train.log_every_steps=5)
  fi

  local data=$WORK/data/rafdb synth_pid=""
  if wanted train_rafdb; then  # generated in the background while the eager benchmarks run
    timeout 240 "$py" -m faer_hub.cli synth rafdb "$data" --num-train "$num_train" --num-test "$num_test" \
      > "$WORK/synth.log" 2>&1 &
    synth_pid=$!
  fi

  stage bench_infer_eager 90 "$py" benchmarks/inference_throughput.py --device "$device" --sizes $sizes \
    --modes eager "${bench_infer[@]}" --json "$out/bench_infer_eager.json"
  stage bench_train_eager 100 "$py" benchmarks/train_throughput.py --device "$device" --sizes $sizes \
    --modes eager --sync-compare "${bench_train[@]}" --json "$out/bench_train_eager.json"

  local synth_rc=1
  if [ -n "$synth_pid" ]; then
    wait "$synth_pid"; synth_rc=$?
    cat "$WORK/synth.log"
    record synth_data "$synth_rc" 0
  fi
  if [ "$synth_rc" -eq 0 ]; then
    # optimizer steps per epoch: 90% of the images train (10% validation), global batch of the config
    local global per_epoch epochs
    global=$( ((dry)) && echo 8 || echo 256 )
    per_epoch=$(( num_train * 9 / 10 / global ))
    per_epoch=$(( per_epoch > 0 ? per_epoch : 1 ))
    epochs=$(( (steps + per_epoch - 1) / per_epoch ))
    echo "== RAF-DB paper config: $epochs epochs x $per_epoch optimizer steps (global batch $global)"
    local smi_pid=""
    if command -v nvidia-smi > /dev/null; then
      nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits -lms 500 \
        > "$out/gpu_util.csv" 2> /dev/null &
      smi_pid=$!
    fi
    stage train_rafdb 150 "$py" training/train.py --config training/configs/rafdb.yaml --data-dir "$data" \
      --output-dir "$WORK/run" --overwrite --set model.pretrained=false --set train.epochs="$epochs" \
      --set eval.every_epochs="$epochs" --set checkpoint.every_epochs="$epochs" --set checkpoint.every_steps=0 \
      --set tracking.report_to=none --set data.cache_dir="$WORK/hf_cache" "${train_set[@]}"
    [ -n "$smi_pid" ] && kill "$smi_pid" 2> /dev/null
    [ -f "$WORK/run/log.jsonl" ] && cp "$WORK/run/log.jsonl" "$out/train_log.jsonl"
  fi

  stage bench_infer_compile 120 "$py" benchmarks/inference_throughput.py --device "$device" --sizes $sizes \
    --modes compile "${bench_infer[@]}" --json "$out/bench_infer_compile.json"
  stage bench_train_compile 200 "$py" benchmarks/train_throughput.py --device "$device" --sizes $sizes \
    --modes compile "${bench_train[@]}" --json "$out/bench_train_compile.json"
  summarize "$out" "$dry"
}

# record NAME EXIT_STATUS SECONDS: one line of $STAGES (124/137: timed out; -1: skipped, no budget left;
# -2: not in STAGES_ONLY)
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$STAGES"; }

# wanted NAME: whether STAGES_ONLY (when set) selects stage NAME; the import check always runs
wanted() { [ -z "${STAGES_ONLY:-}" ] || [ "$1" = imports ] || [[ " $STAGES_ONLY " == *" $1 "* ]]; }

# stage NAME MAX_SECONDS CMD...: CMD under `timeout`, given at most what is left of the budget
stage() {
  local name=$1 max=$2 left limit t0 rc
  shift 2
  if ! wanted "$name"; then
    record "$name" -2 0
    return 0
  fi
  left=$(( DEADLINE - $(date +%s) ))
  if [ "$left" -lt 20 ]; then
    echo "== $name: skipped, ${left}s of the budget left"
    record "$name" -1 0
    return 0
  fi
  max=$(( max * SCALE ))
  limit=$(( max < left ? max : left ))
  echo "== $name (timeout ${limit}s)"
  t0=$(date +%s)
  timeout --kill-after=10 "$limit" "$@"
  rc=$?
  record "$name" "$rc" $(( $(date +%s) - t0 ))
  [ "$rc" -eq 0 ] || echo "== $name failed with exit status $rc$( [ "$rc" -ge 124 ] && echo ' (timeout)')"
  return "$rc"
}

# summarize OUT DRY: $OUT/summary.json from the stages, benchmark tables, training log and GPU samples
summarize() { "${PYTHON:-python3}" benchmarks/_smoke_summary.py "$1" "$STAGES" "$2"; }

case "${1:-}" in
  prepare) prepare ;;
  run) shift; run "$@" ;;
  --dry-run) run --dry-run ;;
  *) echo "usage: bash benchmarks/gpu_smoke.sh prepare | run [--dry-run]" >&2; exit 2 ;;
esac
