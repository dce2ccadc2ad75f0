#!/usr/bin/env bash
# Where a frame's time goes inside emotiondetect: the median time of each stage (map, prepare,
# detector run, decode/NMS, track, crop, classifier run, report, draw, message), of the element's
# total and of the time outside inference (the total less the two ONNX Runtime calls), as a
# Markdown table for docs/performance.md.
#
#   bench/stages.sh [VIDEO] [ELEMENT PROPERTIES...]    (after ./setup.sh; default: Megamind.avi)
#   e.g. bench/stages.sh ../shared/media/videos/vtest.avi inference-interval=3
#
# Each run logs the medians of its frames in the emotiondetect-stages debug category (INFO);
# the table gives the median over RUNS runs (default 5) and the lowest and highest run.
# BEFORE=DIR adds a column for DIR/bench-pipeline (another commit's build), run in turn.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
shared=${EMOTIONDETECT_SHARED_DIR:-$root/../shared}
video=${1:-$shared/media/videos/Megamind.avi}
[ $# -gt 0 ] && shift
props="$*"
[ -f "$video" ] || { echo "bench/stages.sh: $video not found" >&2; exit 1; }
RUNS=${RUNS:-5}
cargo build --release --quiet --example bench-pipeline
bins=(target/release/examples/bench-pipeline)
# BEFORE=DIR: also time DIR/bench-pipeline (built from another commit), in turn with this tree's,
# as a first column.
[ -z "${BEFORE:-}" ] || { [ -x "$BEFORE/bench-pipeline" ] || { echo "bench/stages.sh: no $BEFORE/bench-pipeline" >&2; exit 1; }; bins=("$BEFORE/bench-pipeline" "${bins[@]}"); }

# medians LINES: the table column of one binary's summary lines (one per run), "stage value" rows.
medians() {
  awk '
    NF { for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] != "frames" && kv[1] != "dropped") { if (!(kv[1] in seen)) { seen[kv[1]] = 1; order[++n] = kv[1] } v[kv[1], ++c[kv[1]]] = kv[2] } } }
    END {
      for (k = 1; k <= n; k++) {
        s = order[k]; m = c[s]
        for (i = 1; i <= m; i++) a[i] = v[s, i]
        for (i = 2; i <= m; i++) { x = a[i]; j = i - 1; while (j > 0 && a[j] > x) { a[j + 1] = a[j]; j-- } a[j + 1] = x }
        printf "%s %.3f (%.3f-%.3f)\n", s, a[int((m + 1) / 2)], a[1], a[m]
      }
    }' <<<"$1"
}

runs=()
for _ in $(seq "$RUNS"); do
  for i in "${!bins[@]}"; do
    line=$(GST_DEBUG_NO_COLOR=1 GST_DEBUG=emotiondetect-stages:4 "${bins[$i]}" "filesrc location=$video ! decodebin ! emotiondetect $props ! fakesink" 2>&1 |
      sed -n 's/.*stage medians (ms): //p' | tail -1)
    [ -n "$line" ] || { echo "bench/stages.sh: ${bins[$i]} logged no stage medians (built before they were added?)" >&2; exit 1; }
    runs[i]+="$line"$'\n'
  done
done

echo "## Stages: $(basename "$video")${props:+ ($props)}"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores"
echo "- command: \`GST_DEBUG=emotiondetect-stages:4 bench-pipeline 'filesrc location=$(basename "$video") ! decodebin ! emotiondetect $props ! fakesink'\`"
echo "- each figure: the median over $RUNS runs of the run's per-frame median, lowest-highest run in brackets${BEFORE:+; runs of $BEFORE and of this tree in turn}; medians do not add up"
echo
if [ -n "${BEFORE:-}" ]; then
  echo "| stage | before, ms per frame | after, ms per frame |"
  echo "|---|---|---|"
else
  echo "| stage | ms per frame |"
  echo "|---|---|"
fi
cols=()
for i in "${!bins[@]}"; do cols+=("$(medians "${runs[$i]}")"); done
paste -d'|' <(echo "${cols[0]}") ${cols[1]:+<(echo "${cols[1]}" | cut -d' ' -f2-)} | while IFS='|' read -r first second; do
  stage=${first%% *}; value=${first#* }
  name=${stage//_/ }
  case $stage in total|outside_inference) name="**$name**" ;; esac
  echo "| $name | $value |${second:+ $second |}"
done
