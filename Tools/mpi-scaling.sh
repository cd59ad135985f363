#!/usr/bin/env bash
# Data-parallel scaling on this machine: one process on one core against RANKS ranks on one
# core each (mpirun --bind-to core), the same global batch of 128, runs interleaved. Prints
# each run's img/s (the epoch line of vit train, rank 0's, the global batch counted) and the
# allreduce figures rank 0 logs, then the medians and their ratio.
# Usage: Tools/mpi-scaling.sh [RUNS] [RANKS]; VIT names the binary (default: the release
# build, swift build -c release --product vit).
set -euo pipefail
runs=${1:-3}
ranks=${2:-2}
vit=${VIT:-.build/release/vit}
[ -x "$vit" ] || { echo "mpi-scaling: no vit binary at $vit (swift build -c release --product vit)" >&2; exit 1; }
(( runs >= 1 && ranks >= 2 && 128 % ranks == 0 )) || { echo "mpi-scaling: RUNS must be >= 1 and RANKS >= 2 dividing 128" >&2; exit 1; }
root=()
[ "$(id -u)" -eq 0 ] && root=(--allow-run-as-root)
output=$(mktemp -d)
trap 'rm -rf "$output"' EXIT
common=(train --device cpu --train-limit 8192 --test-limit 100 --epochs 1 --output-dir "$output")

# The img/s of the epoch's summary line, and rank 0's allreduce line.
rate() { tr '\r' '\n' | grep -o '[0-9.]* img/s$' | tail -1 | cut -d' ' -f1; }
one=() many=()
for run in $(seq "$runs"); do
  log=$(VIT_CPU_THREADS=1 taskset -c 0 "$vit" "${common[@]}" --batch-size 128 --exp-name "one-$run")
  one+=("$(rate <<<"$log")")
  log=$(mpirun -np "$ranks" --bind-to core "${root[@]}" "$vit" "${common[@]}" --batch-size $((128 / ranks)) --exp-name "many-$run")
  many+=("$(rate <<<"$log")")
  allreduce=$(grep -o 'allreduce: .*' <<<"$log" | tail -1)
  echo "run $run: 1 process ${one[-1]} img/s, $ranks ranks ${many[-1]} img/s; $allreduce"
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
m1=$(median "${one[@]}")
m2=$(median "${many[@]}")
echo "median: 1 process $m1 img/s, $ranks ranks $m2 img/s, ratio $(awk -v a="$m2" -v b="$m1" 'BEGIN { printf "%.2f", a / b }')"
