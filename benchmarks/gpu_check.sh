#!/usr/bin/env bash
# One prepared GPU check for the performance targets (README "耗时与性能", issue 5), in order of
# importance, each step with its own time limit (STEP_LIMIT, default 170 s: the three steps fit in
# one 10-minute device command):
#   1. the whole full-profile lab, every experiment the chapters run, all four chapters at once
#      (target: < 60 s);
#   2. the benchmark, original path vs labcode path, full profile, BENCH_EPOCHS epochs (target: >= 10x);
#   3. the whole full-profile lab again, one chapter at a time.
# Every step prints each chapter / job as soon as it finishes, so a step cut off by its limit still
# leaves the numbers it got.
#
# Runs from the repository root on a machine with a CUDA GPU and a python3 that has torch,
# torchvision, numpy and matplotlib (no Jupyter, no network needed). Full MNIST is usually not
# downloadable there, so the timings use the full-size stand-in (benchmarks/standin.py: the offline
# subset tiled to 60000/10000 images; seconds are right, accuracies are not MNIST's). It needs the
# subset's idx files in .gpu-data/MNIST-subset/raw; prepare them where labcode is installed:
#
#   mkdir -p .gpu-data/MNIST-subset && cp -r ~/.cache/labcode/data/MNIST-subset/raw .gpu-data/MNIST-subset/
#
# (.gpu-data/ is git-ignored; carry it to the GPU machine.) Results go to $OUT (default
# artifacts/gpu-check): gpu.txt, lab_jobsN.txt/json, bench.txt/json, lab_jobs1.txt/json.
#
# Dry run on a CPU (checks the plumbing in a few minutes):
#   DEVICE=cpu PROFILE=quick STANDIN= BENCH_EPOCHS=1 bash benchmarks/gpu_check.sh
set -uo pipefail

OUT=${OUT:-artifacts/gpu-check}
DEVICE=${DEVICE:-cuda}
PROFILE=${PROFILE:-full}
STANDIN=${STANDIN---standin}    # set STANDIN= (empty) to use the data directory's own MNIST
BENCH_EPOCHS=${BENCH_EPOCHS:-2} # seconds per epoch need few epochs; the original path is slow
JOBS=${JOBS:-4}                 # chapters at once (4 chapters run experiments)
PYTHON=${PYTHON:-python3}
STEP_LIMIT=${STEP_LIMIT:-170}   # seconds per step

mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export LABCODE_DATA_DIR=${LABCODE_DATA_DIR:-$PWD/.gpu-data}
export LABCODE_OFFLINE=1 LABCODE_PROGRESS=0 PYTHONUNBUFFERED=1

step() { # step NAME COMMAND...: run with a time limit, log to $OUT/NAME.txt, never abort the script
    local name=$1; shift
    echo "=== $name: $*"
    timeout "$STEP_LIMIT" "$@" 2>&1 | tee "$OUT/$name.txt"
    echo "=== $name: exit ${PIPESTATUS[0]}"
}

{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
    "$PYTHON" -c "import torch, os; print('torch', torch.__version__, '| cuda', torch.cuda.is_available() and torch.cuda.get_device_name(), '| cpus', os.cpu_count())"
} 2>&1 | tee "$OUT/gpu.txt"

step "lab_jobs$JOBS" "$PYTHON" -m benchmarks.lab_timing --device "$DEVICE" --profile "$PROFILE" $STANDIN \
    --jobs "$JOBS" --json "$OUT/lab_jobs$JOBS.json"
step bench "$PYTHON" -m benchmarks.run --device "$DEVICE" --profile "$PROFILE" $STANDIN \
    --epochs "$BENCH_EPOCHS" --json "$OUT/bench.json"
step lab_jobs1 "$PYTHON" -m benchmarks.lab_timing --device "$DEVICE" --profile "$PROFILE" $STANDIN \
    --jobs 1 --json "$OUT/lab_jobs1.json"
