#!/usr/bin/env bash
# Live emotion detection on a camera, shown in a window: the design line
# `v4l2src ! emotiondetect ! autovideosink`, which negotiates as it is (the element takes the
# YUY2 that UVC cameras give, and draws on it in place).
#
#   pipelines/webcam.sh [PROP=VALUE ...]            e.g. pipelines/webcam.sh threshold=0.5
#   DEVICE=/dev/video2 SINK=fakesink pipelines/webcam.sh
#   SOURCE=video.mp4 pipelines/webcam.sh            a file in place of the camera (looped: no)
#   SOURCE=test pipelines/webcam.sh                 videotestsrc, YUY2 640x480 at 30 fps
#
# A camera that only gives MJPEG: SOURCE="v4l2src ! jpegdec" pipelines/webcam.sh.
# MESSAGES=1 also prints the element's per-frame messages (gst-launch-1.0 -m).
set -euo pipefail
device=${DEVICE:-/dev/video0}
sink=${SINK:-autovideosink}
m=(); [ "${MESSAGES:-0}" = 1 ] && m=(-m)
source=${SOURCE:-}
if [ -z "$source" ]; then
  if [ ! -e "$device" ]; then
    cat >&2 <<MSG
webcam.sh: no camera at $device (set DEVICE=/dev/videoN). To try it without a camera:
  SOURCE=test pipelines/webcam.sh                       a test pattern, as a webcam gives it (YUY2 640x480)
  SOURCE=../shared/media/videos/Megamind.avi pipelines/webcam.sh   a video file
MSG
    exit 1
  fi
  src="v4l2src device=$device"
elif [ "$source" = test ]; then
  src="videotestsrc is-live=true ! video/x-raw,format=YUY2,width=640,height=480,framerate=30/1"
elif [ -f "$source" ]; then
  src="filesrc location=\"$source\" ! decodebin ! videoconvert ! video/x-raw,format=YUY2"
else
  src=$source
fi
# $src and $sink unquoted on purpose: they are pipeline fragments (SINK="xvimagesink sync=false").
# shellcheck disable=SC2086
eval exec gst-launch-1.0 -e "${m[@]}" $src ! emotiondetect "$@" ! $sink
