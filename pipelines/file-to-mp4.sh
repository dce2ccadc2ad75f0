#!/usr/bin/env bash
# Annotate a video file with emotiondetect and write it as an MP4, plus the element's per-frame
# messages as text.
#
#   pipelines/file-to-mp4.sh INPUT [OUTDIR] [PROP=VALUE ...]
#
# Writes OUTDIR/<name>-emotions.mp4 (H.264, boxes and emotion labels drawn), OUTDIR/<name>-messages.txt
# (one `emotiondetect, timestamp=..., faces=<...>;` structure per frame, as posted on the bus and
# printed by `gst-launch-1.0 -m`) and OUTDIR/<name>-gst-launch.log (everything gst-launch printed).
# OUTDIR defaults to ./out. PROP=VALUE pairs are emotiondetect properties, e.g. threshold=0.5
# detector-size=320 draw=false. QUIET=1 prints only a summary instead of every frame's message.
#
# The element needs the plugin installed (./setup.sh) or GST_PLUGIN_PATH pointing at target/release.
#
# Pipeline:
#   filesrc ! decodebin ! videorate ! videoconvert ! emotiondetect ! videoconvert ! x264enc ! h264parse
#     ! mp4mux ! filesink
# emotiondetect takes I420/NV12 and packed RGB formats directly; decoders of MPEG-4, H.264 etc. give
# I420 or NV12, and then both videoconverts are passthrough (no copy). They are there for decoders
# that output other formats (10-bit, 4:2:2, ...), and to hand x264enc 4:2:0 so that any player reads
# the MP4. videorate restamps frames at the stream's frame rate: DivX-style MPEG-4 in AVI (such as
# Megamind.avi) decodes with duplicate timestamps, which x264enc/mp4mux turn into "Buffer has no PTS".
set -euo pipefail

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then usage; [ $# -ge 1 ] && exit 0 || exit 2; fi

input=$1; shift
outdir=out
if [ $# -gt 0 ] && [[ "$1" != *=* ]]; then outdir=$1; shift; fi
[ "$outdir" = / ] || outdir=${outdir%/}
props=("$@")
for p in "${props[@]}"; do
  [[ "$p" == *=* ]] || { echo "file-to-mp4.sh: expected PROP=VALUE, got '$p'" >&2; exit 2; }
done

[ -f "$input" ] || { echo "file-to-mp4.sh: $input: no such file" >&2; exit 2; }
command -v gst-launch-1.0 >/dev/null || { echo "file-to-mp4.sh: gst-launch-1.0 not found (run ./setup.sh)" >&2; exit 1; }
if ! gst-inspect-1.0 emotiondetect >/dev/null 2>&1; then
  echo "file-to-mp4.sh: the emotiondetect element is not found: run ./setup.sh (installs it), or" >&2
  echo "  export GST_PLUGIN_PATH=$(cd "$(dirname "$0")/.." && pwd)/target/release after cargo build --release" >&2
  exit 1
fi

mkdir -p "$outdir"
name=$(basename "$input"); name=${name%.*}
mp4="$outdir/$name-emotions.mp4"
msgs="$outdir/$name-messages.txt"
log="$outdir/$name-gst-launch.log"
rm -f "$mp4" "$msgs"
: > "$msgs"

echo "emotiondetect: $input -> $mp4"
set +e
gst-launch-1.0 -e -m \
  filesrc location="$input" ! decodebin ! videorate ! videoconvert ! \
  emotiondetect "${props[@]}" ! \
  videoconvert ! video/x-raw,format=I420 ! x264enc speed-preset=veryfast ! h264parse ! mp4mux ! \
  filesink location="$mp4" 2>&1 \
| tee "$log" \
| awk -v msgs="$msgs" -v quiet="${QUIET:-0}" '
    # the element message of each frame: keep the structure, print it unless QUIET
    /\(element\): emotiondetect[,;]/ {
      sub(/^Got message #[0-9]+ from element "[^"]*" \(element\): /, "")
      print > msgs; frames++
      if (quiet == "0") { print; fflush() }
      next
    }
    # the rest of -m output (state changes, stream status, ...) stays in the log only
    /^Got message #/ && !/\((error|warning)\)/ { next }
    { print; fflush() }
    END { printf "%d emotiondetect messages\n", frames > "/dev/stderr" }'
rc=${PIPESTATUS[0]}
set -e

if [ "$rc" -ne 0 ]; then
  echo "file-to-mp4.sh: gst-launch-1.0 failed (exit $rc); full output in $log" >&2
  exit "$rc"
fi
if [ ! -s "$mp4" ]; then
  echo "file-to-mp4.sh: $mp4 is empty; full output in $log" >&2
  exit 1
fi
faces=$(grep -o '"face\\,' "$msgs" | wc -l || true)
echo "annotated video: $mp4 ($(stat -c %s "$mp4") bytes)"
echo "messages:        $msgs ($(wc -l < "$msgs") frames, $faces faces)"
echo "gst-launch log:  $log"
