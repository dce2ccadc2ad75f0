#!/usr/bin/env bash
# Emotion detection on an RTSP stream (an IP camera, or pipelines/rtsp-serve.sh), shown in a window.
#
#   pipelines/rtsp-in.sh rtsp://HOST:PORT/PATH [PROP=VALUE ...]
#   SINK=fakesink MESSAGES=1 pipelines/rtsp-in.sh rtsp://127.0.0.1:8554/emotions   (headless, print results)
#
# rtspsrc (200 ms jitter buffer, never more: drop-on-latency; tcp-timeout 5 s) ! decodebin
# (depayloads and decodes H.264/H.265/MJPEG/...) ! queue leaky=downstream max-size-buffers=1
# (while the element is busy, only the newest decoded frame waits; older ones are dropped) !
# videoconvert (passthrough for I420/NV12) ! emotiondetect ! videoconvert ! sink (a window,
# drawing each frame as soon as it is analysed: sync=false).
#
# A camera that goes away comes back: when gst-launch-1.0 ends (an error, the stream's end, or
# no frame for STALL seconds) it is started again after 1 s, then 2, 4, ... up to 30 s; a run
# that delivered frames for 10 s or more resets the delay to 1 s. Each run is a new pipeline,
# so the element's tracks (face ids, smoothing) start again after the gap. When frames come
# back, stderr says how long the camera was away and about how many frames were lost (the gap
# times the frame rate: 1 s over the frames' duration, which the decoder takes from the caps).
# Ctrl-C or SIGTERM stops it (the pipeline gets EOS, as gst-launch-1.0 -e does, so a recording
# is closed properly), never restarts it. After Ctrl-C the exit status is 0 once the EOS has
# gone through: errors while the pipeline stops after it (rtspsrc failing to PAUSE or TEARDOWN
# a camera that has closed the connection, for which gst-launch-1.0 exits 1) are shown, not
# counted. A pipeline that cannot start at all (a bad PROP=VALUE, a missing model) is not
# retried. Why a frame watchdog: a server that stops answering without closing the connection
# is noticed by rtspsrc only by its RTCP timeout, about 25 s later, whatever its timeout
# settings (tcp-timeout=5 s bounds a connection attempt).
#
# Environment:
#   LATENCY=200         rtspsrc jitter buffer in ms (network jitter it absorbs; added to the delay)
#   PROTOCOLS=tcp       RTP over the RTSP TCP connection (through NAT/firewalls); default: rtspsrc's
#                       choice (UDP first)
#   LEAKY=0             no leaky queue: every frame is analysed, and when the element is slower
#                       than the camera the delay grows without bound (frames pile up in rtspsrc)
#   SINK="..."          the sink (with properties), default "autovideosink sync=false"; for
#                       recording, e.g. SINK="x264enc tune=zerolatency ! h264parse ! matroskamux ! filesink location=out.mkv"
#                       (each reconnection starts the file again: record with RECONNECT=0)
#   MESSAGES=1          print each frame's emotiondetect message (gst-launch-1.0 -m)
#   JSONL=PATH          also write one JSON line per frame (emotionpublish) to PATH, kept across
#                       reconnections; JSONL=- writes them to stdout, which then carries only the
#                       JSON lines (errors still go to stderr). MESSAGES=1 is refused with JSONL
#                       (both would share gst-launch-1.0's stdout).
#   STALL=5             seconds without a frame after which the camera counts as gone (20 s are
#                       allowed for the first frame of each connection)
#   RECONNECT=0         run gst-launch-1.0 once, as before: the first error ends the script
set -euo pipefail
if [ $# -lt 1 ] || [[ "$1" != rtsp*://* ]]; then
  echo "usage: $0 rtsp://HOST:PORT/PATH [PROP=VALUE ...]" >&2; exit 2
fi
url=$1; shift
sink=${SINK:-autovideosink sync=false}
messages=${MESSAGES:-0}
jsonl=${JSONL:-}
stall=${STALL:-5}
reconnect=${RECONNECT:-1}
[[ "$stall" =~ ^[1-9][0-9]*$ ]] || { echo "rtsp-in.sh: STALL=$stall: a whole number of seconds, 1 or more" >&2; exit 2; }
if [ "$messages" = 1 ] && [ -n "$jsonl" ]; then
  echo "rtsp-in.sh: MESSAGES=1 and JSONL both go to gst-launch-1.0's stdout: use one of them" >&2; exit 2
fi
# The camera as shown: no user:password, no query (it may hold a token).
shown=$url
[[ "$shown" =~ ^([a-z]+://)([^/]*@)(.*)$ ]] && shown="${BASH_REMATCH[1]}***@${BASH_REMATCH[3]}"
[[ "$shown" == *[?#]* ]] && shown="${shown%%[?#]*}?***"
if [ -n "$jsonl" ] && [ "$jsonl" != - ]; then
  # Opened once by this script: emotionpublish would truncate the file at each reconnection.
  exec 4>"$jsonl" || { echo "rtsp-in.sh: JSONL=$jsonl: cannot create it" >&2; exit 1; }
fi

protocols=(); [ -n "${PROTOCOLS:-}" ] && protocols=(protocols="$PROTOCOLS")
queue=(queue leaky=downstream max-size-buffers=1 max-size-bytes=0 max-size-time=0 !)
[ "${LEAKY:-1}" = 0 ] && queue=()
# Frames are seen in the messages (MESSAGES=1) or in emotionpublish's JSON lines on stdout,
# which this script reads. (Not -v's caps for the frame rate: gst-launch-1.0 prints them from
# its bus, seconds late or not at all when the CPU is busy.)
flags=(-e); publish=(emotionpublish location=- !)
# gst-launch-1.0's own lines untranslated: "EOS received" is read from them.
gst_env=(env LANGUAGE= LC_ALL=C.UTF-8)
[ "$messages" = 1 ] && flags+=(-m) && publish=()
# $sink unquoted on purpose: SINK may carry properties, e.g. SINK="xvimagesink sync=false"
# shellcheck disable=SC2206
pipeline=(rtspsrc location="$url" latency="${LATENCY:-200}" drop-on-latency=true tcp-timeout=5000000 "${protocols[@]}" !
  decodebin ! "${queue[@]}" videoconvert ! emotiondetect "$@" ! "${publish[@]}" videoconvert ! $sink)

# No command substitution in this script: a subshell has the default SIGINT action, so a Ctrl-C
# landing in one would end it with status 130 and set -e would end the script with it.
# now_us sets $now (µs); seconds and fps_text set $text.
now_us() { local t=${EPOCHREALTIME/[.,]/}; now=$((10#$t)); }
# gst-launch-1.0's stderr and this script's messages, in order, with the URL masked. The
# reader ignores SIGINT: a Ctrl-C reaches the whole process group, and what gst-launch-1.0
# prints while draining after it (an error during the EOS) must still be shown.
exec 5> >(trap '' INT; while IFS= read -r l; do printf '%s\n' "${l//"$url"/"$shown"}"; done >&2)
errors=$!
say() { echo "rtsp-in.sh: camera $shown: $*" >&5; }
finish() { exec 5>&-; wait "$errors" 2>/dev/null || true; exit "$1"; }
# tenths of a second of $1 µs, as "6.2"
seconds() { local d=$((($1 + 50000) / 100000)); text="$((d / 10)).$((d % 10))"; }

setsid=(); command -v setsid >/dev/null && setsid=(setsid)
stop=0 stop_at=0 child=
on_signal() {
  now_us; stop=$1 stop_at=$now
  if [ -n "$child" ]; then kill -INT "$child" 2>/dev/null || true; fi
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

# The frame rate (num/den) from a frame's duration, which the decoder sets from the caps'
# framerate; frames seen; kept across runs.
fps_num=0 fps_den=1 away_since=0
ran_frames=0 first_frame=0 last_frame=0 started=0 stalled=0 saw_output=0 eos_done=0

fps_text() { local c=$(((fps_num * 100 + fps_den / 2) / fps_den)); printf -v text '%d.%02d fps' $((c / 100)) $((c % 100)); }

on_frame() {
  local t=$1
  # each run's first frame: its duration (ns), in the JSON line or in the message
  if [ "$ran_frames" -eq 0 ] && [[ $2 =~ \"duration\":([1-9][0-9]*)|duration=\(guint64\)([1-9][0-9]*) ]]; then
    fps_num=1000000000 fps_den=$((10#${BASH_REMATCH[1]}${BASH_REMATCH[2]}))
  fi
  if [ "$away_since" -gt 0 ]; then
    local gap=$((t - away_since))
    if [ "$fps_num" -gt 0 ]; then
      local away lost=$(((gap * fps_num / fps_den + 500000) / 1000000))
      seconds "$gap"; away=$text; fps_text
      say "came back after $away s away: about $lost frames lost ($text)"
    else
      seconds "$gap"
      say "came back after $text s away (frames without a duration: frames lost not counted)"
    fi
    away_since=0
  fi
  [ "$ran_frames" -eq 0 ] && first_frame=$t
  ran_frames=$((ran_frames + 1)) last_frame=$t
}

on_line() {
  local line=$1
  saw_output=1
  case $line in
    '{'*)
      now_us; on_frame "$now" "$line"
      if [ "$jsonl" = - ]; then printf '%s\n' "$line"; elif [ -n "$jsonl" ]; then printf '%s\n' "$line" >&4; fi ;;
    *'(element): emotiondetect, '*)
      now_us; on_frame "$now" "$line"; printf '%s\n' "${line//"$url"/"$shown"}" ;;
    'EOS received - stopping pipeline'*)
      eos_done=1 ;& # and shown as any other line
    *) [ "$jsonl" = - ] || printf '%s\n' "${line//"$url"/"$shown"}" ;;
  esac
}

# Ends the run that has gone quiet, and one that does not stop within 5 s of Ctrl-C/SIGTERM.
watchdog() {
  local t quiet limit
  now_us; t=$now
  if [ "$stop" -ne 0 ]; then
    if [ $((t - stop_at)) -gt 5000000 ]; then kill -TERM "$child" 2>/dev/null || true; fi
    return 0
  fi
  [ "$reconnect" = 1 ] && [ "$stalled" = 0 ] || return 0
  if [ "$ran_frames" -gt 0 ]; then quiet=$((t - last_frame)) limit=$stall; else quiet=$((t - started)) limit=20; fi
  if [ "$quiet" -gt $((limit * 1000000)) ]; then
    stalled=1
    say "no frame for $limit s: reconnecting"
    kill -TERM "$child" 2>/dev/null || true
  fi
}

# One gst-launch-1.0 run; its stdout is read here, its stderr goes through fd 5. Sets rc.
run_once() {
  now_us; ran_frames=0 stalled=0 saw_output=0 eos_done=0 started=$now
  # setsid: Ctrl-C reaches gst-launch-1.0 once, from on_signal (a second SIGINT would kill it
  # before its EOS has closed a recording)
  exec 3< <(exec "${setsid[@]}" "${gst_env[@]}" gst-launch-1.0 "${flags[@]}" "${pipeline[@]}" 4>&- 2>&5 5>&-)
  child=$!
  local line partial=""
  while :; do
    if IFS= read -r -t 1 line <&3; then
      on_line "$partial$line"; partial=""
    elif [ $? -gt 128 ]; then
      partial+=$line # a timeout (or a signal) keeps what it had read of the line
    else
      [ -z "$partial$line" ] || on_line "$partial$line"
      break
    fi
    watchdog
  done
  exec 3<&-
  rc=0; wait "$child" || rc=$?
  # A trap (Ctrl-C) interrupts wait with 130: wait again for gst-launch-1.0's own status.
  while [ "$rc" -gt 128 ] && kill -0 "$child" 2>/dev/null; do rc=0; wait "$child" || rc=$?; done
  child=
}

# Ends the script after Ctrl-C/SIGTERM: with gst-launch-1.0's status, or 0 after Ctrl-C when the
# EOS went through and only stopping the pipeline failed.
stopped() {
  [ "$stop" = 130 ] || finish "$stop"
  if [ "$rc" != 0 ] && [ "$eos_done" = 1 ]; then
    say "stopped: the EOS went through; errors while the pipeline stopped after it (gst-launch-1.0 exit status $rc, above)"
    rc=0
  fi
  finish "$rc"
}

delay=1
while :; do
  run_once
  [ "$stop" -ne 0 ] && stopped
  [ "$reconnect" = 1 ] || finish "$rc"
  # Nothing on stdout: gst-launch-1.0 refused the description; 255: an element did not start.
  if [ "$saw_output" = 0 ] || [ "$rc" = 255 ]; then
    say "the pipeline cannot start (exit status $rc, see above): not retried"; finish "$rc"
  fi
  if [ "$ran_frames" -gt 0 ]; then
    away_since=$last_frame
    [ $((last_frame - first_frame)) -ge 10000000 ] && delay=1
  fi
  [ "$stalled" = 1 ] || say "gst-launch-1.0 ended (exit status $rc)"
  say "reconnecting in $delay s"
  sleep "$delay" & child=$!
  wait "$child" || true
  kill "$child" 2>/dev/null || true
  wait "$child" 2>/dev/null || true
  child=
  [ "$stop" -ne 0 ] && finish "$stop"
  delay=$((delay * 2 > 30 ? 30 : delay * 2))
done
