#!/usr/bin/env bash
# Classifier time per face by batch size, on the real FER2013 val faces, through the element's
# own pre-processing and ONNX Runtime calls (emotiondetect-eval), best of RUNS runs each.
#
#   bench/batch_sizes.sh [MODEL.onnx] [BATCH ...]      (default: the installed default model;
#                                                        batches 1 4 8 16 32 64 128)
# Prints one line per batch size: batch=N ms_per_face=X images_per_s=Y.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
model_args=()
if [ $# -gt 0 ] && [[ "$1" == *.onnx ]]; then model_args=(--model "$1"); shift; fi
batches=("$@")
[ ${#batches[@]} -gt 0 ] || batches=(1 4 8 16 32 64 128)
runs=${RUNS:-3}
val=${FER_VAL:-../shared/datasets/fer2013/val}
cargo build --release --quiet --bin emotiondetect-eval
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $(date -u '+%F %T UTC')"
for b in "${batches[@]}"; do
  best=""
  for _ in $(seq "$runs"); do
    out=$(target/release/emotiondetect-eval "$val" "${model_args[@]}" --batch "$b" --png /dev/null)
    ms=$(echo "$out" | sed -n 's/^ms_per_face=\([0-9.]*\).*/\1/p')
    ips=$(echo "$out" | sed -n 's/^images_per_s=\([0-9.]*\).*/\1/p')
    if [ -z "$best" ] || awk -v a="$ms" -v b="${best%% *}" 'BEGIN { exit !(a < b) }'; then best="$ms $ips"; fi
  done
  echo "batch=$b ms_per_face=${best%% *} images_per_s=${best##* }"
done
