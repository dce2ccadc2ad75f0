#!/usr/bin/env bash
# Memcheck of the element on real faces: the photo 13.jpg frozen into FRAMES frames (default 10)
# through `emotiondetect` (the installed default models, ONNX Runtime from setup.sh) in
# gst-launch-1.0, with the plugin this checkout builds. Prints valgrind's error summary and
# leak summary; the full log is left in target/valgrind.log.
#
#   scripts/valgrind.sh [FRAMES]
#
# Expect no errors (invalid reads or writes, uses of uninitialised values) and no "definitely
# lost" block allocated from our code; GStreamer, GLib and ONNX Runtime keep process-lifetime
# allocations that valgrind counts as "possibly lost" or "still reachable". Three third-party
# reports are suppressed, each explained in scripts/valgrind.supp (the dynamic loader's strncmp,
# ONNX Runtime copying a value onto itself, GLib's constructor block).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
frames=${1:-10}
photo=../shared/media/group-photos/13.jpg
[ -f "$photo" ] || { echo "valgrind: $photo not found (../shared beside the checkout)" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "valgrind: not installed (apt-get install -y valgrind)" >&2; exit 1; }
cargo build --release --lib
plugins=$(mktemp -d)
trap 'rm -rf "$plugins"' EXIT
cp target/release/libgstemotiondetect.so "$plugins/"
export GST_PLUGIN_PATH=$plugins GST_REGISTRY=$plugins/registry.bin
# Pre-build the registry outside valgrind (it forks a scanner).
gst-inspect-1.0 emotiondetect >/dev/null
valgrind --error-exitcode=99 --suppressions=scripts/valgrind.supp --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
  --num-callers=30 --log-file=target/valgrind.log \
  gst-launch-1.0 -q filesrc location="$photo" ! jpegdec ! imagefreeze num-buffers="$frames" ! videoconvert \
  ! emotiondetect ! emotionpublish location=- ! fakesink >/dev/null || status=$?
grep -E "ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|still reachable|suppressed:" target/valgrind.log | sed 's/^==[0-9]*== //'
exit "${status:-0}"
