#!/bin/bash
# The AVX2 demo (seed 0, fp32, AVX2 emulated) with both cores busy for 45 s from 20 s after its start: another
# program's busy minute. usage: bash benchmarks/busy_demo.sh SRC OUT [FROM FOR] (SRC: the src/ folder of the code
# to run, e.g. a worktree of an older commit; OUT: the demo's run folder; FROM, FOR: the busy spell's start and
# length in seconds, 20 and 45 by default). Compare the report's steps and seconds.
set -euo pipefail
SRC=$1
OUT=$2
FROM=${3:-20}
FOR=${4:-45}
(
    sleep "$FROM"
    timeout "$FOR" python -c "while True: pass" &
    timeout "$FOR" python -c "while True: pass" || true
    wait
) &
PYTHONPATH=$SRC ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 \
    python -m cyclegan demo --seed 0 --precision fp32 --out "$OUT" --overwrite --no-progress
wait
