#!/usr/bin/env bash
# Emotion detection on an RTSP stream (an IP camera, or pipelines/rtsp-serve.sh), shown in a window.
#
#   pipelines/rtsp-in.sh rtsp://HOST:PORT/PATH [PROP=VALUE ...]
#   SINK=fakesink MESSAGES=1 pipelines/rtsp-in.sh rtsp://127.0.0.1:8554/emotions   (headless, print results)
#
# rtspsrc (200 ms jitter buffer, never more: drop-on-latency) ! decodebin (depayloads and decodes
# H.264/H.265/MJPEG/...) ! queue leaky=downstream max-size-buffers=1 (while the element is busy,
# only the newest decoded frame waits; older ones are dropped) ! videoconvert (passthrough for
# I420/NV12) ! emotiondetect ! videoconvert ! sink (a window, drawing each frame as soon as it is
# analysed: sync=false).
#
# Environment:
#   LATENCY=200         rtspsrc jitter buffer in ms (network jitter it absorbs; added to the delay)
#   PROTOCOLS=tcp       RTP over the RTSP TCP connection (through NAT/firewalls); default: rtspsrc's
#                       choice (UDP first)
#   LEAKY=0             no leaky queue: every frame is analysed, and when the element is slower
#                       than the camera the delay grows without bound (frames pile up in rtspsrc)
#   SINK="..."          the sink (with properties), default "autovideosink sync=false"; for
#                       recording, e.g. SINK="x264enc tune=zerolatency ! h264parse ! matroskamux ! filesink location=out.mkv"
#   MESSAGES=1          print each frame's emotiondetect message (gst-launch-1.0 -m)
#   JSONL=PATH          also write one JSON line per frame (emotionpublish location=PATH); with
#                       JSONL=- (stdout) gst-launch-1.0 runs with -q, so stdout carries only the
#                       JSON lines (errors still go to stderr); MESSAGES=1 is refused then.
set -euo pipefail
if [ $# -lt 1 ] || [[ "$1" != rtsp*://* ]]; then
  echo "usage: $0 rtsp://HOST:PORT/PATH [PROP=VALUE ...]" >&2; exit 2
fi
url=$1; shift
sink=${SINK:-autovideosink sync=false}
m=(); [ "${MESSAGES:-0}" = 1 ] && m=(-m)
protocols=(); [ -n "${PROTOCOLS:-}" ] && protocols=(protocols="$PROTOCOLS")
quiet=(); publish=()
if [ -n "${JSONL:-}" ]; then
  publish=(emotionpublish location="$JSONL" !)
  if [ "$JSONL" = - ]; then
    quiet=(-q)
    if [ ${#m[@]} -gt 0 ]; then
      echo "rtsp-in.sh: MESSAGES=1 prints to stdout, which JSONL=- keeps for the JSON lines: use one of them" >&2; exit 2
    fi
  fi
fi
queue=(queue leaky=downstream max-size-buffers=1 max-size-bytes=0 max-size-time=0 !)
[ "${LEAKY:-1}" = 0 ] && queue=()
# $sink unquoted on purpose: SINK may carry properties, e.g. SINK="xvimagesink sync=false"
# shellcheck disable=SC2086
exec gst-launch-1.0 -e "${quiet[@]}" "${m[@]}" \
  rtspsrc location="$url" latency="${LATENCY:-200}" drop-on-latency=true "${protocols[@]}" ! \
  decodebin ! "${queue[@]}" videoconvert ! \
  emotiondetect "$@" ! "${publish[@]}" \
  videoconvert ! $sink
