#!/usr/bin/env bash
# The GPU run, in one command, on a machine with an NVIDIA GPU (driver >= 580):
#
#   bench/gpu.sh
#
# 1. ./setup.sh --no-run --gpu (onnxruntime-gpu 1.31.1 and the CUDA 13 / cuDNN 9 wheels, see
#    README "CUDA"), and the benchmark binaries;
# 2. the CUDA checks: our float32 classifier on FER2013 val with --device cuda must reach 68 %
#    (as on the CPU) on Cuda(0), and the element with device=cuda (which fails NULL->READY when
#    CUDA cannot be registered: no silent CPU fall-back) must find the faces of Megamind.avi;
# 3. the benchmark with device=cuda on the 1080p crowd clip (bench/make_crowd_clip.py): classifier
#    batch sizes 1, 8, 32, 64 (emotiondetect-eval ms/face on FER2013 val, and the element's fps),
#    then 4 and 8 streams in one process sharing one model-instance-id;
# 4. the training recipe with --device cuda (TRAIN_EPOCHS, default 30; 0 skips);
# and prints one table. Meant to finish in under 8 minutes once the wheels are downloaded.
# On a GPU machine that cannot build or download (no cargo, no internet): build here, copy, and
# set BENCH_BIN_DIR=DIR (emotiondetect-eval and bench-pipeline), EMOTIONDETECT_DATA_DIR (models,
# lib/ with the onnxruntime-gpu library and lib/cuda/ with the CUDA 13 / cuDNN 9 libraries) and
# EMOTIONDETECT_SHARED_DIR; setup and cargo are then skipped. MEGAMIND=FILE and CROWD=FILE
# replace the two clips (e.g. re-encoded to MJPEG when the machine has no gst-libav).
# Without an NVIDIA GPU it stops at once, saying so. Run ./setup.sh (without --gpu) afterwards
# to put the CPU build of ONNX Runtime back.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
die() { echo "bench/gpu.sh: $*" >&2; exit 1; }

command -v nvidia-smi >/dev/null || die "no NVIDIA GPU: nvidia-smi not found (this benchmark needs an NVIDIA GPU and its driver >= 580; on a CPU machine use bench/run)"
gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -n 1) ||
  die "no NVIDIA GPU: nvidia-smi failed: $gpu"
driver=$(echo "$gpu" | cut -d, -f2 | tr -d ' ')
[ "${driver%%.*}" -ge 580 ] 2>/dev/null || die "NVIDIA driver $driver is older than 580, which onnxruntime-gpu 1.31.1 (CUDA 13) needs"
start=$(date +%s)

if [ -n "${BENCH_BIN_DIR:-}" ]; then
  eval_bin=$BENCH_BIN_DIR/emotiondetect-eval
  bp=$BENCH_BIN_DIR/bench-pipeline
  echo "==> prebuilt binaries from $BENCH_BIN_DIR (setup and cargo skipped)"
else
  echo "==> ./setup.sh --no-run --gpu"
  ./setup.sh --no-run --gpu >/tmp/emotiondetect-gpu-setup.log 2>&1 || { tail -n 30 /tmp/emotiondetect-gpu-setup.log >&2; die "./setup.sh --gpu failed (log: /tmp/emotiondetect-gpu-setup.log)"; }
  [ -d "$HOME/.cargo/bin" ] && PATH="$HOME/.cargo/bin:$PATH"
  cargo build --release --quiet --example bench-pipeline
  eval_bin=target/release/emotiondetect-eval
  bp=target/release/examples/bench-pipeline
fi
py=.venv/bin/python
shared=${EMOTIONDETECT_SHARED_DIR:-../shared}
val=${FER_VAL:-$shared/datasets/fer2013/val}
data_dir=${EMOTIONDETECT_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/emotiondetect}
fp32=$data_dir/models/emotion_fer2013_vggbn_fp32.onnx
megamind=${MEGAMIND:-$shared/media/videos/Megamind.avi}
crowd=${CROWD:-target/bench/crowd1080.avi}
for f in "$val" "$fp32" "$megamind"; do [ -e "$f" ] || die "$f not found (../shared beside the checkout, and ./setup.sh)"; done
for f in "$eval_bin" "$bp"; do [ -x "$f" ] || die "$f not found or not executable (cargo build --release --bin emotiondetect-eval --example bench-pipeline)"; done
[ -f "$crowd" ] || "$py" bench/make_crowd_clip.py "$shared/media/group-photos" "$crowd"
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }
failed=0

