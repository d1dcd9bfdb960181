#!/usr/bin/env bash
# What no GPU run has exercised yet (docs/scale.md, "Unmeasured on a GPU"), end to end on one GPU: a whole
# compiled training run, `paper` at 256 px with --compile on, scored (PSNR/SSIM; no kid, so no Lite0 needed there)
# and checkpointed while it trains, then resumed (compiling again, the training GPU's random state restored) to
# more steps; its checkpoint and best.pt translated on the CPU with the GPU hidden (tensors saved from CUDA); an
# fp16 run with the R1 penalty (gradient scaler, the penalty's gradient taken through it), resumed; --fit-steps
# against a time limit (the fit's clock read after a device sync); training's cuDNN autotuner against it held off;
# translation's CUDA peak memory under --max-memory. Each step's exit status, its log and the run's log.jsonl land
# in $OUT. About 6 minutes on one large GPU. Where PyTorch sees no CUDA GPU it says so and stops (exit 0) before
# any work.
#
#   on the GPU machine, from the repository root:    OUT=/tmp/gc bash benchmarks/gpu_compile_check.sh
#   tried on a CPU first (tiny sizes; the CUDA-only steps say they are skipped):
#                                                    GPU_TINY=1 DEVICE=cpu OUT=/tmp/gc bash benchmarks/gpu_compile_check.sh
set -u
OUT=${OUT:-gpu_compile_out}
source "$(dirname "$0")/gpu_common.sh"  # the package, a `cyclegan` for `timeout`, step()
: >"$OUT/steps.txt"
if [ "$DEVICE" != cpu ] && ! "$PY" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())' 2>/dev/null; then
    echo "skipped: this PyTorch sees no CUDA GPU (DEVICE=$DEVICE); run it on a GPU machine, or try it on the CPU" \
        "with GPU_TINY=1 DEVICE=cpu" | tee -a "$OUT/steps.txt"
    exit 0
fi
cuda_only() {  # cuda_only NAME: true on a GPU; on the CPU, say the step is skipped
    [ "$DEVICE" != cpu ] && return 0
    echo "$1: skipped (needs a CUDA GPU)" | tee -a "$OUT/steps.txt"
    return 1
}
if [ "$TINY" = 1 ]; then SIZE=32 FIRST=6 THEN=9 EVERY=3 BIG=256; else SIZE=256 FIRST=130 THEN=200 EVERY=65 BIG=2048; fi
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
# saved from CUDA tensors, loaded where no GPU is visible (safeload's map_location="cpu")
IMAGE=$(ls "$DATA"/testA/* | head -n 1)
for file in checkpoint best; do
    step "cpu_$file" 60 env CUDA_VISIBLE_DEVICES= cyclegan translate "$IMAGE" --checkpoint "$RUN/$file.pt" \
        --device cpu --out "$OUT/cpu_$file" --overwrite --no-progress
done
if cuda_only fp16_r1; then  # fp16 is refused on the CPU
    R1=$OUT/r1
    step fp16_r1 90 cyclegan train --data "$DATA" --preset fast --size "$SIZE" --steps 60 --precision fp16 \
        --r1-gamma 1 --device "$DEVICE" --out "$R1" --checkpoint-every 30 --log-every 10 --no-progress
    step fp16_r1_resumed 60 cyclegan train --out "$R1" --resume --steps 90 --no-progress
    cp "$R1/log.jsonl" "$OUT/fp16_r1_log.jsonl" 2>/dev/null
fi
if cuda_only fit_steps; then  # the announced total against the steps reached in the time limit
    step fit_steps 90 cyclegan train --data "$DATA" --preset fast --size "$SIZE" --steps 100000 --time-limit 1 \
        --fit-steps --device "$DEVICE" --out "$OUT/fit" --log-every 25 --no-progress
fi
if cuda_only cudnn_benchmark; then  # the `paper` step as training runs it (cuDNN's autotuner on), against it held off
    step cudnn_benchmark 120 cyclegan bench --mode default --device "$DEVICE" --preset paper --size "$SIZE" \
        --batch-size 1 --warmup 3 --steps 30 --overwrite --json "$OUT/cudnn_benchmark.json"
    step cudnn_default 120 "$PY" -c 'import contextlib, sys
from cyclegan.execution import Execution
Execution.backends = lambda self: contextlib.nullcontext()  # the autotuner held off: cuDNN heuristics
from cyclegan.cli import main; sys.exit(main(sys.argv[1:]))' bench --mode default --device "$DEVICE" --preset paper \
        --size "$SIZE" --batch-size 1 --warmup 3 --steps 30 --overwrite --json "$OUT/cudnn_default.json"
fi
if cuda_only translate_memory; then  # torch.cuda.max_memory_allocated, not the RSS, against the budget
    step translate_memory 120 "$PY" -c 'import sys, torch, cyclegan
G = cyclegan.load_generator(sys.argv[1], device="cuda")
x = torch.rand(1, 3, int(sys.argv[2]), int(sys.argv[2])) * 2 - 1
torch.cuda.reset_peak_memory_stats()
weights = torch.cuda.memory_allocated()
cyclegan.translate(G, x, max_memory=0.5)
print(f"--max-memory 0.5 GB, {x.shape[-1]} px: CUDA peak {(torch.cuda.max_memory_allocated() - weights) / 1e9:.3f} GB over the weights")' \
        "$RUN/checkpoint.pt" "$BIG"
    cat "$OUT/translate_memory.log"
fi
rm -rf "$DATA" "$RUN"/samples "$RUN"/*.pt "$RUN"/tensorboard "$OUT"/r1/*.pt "$OUT"/r1/samples "$OUT"/r1/tensorboard \
    "$OUT"/fit/*.pt "$OUT"/fit/samples "$OUT"/fit/tensorboard
echo "each step's exit status: $OUT/steps.txt; its output: $OUT/NAME.log"
