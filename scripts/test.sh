#!/usr/bin/env bash
# Run the test suite (README "command 2"): cargo test --profile testing (release code without
# cross-crate LTO: see Cargo.toml), one test at a time, every test binary even after a failure
# (--no-fail-fast), so that one run shows every failing test.
#
#   scripts/test.sh [CARGO TEST ARGS...]      e.g. scripts/test.sh --test element
#   scripts/test.sh --python                   the Python package's tests only (pytest)
#
# With no arguments: every Rust test, then the Python package's tests (python/tests).
#
# Needs ./setup.sh once (ONNX Runtime, models, .venv with the OpenCV reference the tests compare
# against). Tests run with --test-threads=1: each GStreamer pipeline / ONNX session already uses
# the machine's cores, and parallel tests on a 2-core machine only thrash.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
if [ ! -x .venv/bin/python ]; then
  echo "scripts/test.sh: .venv not found: run ./setup.sh first (or ./setup.sh --no-run)" >&2
  exit 1
fi
if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
  PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null || { echo "scripts/test.sh: cargo not found (see ./setup.sh)" >&2; exit 1; }

# --- test-only apt packages, installed on first use (command 1, ./setup.sh, does not need them):
# the MQTT broker the publishing tests start on 127.0.0.1 (tests/mqtt.rs), Debian's
# PyGObject, GStreamer bindings, pytest and pandas (to_dataframe) for the Python package's tests (python/tests),
# the headless browser of the web app's tests (web/tests/browser.rs: chromium, chromedriver), and
# the X server the webcam line runs in (tests/webcam.rs: xvfb).
test_apt=(mosquitto mosquitto-clients openssl python3-gi python3-gst-1.0 gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 python3-pytest python3-numpy python3-pandas chromium chromium-driver xvfb)
missing_apt=()
for p in "${test_apt[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing_apt+=("$p"); done
if [ "${#missing_apt[@]}" -gt 0 ]; then
  echo "scripts/test.sh: installing test packages: ${missing_apt[*]}"
  sudo_=(); [ "$(id -u)" -eq 0 ] || sudo_=(sudo)
  "${sudo_[@]}" apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive "${sudo_[@]}" apt-get install -y -q "${missing_apt[@]}" >/dev/null
fi
# --- end of test-only apt packages

# --- test-only Python package: Confluent's Kafka client, for the Python consumer example that
# tests/kafka.rs runs (examples/python/kafka_consumer.py). The Kafka broker itself is installed by
# scripts/kafka-broker.sh when a test first starts one.
if ! .venv/bin/python -c 'import confluent_kafka' 2>/dev/null; then
  echo "scripts/test.sh: installing confluent-kafka into .venv (the Python Kafka consumer's client)"
  .venv/bin/python -m pip install --disable-pip-version-check -q "confluent-kafka==2.16.2" ||
    { echo "scripts/test.sh: pip install confluent-kafka failed (see above)" >&2; exit 1; }
fi

