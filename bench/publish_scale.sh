#!/usr/bin/env bash
# Publishing at scale (docs/surveillance.md, "Scale-out"): how many messages a camera sends in
# each mode, and how many streams one machine analyses while publishing to MQTT or Kafka.
#
#   bench/publish_scale.sh [ROUNDS]     (after ./setup.sh; ROUNDS default 3)
#
# 1. Messages per minute of video, mode=frames vs mode=events, on Megamind.avi and vtest.avi
#    (counted by the brokers' consumers: the Kafka consumer example).
# 2. N copies of Megamind.avi in one process (examples/bench_pipeline.rs: decoding included, as
#    fast as they go), each branch `emotiondetect model-instance-id=scale draw=false
#    post-messages=false ! emotionpublish uri=…` to a local mosquitto or the Kafka broker of
#    scripts/kafka-broker.sh, for N = 1, 4, 8 and inference-interval 1 and 3. The runs are taken
#    in turn (every configuration once per round), and each figure is the median of the rounds,
#    with the lowest and highest, since this shared machine's speed swings within minutes.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
shared=${EMOTIONDETECT_SHARED_DIR:-$root/../shared}
rounds=${1:-3}
videos=$shared/media/videos
[ -f "$videos/Megamind.avi" ] && [ -f "$videos/vtest.avi" ] || { echo "publish_scale.sh: $videos/{Megamind,vtest}.avi missing" >&2; exit 1; }
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || { echo "publish_scale.sh: apt-get install mosquitto" >&2; exit 1; }
cargo build --release --quiet --example bench-pipeline --example kafka-consumer
bp=target/release/examples/bench-pipeline
consumer=target/release/examples/kafka-consumer

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kport=$(free_port); mport=$(free_port)
tmp=$(mktemp -d)
printf 'user root\nlistener %s 127.0.0.1\nallow_anonymous true\n' "$mport" >"$tmp/mosquitto.conf"
/usr/sbin/mosquitto -c "$tmp/mosquitto.conf" >/dev/null 2>&1 &
mpid=$!
scripts/kafka-broker.sh start "$kport" >/dev/null
trap 'scripts/kafka-broker.sh stop "$kport" >/dev/null; kill $mpid 2>/dev/null; rm -rf "$tmp"' EXIT
sleep 0.5

echo "## Messages per minute of video ($(date -u +%F), $(git rev-parse --short HEAD))"
echo
echo "| video | length | frames: messages | per minute | events: messages | per minute | fewer |"
echo "|---|---|---|---|---|---|---|"
for v in Megamind vtest; do
  file=$videos/$v.avi
  seconds=$(gst-discoverer-1.0 "$file" | awk '/Duration/ { split($2, t, ":"); print t[1]*3600 + t[2]*60 + t[3] }')
  declare -A n=()
  for mode in frames events; do
    topic=$v-$mode
    "$bp" "filesrc location=$file ! decodebin ! videoconvert ! emotiondetect draw=false post-messages=false ! \
      emotionpublish mode=$mode source-id=$v uri=kafka://127.0.0.1:$kport/$topic ! fakesink" >/dev/null
    n[$mode]=$("$consumer" "kafka://127.0.0.1:$kport/$topic" --idle 3 --json 2>/dev/null | tail -1 |
      python3 -c "import json,sys; print(json.load(sys.stdin)['$v']['messages'])")
  done
  awk -v v="$v" -v s="$seconds" -v f="${n[frames]}" -v e="${n[events]}" 'BEGIN {
    printf "| %s.avi | %.1f s | %d | %.0f | %d | %.0f | %.0fx |\n", v, s, f, f * 60 / s, e, e * 60 / s, f / e }'
done

echo
echo "## Streams analysed while publishing (medians of $rounds rounds taken in turn, min-max)"
echo
declare -A fps=()
for r in $(seq "$rounds"); do
  for interval in 1 3; do
    for n in 1 4 8; do
      for sink in mqtt kafka; do
        desc=""
        for i in $(seq "$n"); do
          if [ "$sink" = mqtt ]; then uri=mqtt://127.0.0.1:$mport/cams/c$i; else uri=kafka://127.0.0.1:$kport/cams; fi
          desc+=" filesrc location=$videos/Megamind.avi ! decodebin ! videoconvert ! emotiondetect model-instance-id=scale \
            inference-interval=$interval draw=false post-messages=false ! emotionpublish source-id=c$i uri=$uri ! fakesink"
        done
        f=$("$bp" "$desc" | grep -oE 'fps=[0-9.]+' | head -1 | cut -d= -f2)
        fps[$sink,$interval,$n]+="$f "
        echo "round $r: $sink inference-interval=$interval $n streams: $f fps" >&2
      done
    done
  done
done
stat() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.1f (%.1f-%.1f)", m, a[1], a[NR] }'; }
echo "| publishing to | inference-interval | 1 stream | 4 streams (aggregate) | 8 streams (aggregate) |"
echo "|---|---|---|---|---|"
for sink in mqtt kafka; do
  for interval in 1 3; do
    echo "| $sink | $interval | $(stat <<<"${fps[$sink,$interval,1]}") fps | $(stat <<<"${fps[$sink,$interval,4]}") fps | $(stat <<<"${fps[$sink,$interval,8]}") fps |"
  done
done
