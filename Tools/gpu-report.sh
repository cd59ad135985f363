#!/usr/bin/env bash
# One command for a machine with a GPU: lists the devices, runs the full `vit check` and
# `vit tune` on each OpenCL GPU or accelerator, then `vit-bench kernels`, `attention` (with
# flash attention at D 64 and the sparse mechanisms on band and index-list kernels) and
# `training` (with the OpenCL command counts) on it, PyTorch's float32 SDPA on the GPU where
# PyTorch with CUDA is installed, and writes REPORT.md and REPORT.json into the output folder.
# Budget: under 10 minutes on one GPU (each benchmark figure is timed for a fraction of a
# second; the training benchmark runs 10 steps).
#
#   Tools/gpu-report.sh [BIN_DIR] [OUTPUT_DIR]
#
# BIN_DIR holds `vit`, `vit-bench` and the kernel resource bundle, as `swift build -c release
# --static-swift-stdlib` leaves them (default .build/release). On a machine without Swift,
# carry that folder over with the OpenCL loader and CLBlast libraries in LD_LIBRARY_PATH.
set -uo pipefail
bin="${1:-.build/release}"
out="${2:-gpu-report}"
mkdir -p "$out"
for tool in vit vit-bench; do
  [ -x "$bin/$tool" ] || { echo "gpu-report: $bin/$tool not found (build with swift build -c release)" >&2; exit 2; }
done

# The OpenCL GPUs and accelerators, as opencl:N names.
"$bin/vit" devices > "$out/devices.txt" 2>&1
cat "$out/devices.txt"
mapfile -t gpus < <(awk '/^opencl:[0-9]+:/ { name = $1; sub(":$", "", name) } /type (GPU|accelerator)/ && name != "" { print name; name = "" }' "$out/devices.txt")
if [ ${#gpus[@]} -eq 0 ]; then
  echo "gpu-report: no OpenCL GPU or accelerator in the device list above" >&2
  exit 1
fi

status=0
json_devices=()
{
  echo "# GPU report"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -n)"
  echo
  echo '```'
  cat "$out/devices.txt"
  echo '```'
} > "$out/REPORT.md"

run() {
  # run NAME COMMAND...: records the output in NAME.txt and a section of REPORT.md.
  local name="$1"
  shift
  echo "== $name: $*"
  local start end code
  start=$(date +%s)
  timeout 240 "$@" > "$out/$name.txt" 2>&1
  code=$?
  end=$(date +%s)
  [ $code -eq 0 ] || status=1
  {
    echo
    echo "## $name ($((end - start)) s, exit $code)"
    echo
    echo "\`$*\`"
    echo
    echo '```'
    cat "$out/$name.txt"
    echo '```'
  } >> "$out/REPORT.md"
  tail -3 "$out/$name.txt"
  json_devices+=("{\"run\": \"$name\", \"exit\": $code, \"seconds\": $((end - start))}")
}

for device in "${gpus[@]}"; do
  tag="${device/:/-}"
  run "check-$tag" "$bin/vit" check --device "$device" --quiet
  # The tuner first, so that the benchmarks below run the device's own choices.
  run "tune-$tag" "$bin/vit" tune --device "$device" --seconds 0.05
  run "kernels-$tag" "$bin/vit-bench" kernels --device "$device" --seconds 0.2
  run "attention-$tag" "$bin/vit-bench" attention --device "$device" --seconds 0.2
  # The attention issue's yardstick: flash attention at B 8, H 8, D 64 (GFLOP/s over the
  # device's fp32 peak), and the sparse mechanisms with each kind of kernel.
  run "flash-d64-$tag" "$bin/vit-bench" attention --device "$device" --attention standard --tokens 197,1025,4097 --head-size 64 --seconds 0.5
  run "sparse-bands-$tag" "$bin/vit-bench" attention --device "$device" --attention fibottention,dilated,axial --tokens 197,1025 --head-size 64 --sparse-kernels bands --seconds 0.3
  run "sparse-lists-$tag" "$bin/vit-bench" attention --device "$device" --attention fibottention,dilated,axial --tokens 197,1025 --head-size 64 --sparse-kernels lists --seconds 0.3
  run "training-$tag" "$bin/vit-bench" training --device "$device" --batch-size 128 --optimizer muon
  run "training-cpu-reference" "$bin/vit-bench" training --device cpu --batch-size 128 --optimizer muon --steps 4
done

# PyTorch's float32 scaled_dot_product_attention on the same GPU, where PyTorch sees one.
if python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2> /dev/null; then
  run "sdpa-cuda" python3 "$(dirname "$0")/pytorch_reference.py" --device cuda --attention-only --head-size 64 --tokens 197,1025,4097
else
  echo "gpu-report: no PyTorch with CUDA here: the SDPA comparison is skipped" | tee -a "$out/REPORT.md"
fi

(IFS=,; echo "{\"devices\": \"$(tr '\n' ' ' < "$out/devices.txt" | sed 's/"/\\"/g')\", \"runs\": [${json_devices[*]}]}") > "$out/REPORT.json"
echo "gpu-report: wrote $out/REPORT.md and $out/REPORT.json (exit $status)"
exit $status
