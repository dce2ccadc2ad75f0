#!/usr/bin/env bash
# Many cameras on one machine, publishing to one MQTT broker or Kafka cluster: the "many
# cameras, many machines" deployment (docs/surveillance.md, "Scale-out"). One process, one branch
# per camera, all sharing one loaded detector and classifier (model-instance-id) and their
# classifier batches; no drawing, no bus messages, only the messages: over MQTT on topic
# PREFIX/HOST/CAMERA, over Kafka on TOPIC keyed by CAMERA; source_id CAMERA.
#
#   pipelines/cameras.sh mqtt://BROKER[:PORT]/PREFIX NAME=URI [NAME=URI ...] [-- PROP=VALUE ...]
#   pipelines/cameras.sh kafka://BROKER[:PORT][,BROKER...]/TOPIC NAME=URI [NAME=URI ...] [-- PROP=VALUE ...]
#
#   pipelines/cameras.sh mqtt://10.0.0.5/cameras door=rtsp://10.0.0.21/stream1 hall=rtsp://10.0.0.22/stream1
#   MODE=events pipelines/cameras.sh kafka://10.0.0.5,10.0.0.6/emotions a=file:///data/a.mp4 -- inference-interval=3
#
# URI: rtsp://, http(s)://, file:// (a live camera or a file; see uridecodebin). Live inputs get a
# leaky queue (max 1 frame): when the element is busy, older frames are dropped, never the
# stream's latency grown. PROP=VALUE after `--` apply to every camera (inference-interval=3 is
# the usual surveillance setting). Environment: HOST (default: hostname) names this machine in
# MQTT topics; MODE (emotionpublish mode: frames, the default, or events), QOS (MQTT, default 1)
# and QUEUE (queue-size, default 150) set the publishing. Watch with: mosquitto_sub -h BROKER -t
# 'PREFIX/#' -v, emotiondetect-mqtt-consumer, or emotiondetect-kafka-consumer.
# Exit status: 0 when every message was delivered, 3 when some were not (the element's warnings,
# on stderr, say how many and why), gst-launch-1.0's status when the pipeline failed.
set -euo pipefail
if [ $# -lt 2 ] || [[ "$1" != mqtt*://*/* && "$1" != kafka://*/* ]]; then
  sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2
fi
broker=$1; shift
host=${HOST:-$(hostname -s)}
cams=(); props=()
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; props=("$@"); break ;;
    *=*://*) cams+=("$1") ;;
    *) echo "cameras.sh: '$1' is not NAME=URI" >&2; exit 2 ;;
  esac
  shift
done
[ "${#cams[@]}" -gt 0 ] || { echo "cameras.sh: no camera given" >&2; exit 2; }
branches=()
for c in "${cams[@]}"; do
  name=${c%%=*}; uri=${c#*=}
  [[ "$name" =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "cameras.sh: camera name '$name': use letters, digits, _ . -" >&2; exit 2; }
  branches+=(uridecodebin "uri=$uri" !)
  [[ "$uri" == file://* ]] || branches+=(queue leaky=downstream max-size-buffers=1 max-size-bytes=0 max-size-time=0 !)
  target=$broker/$host/$name
  [[ "$broker" == kafka://* ]] && target=$broker
  branches+=(videoconvert ! emotiondetect model-instance-id=cameras \
    draw=false post-messages=false "${props[@]}" ! \
    emotionpublish "source-id=$name" "uri=$target" "mode=${MODE:-frames}" "qos=${QOS:-1}" "queue-size=${QUEUE:-150}" ! \
    fakesink sync=false)
done
# The broker as shown: without user:password.
shown=$broker
[[ "$shown" =~ ^([a-z]+://)([^/]*@)(.*)$ ]] && shown="${BASH_REMATCH[1]}***@${BASH_REMATCH[3]}"
# Kafka: the query may hold sasl.password; it is not shown.
[[ "$shown" == *\?* ]] && shown="${shown%%\?*}?..."
if [[ "$broker" == kafka://* ]]; then
  echo "cameras.sh: ${#cams[@]} camera(s) on $host publishing to $shown, keyed by NAME" >&2
else
  echo "cameras.sh: ${#cams[@]} camera(s) on $host publishing to $shown/$host/NAME" >&2
fi
# -e: EOS on Ctrl-C, so the queues are flushed. gst-launch-1.0 prints the elements' warnings
# (an unreachable broker, messages not delivered) and errors on stdout among its progress lines:
# they are shown on stderr without the progress, and kept to tell at the end whether every
# message was delivered. Untranslated (LC_ALL), so that the patterns below match.
log=$(mktemp); trap 'rm -f "$log"' EXIT
trap ':' INT # Ctrl-C reaches gst-launch-1.0 too (same process group): it ends with EOS, then the summary
progress='^(Setting pipeline|Pipeline is|Redistribute latency|New clock|Got EOS|Execution ended|Freeing pipeline|Got context|Progress|handling interrupt|Interrupt:|EOS on shutdown|Waiting for EOS)'
set +e
# tee and grep ignore Ctrl-C: they must still carry what gst-launch-1.0 prints while the EOS
# drains the queues (the "messages not delivered" warnings).
LANGUAGE='' LC_ALL=C.UTF-8 gst-launch-1.0 -e "${branches[@]}" 2>&1 |
  (trap '' INT; exec tee "$log") | (trap '' INT; exec grep --line-buffered -vE "$progress") >&2
rc=${PIPESTATUS[0]}
set -e
lost=$(grep -oE '[0-9]+ messages not delivered' "$log" | awk '{ n += $1 } END { print n + 0 }' || true)
# "EOS received": Ctrl-C's EOS went all the way through. An rtsp:// camera that closes its
# connection just then makes rtspsrc fail to PAUSE/TEARDOWN while the pipeline stops, and
# gst-launch-1.0 exits 1 though every queue was flushed.
if [ "$rc" -ne 0 ] && grep -q '^EOS received' "$log"; then
  echo "cameras.sh: stopped: the EOS went through; errors while the pipeline stopped after it (gst-launch-1.0 exit status $rc, above)" >&2
  rc=0
fi
if [ "$rc" -ne 0 ]; then
  echo "cameras.sh: gst-launch-1.0 failed (exit status $rc, see above)" >&2; exit "$rc"
fi
if [ "$lost" -gt 0 ]; then
  echo "cameras.sh: $lost messages not delivered to $shown (see the warnings above)" >&2; exit 3
fi
echo "cameras.sh: every message delivered to $shown" >&2
