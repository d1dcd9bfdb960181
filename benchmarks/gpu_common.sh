# Sourced by benchmarks/gpu.sh, gpu_next.sh and gpu_compile_check.sh (after OUT is set): the device, the tiny
# CPU try and the Python they run (DEVICE, GPU_TINY, PYTHON), this checkout's package on the path, a `cyclegan`
# program for `timeout` (which runs programs, not shell functions), and `step`.
DEVICE=${DEVICE:-cuda}
TINY=${GPU_TINY:-0}
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
mkdir -p "$OUT/bin"
printf '#!/bin/sh\nexec "%s" -m cyclegan "$@"\n' "$PY" >"$OUT/bin/cyclegan"
chmod +x "$OUT/bin/cyclegan"
export PATH="$OUT/bin:$PATH"
step() {  # step NAME LIMIT_S COMMAND...: run it, log to $OUT/NAME.log, say how it ended
    local name=$1 limit=$2
    shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
    echo "$name: exit $? in $((SECONDS - t0)) s" | tee -a "$OUT/steps.txt"
}
