#!/usr/bin/env bash
# A whole compiled training run on a GPU, end to end, before `--compile auto` may compile there: `paper` at 256
# px with --compile on, scored (PSNR/SSIM; no kid, so no Lite0 needed there) and checkpointed while it trains,
# then resumed (compiling again) to more steps. Each step's exit status and the run's log land in $OUT. About 4
# minutes on one large GPU.
#
#   on the GPU machine, from the repository root:    OUT=/tmp/gc bash benchmarks/gpu_compile_check.sh
#   tried on a CPU first (tiny sizes):               GPU_TINY=1 DEVICE=cpu OUT=/tmp/gc bash benchmarks/gpu_compile_check.sh
set -u
OUT=${OUT:-gpu_compile_out}
source "$(dirname "$0")/gpu_common.sh"  # the package, a `cyclegan` for `timeout`, step()
if [ "$TINY" = 1 ]; then SIZE=32 FIRST=6 THEN=9 EVERY=3; else SIZE=256 FIRST=130 THEN=200 EVERY=65; fi
DATA=$OUT/data RUN=$OUT/run
step data 60 cyclegan datasets synthetic --out "$DATA" --size "$SIZE" --count 64 --test-count 8 --no-progress
train() {  # train NAME LIMIT_S STEPS [FLAGS...]
    local name=$1 limit=$2 steps=$3
    shift 3
    step "$name" "$limit" cyclegan train --data "$DATA" --preset paper --size "$SIZE" --batch-size 3 --steps "$steps" \
        --compile on --device "$DEVICE" --out "$RUN" --checkpoint-every "$EVERY" --eval-every "$EVERY" \
        --no-eval-kid --log-every 10 --no-progress "$@"
}
train compiled 140 "$FIRST"
train resumed 120 "$THEN" --resume
cp "$RUN/log.jsonl" "$OUT/log.jsonl" 2>/dev/null
rm -rf "$DATA" "$RUN"/samples "$RUN"/*.pt "$RUN"/tensorboard
cat "$OUT/steps.txt"
