#!/usr/bin/env bash
# The GPU measurement (issue #26) in one run of under 8 minutes on one large GPU: `cyclegan bench --mode
# both` (the reference implementation's computation against our default, interleaved step by step) for the
# paper model at 256 px batch 1 and 8, `fast` at 128 px, pix2pix and CUT at 256 px; translation at 256 and
# 1024 px and a 24-megapixel photo tiled; a profile of the batch-1 step; `paper` against `fast` for the
# same GPU minutes on ground truth (the synthetic world at 256 px, or DATA=ROOT of a real set); the demo on
# the GPU; the card, driver, torch and CUDA versions. Everything lands in $OUT (JSON and logs).
#
#   on the GPU machine, from the repository root:    OUT=gpu bash benchmarks/gpu.sh
#   tried on a CPU first (tiny sizes, a minute):      GPU_TINY=1 DEVICE=cpu OUT=/tmp/gpu bash benchmarks/gpu.sh
#
# Each step has its own time limit and a failed step does not stop the others (its log says why).
set -u
OUT=${OUT:-gpu_out}
MINUTES=${QUALITY_MINUTES:-1.5}  # GPU minutes of training for each of paper and fast
source "$(dirname "$0")/gpu_common.sh"  # the package, a `cyclegan` for `timeout`, step()
if [ "$TINY" = 1 ]; then S256=32 S128=32 S1024=64 B8=2 STEPS=2 LARGE="256 192" DEMO_STEPS=20 COUNT=16
else S256=256 S128=128 S1024=1024 B8=8 STEPS=20 LARGE="6000 4000" DEMO_STEPS=2200 COUNT=400; fi

step env 60 "$PY" - "$OUT/env.json" <<'EOF'
import json, platform, subprocess, sys
import torch
env = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
       "cudnn": torch.backends.cudnn.version(), "cpu_capability": torch.backends.cpu.get_cpu_capability()}
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    env |= {"gpu": p.name, "gpu_memory_gib": round(p.total_memory / 2**30, 1), "capability": f"{p.major}.{p.minor}"}
    try:
        env["driver"] = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                       capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
json.dump(env, open(sys.argv[1], "w"), indent=2)
print(env)
EOF

bench() {  # bench NAME LIMIT_S FLAGS...
    local name=$1 limit=$2
    shift 2
    step "bench_$name" "$limit" cyclegan bench --mode both --device "$DEVICE" --warmup 3 --overwrite --json "$OUT/bench_$name.json" "$@"
}
bench paper256_b1 90 --preset paper --size "$S256" --batch-size 1 --steps "$STEPS"
bench paper256_b8 90 --preset paper --size "$S256" --batch-size "$B8" --steps "$STEPS"
bench fast128 60 --preset fast --size "$S128" --steps "$STEPS"
bench pix2pix256 60 --model pix2pix --size "$S256" --batch-size 1 --steps "$STEPS"
bench cut256 60 --model cut --size "$S256" --batch-size 1 --steps "$STEPS"
bench paper1024_translate 60 --preset paper --size "$S1024" --batch-size 1 --steps 2 --translate-batches 10
step tiles 90 cyclegan bench --task tiles --device "$DEVICE" --seam-size "$S1024" --large $LARGE --overwrite --json "$OUT/tiles.json"
step profile 60 "$PY" benchmarks/profile_device.py --device "$DEVICE" --size "$S256" --json "$OUT/profile.json"

# Quality per GPU-minute: paper against fast for the same minutes, scored on the test split.
DATA=${DATA:-}
if [ -z "$DATA" ]; then
    DATA="$OUT/world$S256"
    step world 120 cyclegan datasets synthetic --out "$DATA" --size "$S256" --count "$COUNT" --test-count 40 --no-progress
fi
for recipe in paper fast; do
    step "train_$recipe" 150 cyclegan train --preset "$recipe" --data "$DATA" --size "$S256" --out "$OUT/run_$recipe" \
        --device "$DEVICE" --steps 100000 --time-limit "$MINUTES" --fit-steps --checkpoint-every 0 --sample-every 0 \
        --no-progress
    step "eval_$recipe" 90 cyclegan evaluate --checkpoint "$OUT/run_$recipe" --data "$DATA" --device "$DEVICE" \
        --out "$OUT/eval_$recipe.json" --save-images "$OUT/images_$recipe" --no-progress
done
step demo 150 cyclegan demo --device "$DEVICE" --steps "$DEMO_STEPS" --out "$OUT/demo" --no-progress
cp "$OUT/demo/report.json" "$OUT/demo_report.json" 2>/dev/null
cat "$OUT/steps.txt"
