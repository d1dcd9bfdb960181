#!/usr/bin/env bash
# What the GPU runs so far (docs/results.md, "On a GPU") left open, in one run of about 4 minutes on one large
# GPU, each against the reference computation (fp32, NCHW, eager), interleaved: the `paper` step at 256 px,
# batch 1, as `auto` trains it (bf16, eager) and compiled, in one run for a ratio of ratios; translation of 4
# images of 256 px as `auto` computes it now (bf16 from 262k pixels); pix2pix at batches 1 and 8 as `auto` trains
# it (bf16: 0.84x of fp32 at batch 1 on the H200, fp32 at parity). Everything lands in $OUT.
#
#   on the GPU machine, from the repository root:    OUT=/tmp/gn bash benchmarks/gpu_next.sh
#   tried on a CPU first (tiny sizes, a few minutes): GPU_TINY=1 DEVICE=cpu OUT=/tmp/gn bash benchmarks/gpu_next.sh
set -u
OUT=${OUT:-gpu_next_out}
source "$(dirname "$0")/gpu_common.sh"  # the package, a `cyclegan` for `timeout`, step()
if [ "$TINY" = 1 ]; then S256=32 STEPS=2; else S256=256 STEPS=30; fi
bench() {  # bench NAME LIMIT_S FLAGS...: the reference computation against the flags, interleaved
    local name=$1 limit=$2
    shift 2
    step "$name" "$limit" cyclegan bench --mode both --device "$DEVICE" --warmup 3 --steps "$STEPS" --overwrite \
        --json "$OUT/$name.json" "$@"
}
bench paper_eager 90 --preset paper --size "$S256" --batch-size 1 --compile off
bench paper_compiled 240 --preset paper --size "$S256" --batch-size 1 --compile on  # Triton's compile counted apart
bench paper_b4_auto 90 --preset paper --size "$S256" --batch-size 4  # translation at 262k px: bf16 now
bench pix2pix_b1_auto 90 --model pix2pix --size "$S256" --batch-size 1
bench pix2pix_b8_auto 90 --model pix2pix --size "$S256" --batch-size 8
cat "$OUT/steps.txt"
