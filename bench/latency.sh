#!/usr/bin/env bash
# End-to-end latency of emotiondetect on a live 1920x1080 30 fps source it cannot keep up with
# (a real group photo made live with imagefreeze, detector at full resolution: detector-size=0).
#
#   bench/latency.sh                       every configuration, 15 s each, then the same over RTSP
#   bench/latency.sh [ARGS...]             examples/latency.rs with ARGS, e.g.
#   bench/latency.sh --seconds 10 none leaky
#   bench/latency.sh --rtsp none leaky     the camera served over RTSP (in-process, 127.0.0.1)
#                                          and read by rtspsrc latency=100 ! decodebin
#   bench/latency.sh --source ball leaky   videotestsrc pattern=ball instead of the photo
#
# For every rendered frame: latency = clock time at the sink - (base time + running time), i.e.
# how long after the camera took the frame it is shown. Prints frames produced / analysed /
# rendered / dropped (and by whom), the element's processing time, latency median / p95 / max and
# latency over the run, one value per second: bounded with a leaky queue or QoS, growing without.
# Configurations (see examples/latency.rs): none, queue, leaky, qos, queue-qos, queue-qos-off,
# leaky-qos, display, display-deadline. Needs ./setup.sh once (ONNX Runtime and the models).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
[ -d "$HOME/.cargo/bin" ] && PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --quiet --example latency
bin="$root/target/release/examples/latency"
if [ $# -gt 0 ]; then
  exec "$bin" "$@"
fi
"$bin" --seconds 15 none queue leaky qos queue-qos queue-qos-off display display-deadline
echo
"$bin" --seconds 15 --rtsp none leaky qos
