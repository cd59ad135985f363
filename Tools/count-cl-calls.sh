#!/usr/bin/env bash
# Runs COMMAND with Tools/cl-counter in front of the OpenCL loader and prints the OpenCL
# commands it issued (launches, copies, transfers, host waits, bytes) as one JSON line.
# Per-step figures: run a training benchmark for S and S + K steps and divide the
# difference by K (setup, warm-up and evaluation cancel out).
#   Tools/count-cl-calls.sh .build/release/vit-bench training --device opencl --steps 4
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 COMMAND [ARGUMENTS...]" >&2; exit 2; }
here="$(cd "$(dirname "$0")" && pwd)"
library="${TMPDIR:-/tmp}/vit-cl-counter.so"
if [ ! -f "$library" ] || [ "$here/cl-counter/cl_counter.c" -nt "$library" ]; then
  cc -O2 -shared -fPIC -o "$library" "$here/cl-counter/cl_counter.c" -ldl
fi
output="$(mktemp)"
trap 'rm -f "$output"' EXIT
CL_COUNTER_OUTPUT="$output" LD_PRELOAD="$library" "$@" >&2
cat "$output"