echo "==> CUDA checks"
eval_out=$("$eval_bin" "$val" --model "$fp32" --device cuda --batch 32 --png /dev/null)
acc=$(echo "$eval_out" | sed -n 's/^accuracy=//p')
dev=$(echo "$eval_out" | sed -n 's/.*device=\([^ ]*\).*/\1/p' | head -n 1)
if [ "$dev" = "Cuda(0)" ] && awk -v a="$acc" 'BEGIN { exit !(a >= 0.68) }'; then
  echo "ok    emotiondetect-eval --device cuda: device=$dev accuracy=$acc (CPU: 0.6857)"
else
  echo "FAIL  emotiondetect-eval --device cuda: device=$dev accuracy=$acc (expected Cuda(0) and >= 0.68)"; failed=1
fi
cuda_run=$($bp "filesrc location=$megamind ! decodebin ! emotiondetect device=cuda emotion-model=$fp32 ! fakesink" 2>&1) || true
faces=$(echo "$cuda_run" | field faces)
if [ -n "$faces" ] && [ "$faces" -ge 300 ]; then
  echo "ok    element device=cuda on Megamind.avi: $faces faces, $(echo "$cuda_run" | field fps) fps"
else
  echo "FAIL  element device=cuda on Megamind.avi: ${cuda_run:-no output}"; failed=1
fi

echo "==> benchmark (device=cuda, emotion-model=$(basename "$fp32"))"
rows=()
for b in 1 8 32 64; do
  e=$("$eval_bin" "$val" --model "$fp32" --device cuda --batch "$b" --png /dev/null)
  ms=$(echo "$e" | sed -n 's/^ms_per_face=\([0-9.]*\).*/\1/p')
  o=$($bp "filesrc location=$crowd ! decodebin ! emotiondetect device=cuda emotion-model=$fp32 batch-size=$b ! fakesink")
  rows+=("| crowd 1080p, batch-size=$b | 1 | $(echo "$o" | field fps) | $ms | $(echo "$o" | field peak_rss_mb) |")
done
for n in 4 8; do
  one="filesrc location=$crowd ! decodebin ! emotiondetect device=cuda emotion-model=$fp32 model-instance-id=gpu ! fakesink"
  desc=""
  for _ in $(seq "$n"); do desc="$desc $one "; done
  o=$($bp "$desc")
  rows+=("| crowd 1080p x $n streams, one model-instance-id (batch-size=32) | $n | $(echo "$o" | field fps) | | $(echo "$o" | field peak_rss_mb) |")
done

# 4. The training recipe on the GPU (models/train_fer.py --device cuda), TRAIN_EPOCHS epochs
#    (default 30; 0 skips) of the default net from scratch, when .venv-train has a CUDA torch.
train_epochs=${TRAIN_EPOCHS:-30}
train_row="| training: skipped (TRAIN_EPOCHS=0) | | | | |"
if [ "$train_epochs" -gt 0 ]; then
  echo "==> training recipe, $train_epochs epochs, --device cuda"
  if .venv-train/bin/python -c 'import sys, torch; sys.exit(not torch.cuda.is_available())' 2>/dev/null; then
    t0=$(date +%s)
    .venv-train/bin/python models/train_fer.py --data "$shared/datasets/fer2013" --out target/gpu-train --device cuda \
      --epochs "$train_epochs" --ema 0.999 --patience "$train_epochs" >/tmp/emotiondetect-gpu-train.log 2>&1 ||
      { tail -n 20 /tmp/emotiondetect-gpu-train.log >&2; echo "FAIL  training on the GPU (log: /tmp/emotiondetect-gpu-train.log)"; failed=1; }
    best=$(sed -n 's/.*"exported_val_acc": \([0-9.]*\).*/\1/p' target/gpu-train/training.json 2>/dev/null | head -n 1)
    train_row="| training: $train_epochs epochs of train_fer.py --device cuda, $(($(date +%s) - t0)) s; exported val accuracy ${best:-none} | | | | |"
  else
    echo "FAIL  training on the GPU: .venv-train has no torch that sees CUDA (./setup.sh --train)"; failed=1
    train_row="| training: no CUDA torch in .venv-train | | | | |"
  fi
fi

echo
echo "# emotiondetect on the GPU"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)${BENCH_BIN_DIR:+ (binaries from $BENCH_BIN_DIR: their commit is where they were built)}"
echo "- GPU: $gpu; CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cores"
echo "- clips: $megamind; $crowd (1920x1080, 17.jpg and 25.jpg panned); ms/face: emotiondetect-eval on FER2013 val at that batch"
echo
echo "| what | streams | aggregate fps | classifier ms/face | peak RSS MB |"
echo "|---|---|---|---|---|"
printf '%s\n' "${rows[@]}" "$train_row"
echo
echo "CUDA checks: $([ "$failed" = 0 ] && echo passed || echo FAILED); $(($(date +%s) - start)) s in all"
exit "$failed"
