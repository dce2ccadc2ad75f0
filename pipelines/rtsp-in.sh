#!/usr/bin/env bash
# Emotion detection on an RTSP stream (an IP camera, or pipelines/rtsp-serve.sh), shown in a window.
#
#   pipelines/rtsp-in.sh rtsp://HOST:PORT/PATH [PROP=VALUE ...]
#   SINK=fakesink MESSAGES=1 pipelines/rtsp-in.sh rtsp://127.0.0.1:8554/emotions   (headless, print results)
#
# rtspsrc (200 ms jitter buffer) ! decodebin (depayloads and decodes H.264/H.265/MJPEG/...) !
# videoconvert (passthrough for I420/NV12) ! emotiondetect ! videoconvert ! sink.
set -euo pipefail
if [ $# -lt 1 ] || [[ "$1" != rtsp*://* ]]; then
  echo "usage: $0 rtsp://HOST:PORT/PATH [PROP=VALUE ...]" >&2; exit 2
fi
url=$1; shift
sink=${SINK:-autovideosink}
m=(); [ "${MESSAGES:-0}" = 1 ] && m=(-m)
# $sink unquoted on purpose: SINK may carry properties, e.g. SINK="xvimagesink sync=false"
# shellcheck disable=SC2086
exec gst-launch-1.0 -e "${m[@]}" \
  rtspsrc location="$url" latency="${LATENCY:-200}" ! decodebin ! videoconvert ! \
  emotiondetect "$@" ! \
  videoconvert ! $sink
