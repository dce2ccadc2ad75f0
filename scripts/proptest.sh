#!/usr/bin/env bash
# The property-test tier (tests/properties.rs, tools/tests/properties.rs) with N cases in all
# instead of the 100,000 of a normal `cargo test --release`:
#
#   scripts/proptest.sh 2000000        about 20 times the normal run (minutes per 100,000 on 2 cores)
#
# PROPTEST_CASES is the total; each property takes its fixed share of it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
n=${1:-1000000}
[[ "$n" =~ ^[0-9]+$ ]] || { echo "usage: scripts/proptest.sh [TOTAL_CASES]" >&2; exit 2; }
export PROPTEST_CASES=$n
start=$(date +%s)
cargo test --release --test properties
cargo test --release -p emotiondetect-tools --test properties
echo "proptest tier: $n cases in $(( $(date +%s) - start )) s"
