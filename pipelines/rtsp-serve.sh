#!/usr/bin/env bash
# Serve annotated video over RTSP (examples/rtsp_server.rs, gst-rtsp-server).
#
#   pipelines/rtsp-serve.sh [--address 0.0.0.0] [--port 8554] [--mount /emotions] [--keep-all-frames] [--loop]
#                           [INPUT] [PROP=VALUE ...]
#
# INPUT: a video file, v4l2 or v4l2:/dev/videoN (camera), rtsp://... (re-serve an RTSP stream
# with emotions drawn), or test (videotestsrc). Default: Megamind.avi from ../shared/media/videos
# or from the data dir where ./setup.sh put it, else test. Watch with pipelines/rtsp-in.sh rtsp://127.0.0.1:8554/emotions, or
# gst-launch-1.0 playbin uri=rtsp://127.0.0.1:8554/emotions, or VLC.
# The server registers the element from the crate it is built with (no install needed); the models
# and ONNX Runtime come from ./setup.sh. --address 127.0.0.1 serves this machine only (default:
# every interface). Live inputs (camera, rtsp://, test) get a leaky queue before the element, so a
# slow element drops frames instead of delaying the stream more and more; --keep-all-frames
# removes it. A file is served in real time; if the element cannot keep up with it, raise
# inference-interval (e.g. inference-interval=3). --loop serves a file endlessly, like a camera.
# The server is the release build of examples/rtsp_server.rs that ./setup.sh makes
# (target/release/examples/rtsp-server); build it alone with cargo build --release --example rtsp-server.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
[ -d "$HOME/.cargo/bin" ] && PATH="$HOME/.cargo/bin:$PATH"
args=("$@")
has_input=0
skip=0
for a in "${args[@]}"; do
  if [ "$skip" = 1 ]; then skip=0; continue; fi
  case "$a" in
    --address|--port|--mount|-a|-p|-m) skip=1 ;;
    -*|*=*) ;;
    *) has_input=1 ;;
  esac
  case "$a" in rtsp://*|rtsps://*) has_input=1 ;; esac
done
if [ "$has_input" = 0 ]; then
  data=${EMOTIONDETECT_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/emotiondetect}
  demo="test"
  for f in "$root/../shared/media/videos/Megamind.avi" "$data/media/Megamind.avi"; do
    if [ -f "$f" ]; then demo=$f; break; fi
  done
  args+=("$demo")
fi
server=${CARGO_TARGET_DIR:-$root/target}/release/examples/rtsp-server
if [ ! -x "$server" ]; then
  echo "rtsp-serve.sh: $server not found: run ./setup.sh --no-run (or cargo build --release --example rtsp-server)" >&2
  exit 1
fi
exec "$server" "${args[@]}"
