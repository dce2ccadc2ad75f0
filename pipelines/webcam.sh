#!/usr/bin/env bash
# Live emotion detection on a camera, shown in a window.
#
#   pipelines/webcam.sh [PROP=VALUE ...]          e.g. pipelines/webcam.sh threshold=0.5
#   DEVICE=/dev/video2 SINK=fakesink pipelines/webcam.sh
#
# The design line is `v4l2src ! emotiondetect ! autovideosink`. In practice:
# - cameras give YUY2 or MJPEG, which emotiondetect does not take (it takes I420, NV12 and packed
#   RGB/BGR formats): decodebin decodes MJPEG, videoconvert turns YUY2 into I420;
# - video sinks want their own formats, hence the videoconvert after the element.
# When the camera does give I420/NV12 both videoconverts are passthrough.
# MESSAGES=1 also prints the element's per-frame messages (gst-launch-1.0 -m).
set -euo pipefail
device=${DEVICE:-/dev/video0}
sink=${SINK:-autovideosink}
[ -e "$device" ] || { echo "webcam.sh: no camera at $device (set DEVICE=/dev/videoN)" >&2; exit 1; }
m=(); [ "${MESSAGES:-0}" = 1 ] && m=(-m)
# $sink unquoted on purpose: SINK may carry properties, e.g. SINK="xvimagesink sync=false"
# shellcheck disable=SC2086
exec gst-launch-1.0 -e "${m[@]}" \
  v4l2src device="$device" ! decodebin ! videoconvert ! \
  emotiondetect "$@" ! \
  videoconvert ! $sink
