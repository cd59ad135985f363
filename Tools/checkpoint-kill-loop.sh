#!/usr/bin/env bash
# Kills `vit train` with SIGKILL at random moments while it writes a checkpoint every epoch
# of a tiny run, ROUNDS times (each round resumes from the newest checkpoint that the round
# before left), and then checks every final-named checkpoint: each must load and resume
# (`vit train --resume` for one more epoch), or be refused by name: half of a pair from two
# saves, or a model file whose optimizer file the kill kept from being written. Anything
# else (a crash, an unreadable file, a silent mix) fails the script.
#   Tools/checkpoint-kill-loop.sh [ROUNDS]     (VIT=path/to/vit, default .build/release/vit)
set -euo pipefail
rounds="${1:-20}"
vit="${VIT:-.build/release/vit}"
[ -x "$vit" ] || { echo "no vit executable at $vit (swift build -c release)" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
quick=(--device cpu --train-limit 64 --test-limit 32 --batch-size 32 --output-dir "$work" --save-model-every 1)
refusal="are not one checkpoint|needs the optimizer state"
newest() { ls -t "$work"/run/checkpoint_epoch_*.safetensors 2>/dev/null | grep -v optimizer | head -1; }
epoch_of() { basename "$1" | sed -E 's/checkpoint_epoch_([0-9]+)\.safetensors/\1/'; }

kills=0
for round in $(seq "$rounds"); do
  resume=()
  if last="$(newest)" && [ -n "$last" ]; then resume=(--resume "$last"); fi
  "$vit" train "${quick[@]}" --exp-name run --epochs 1000 "${resume[@]}" >"$work/round.log" 2>&1 &
  pid=$!
  sleep "$(awk -v seed="$RANDOM" 'BEGIN { srand(seed); printf "%.2f", 1.5 + 2.5 * rand() }')"
  if kill -9 "$pid" 2>/dev/null; then
    kills=$((kills + 1))
  else
    echo "round $round: vit had already exited: $(tail -1 "$work/round.log")"
  fi
  wait "$pid" 2>/dev/null || true
  # A resume that was refused (the kill before broke its pair) starts the next round from an older one.
  if grep -Eq "$refusal" "$work/round.log"; then
    echo "round $round: $(grep -Eo "$refusal" "$work/round.log" | head -1): removing $(basename "$last")"
    rm -f "$last" "${last%.safetensors}.optimizer.safetensors"
  fi
done
temporary=$(find "$work/run" -name '.*.tmp' | wc -l)

loadable=0 refused=0 failed=0
for checkpoint in "$work"/run/checkpoint_epoch_*.safetensors; do
  case "$checkpoint" in *.optimizer.safetensors) continue ;; esac
  epoch="$(epoch_of "$checkpoint")"
  if output="$("$vit" train "${quick[@]}" --exp-name check --epochs $((epoch + 1)) --resume "$checkpoint" 2>&1)"; then
    loadable=$((loadable + 1))
  elif grep -Eq "$refusal" <<<"$output"; then
    refused=$((refused + 1))
  else
    failed=$((failed + 1))
    echo "FAILED: $checkpoint: $(tail -3 <<<"$output")"
  fi
  rm -rf "$work/check"
done
echo "$kills kills in $rounds rounds; $loadable checkpoints resumed, $refused refused by name, $failed failed;" \
  "$temporary temporary files left by the last kill (the next run removes them)"
[ "$failed" -eq 0 ] && [ $((loadable + refused)) -gt 0 ]
