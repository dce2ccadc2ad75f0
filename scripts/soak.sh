#!/usr/bin/env bash
# Memory soak: FRAMES frames (default 10,000) of Megamind.avi through emotiondetect
# (examples/rss_soak.rs), in four configurations: plain, pipelining=true, shared models
# (model-instance-id, the shared instance and its classifier batching) and both. Prints each
# configuration's resident set size after 1,000 frames (warm), at the end, and the growth.
#
#   scripts/soak.sh [FRAMES] [VIDEO]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
frames=${1:-10000}
video=${2:-../shared/media/videos/Megamind.avi}
[ -f "$video" ] || { echo "soak: $video not found (the test video lives in ../shared/media/videos beside the checkout)" >&2; exit 1; }
cargo build --release --example rss-soak
for props in "" "pipelining=true" "model-instance-id=soak" "pipelining=true model-instance-id=soak"; do
  start=$(date +%s)
  # shellcheck disable=SC2086 # the properties are separate words
  line=$(target/release/examples/rss-soak "$video" "$frames" $props 2>/dev/null | tail -1)
  printf '%-40s %s (%d s)\n' "${props:-defaults}" "$line" "$(( $(date +%s) - start ))"
done