# --- training venv (.venv-train), created on first use ------------------------------------------
# ./setup.sh no longer installs PyTorch by default (about 5 GB): the training recipe's smoke test
# (tools/tests/training.rs) needs it, so create .venv-train from models/requirements-train.txt
# here, once, when that test will run: the whole suite, the tools package, or --test training.
# TRAIN_VENV=0 skips this (the smoke test then fails saying how to get the venv).
wants_training() {
  local a prev="" selects=0
  [ $# -eq 0 ] && return 0
  for a in "$@"; do
    [ "$a" = "--" ] && break
    case "$prev:$a" in
      --test:training|*:--test=training) return 0 ;;
      --test:*|*:--test=*|*:--lib|*:--bin|*:--bins|*:--doc|--example:*|*:--examples|*:--python) selects=1 ;;
      -p:emotiondetect-tools|--package:emotiondetect-tools|*:--workspace) ;;
      -p:*|--package:*) selects=1 ;;
    esac
    prev=$a
  done
  [ "$selects" = 0 ]
}
if [ "${TRAIN_VENV:-1}" = 1 ] && wants_training "$@"; then
  train_sum=$(sha256sum models/requirements-train.txt | cut -d' ' -f1)
  if [ "$(cat .venv-train/.requirements.sha256 2>/dev/null || true)" != "$train_sum" ] ||
     ! .venv-train/bin/python -c 'import torch, PIL, onnx' 2>/dev/null; then
    echo "scripts/test.sh: creating .venv-train from models/requirements-train.txt for the training smoke test (PyTorch, about 5 GB, once; TRAIN_VENV=0 skips)" >&2
    [ -x .venv-train/bin/python ] || python3 -m venv .venv-train ||
      { echo "scripts/test.sh: python3 -m venv .venv-train failed (apt-get install python3-venv)" >&2; exit 1; }
    .venv-train/bin/python -m pip install --disable-pip-version-check -q -r models/requirements-train.txt ||
      { echo "scripts/test.sh: installing models/requirements-train.txt into .venv-train failed (see above)" >&2; exit 1; }
    echo "$train_sum" > .venv-train/.requirements.sha256
  fi
fi
# --- end of the training venv block ---------------------------------------------------------------

# split our args: those before `--` go to cargo, the rest to the test harness
cargo_args=()
harness_args=()
seen_dashes=0
for a in "$@"; do
  if [ "$seen_dashes" = 0 ] && [ "$a" = "--" ]; then seen_dashes=1; continue; fi
  if [ "$seen_dashes" = 1 ]; then harness_args+=("$a"); else cargo_args+=("$a"); fi
done

log=$(mktemp)
plugin_tmp=$(mktemp -d)
trap 'rm -rf "$log" "$plugin_tmp"' EXIT
python_only=0
if [ "${cargo_args[*]:-}" = "--python" ]; then python_only=1; cargo_args=(); fi
rc=0
set +e
if [ "$python_only" = 0 ]; then
  cargo test --profile testing --no-fail-fast "${cargo_args[@]}" -- --test-threads=1 "${harness_args[@]}" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
fi
# The Python package's tests (python/tests, pytest) with the plugin this tree builds, on a full
# run (no arguments) or with --python alone; the system plugin directory only, so that a copy
# installed by setup.sh in ~/.local/share/gstreamer-1.0/plugins is not the one tested.
if [ "${#cargo_args[@]}" -eq 0 ] && [ "${#harness_args[@]}" -eq 0 ]; then
  cargo build --release --quiet && cp "$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/release/libgstemotiondetect.so" "$plugin_tmp/"
  GST_PLUGIN_PATH="$plugin_tmp" GST_PLUGIN_SYSTEM_PATH_1_0="$(pkg-config --variable=pluginsdir gstreamer-1.0)" \
    GST_REGISTRY="$plugin_tmp/registry.bin" PYTHONPATH="$root/python" \
    /usr/bin/python3 -m pytest -q -p no:cacheprovider python/tests 2>&1 | tee "$plugin_tmp/pytest.log"
  py_rc=${PIPESTATUS[0]}
  [ "$py_rc" = 0 ] || rc=$py_rc
  # pytest's summary as a cargo-style line, for the total below
  summary=$(grep -E '^[0-9]+ (passed|failed)|(passed|failed|error).* in [0-9.]+s' "$plugin_tmp/pytest.log" | tail -n 1)
  n() { echo "$summary" | grep -Eo "[0-9]+ $1" | grep -Eo '[0-9]+' || echo 0; }
  echo "test result: python. $(n passed) passed; $(( $(n failed) + $(n error) )) failed; $(n skipped) ignored" >> "$log"
fi
set -e
# one closing line over all test binaries (unit, integration, examples, doc-tests)
awk '/^test result:/ {
       for (i = 2; i <= NF; i++) {
         if ($i ~ /^passed;?$/) p += $(i - 1)
         if ($i ~ /^failed;?$/) f += $(i - 1)
         if ($i ~ /^ignored;?$/) s += $(i - 1)
       }
     }
     END { printf "total: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$rc"
