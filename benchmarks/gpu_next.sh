#!/usr/bin/env bash
# What the first GPU run (benchmarks/gpu.sh, docs/results.md "On a GPU") left unmeasured, in one run of about
# 6 minutes on one large GPU: the `paper` step at 256 px, batch 1, with channels-last, with torch.compile, and
# in fp16 (each against the reference computation, interleaved); bf16 against fp32 translation at 2 and 4 images
# of 256 px (131k and 262k pixels: `translate`'s auto switches to bf16 at 512k, measured 1.40x there and 0.85x
# at 65k); pix2pix training in fp32 against bf16 (0.84x in bf16 on the H200). Everything lands in $OUT.
#
#   on the GPU machine, from the repository root:    OUT=/tmp/gn bash benchmarks/gpu_next.sh
#   tried on a CPU first (tiny sizes, a few minutes): GPU_TINY=1 DEVICE=cpu OUT=/tmp/gn bash benchmarks/gpu_next.sh
set -u
OUT=${OUT:-gpu_next_out}
DEVICE=${DEVICE:-cuda}
TINY=${GPU_TINY:-0}
PY=${PYTHON:-python3}
source "$(dirname "$0")/gpu_common.sh"  # the package, a `cyclegan` for `timeout`, step()
if [ "$TINY" = 1 ]; then S256=32 STEPS=2 HALF=bf16; else S256=256 STEPS=20 HALF=fp16; fi
bench() {  # bench NAME LIMIT_S FLAGS...: the reference computation against the flags, interleaved
    local name=$1 limit=$2
    shift 2
    step "$name" "$limit" cyclegan bench --mode both --device "$DEVICE" --warmup 3 --steps "$STEPS" --overwrite \
        --json "$OUT/$name.json" "$@"
}
bench paper_channels_last 60 --preset paper --size "$S256" --batch-size 1 --channels-last on
bench paper_compile 240 --preset paper --size "$S256" --batch-size 1 --compile on  # Triton's compile counted apart
bench paper_half 60 --preset paper --size "$S256" --batch-size 1 --precision "$HALF"
bench paper_bf16_b2 60 --preset paper --size "$S256" --batch-size 2 --precision bf16  # translation at 131k px
bench paper_bf16_b4 60 --preset paper --size "$S256" --batch-size 4 --precision bf16  # and at 262k px
bench pix2pix_fp32 60 --model pix2pix --size "$S256" --batch-size 1 --precision fp32
cat "$OUT/steps.txt"
