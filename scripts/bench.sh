#!/usr/bin/env bash
# Measures the performance budgets (docs/performance.md): builds the release binary, runs
# the polling policies' corpus on simulated time (`polling` bench), then the `budgets`
# benchmark against the bundled simulator, and prints one table with PASS/FAIL per budget.
# Exits non-zero when a budget is missed.
#
#   scripts/bench.sh                      every figure
#   scripts/bench.sh polling tail         only these sections of `budgets` (polling, e2e, steps,
#                                         tail, startup, memory, size, fleet); no corpus
#   scripts/bench.sh --opt-levels         also compare opt-level "s" (shipped), "z" and 3 on
#                                         size, start-up and the 30,000-step run (two extra
#                                         release builds, in target/opt-z and target/opt-3)
#
# Peak memory comes from GNU time (`/usr/bin/time`, Debian package `time`) when it is
# installed; otherwise from sampling /proc/<pid>/status, which can only under-read.
set -euo pipefail
cd "$(dirname "$0")/.."

opt_levels=false
sections=()
for a in "$@"; do
  case "$a" in
    --opt-levels) opt_levels=true ;;
    *) sections+=("$a") ;;
  esac
done

cargo build --release --locked --bins
# `cargo bench` links its own copy of target/release/pipeline-run (with the unwinding the
# bench harness needs): measure a copy of the binary that ships.
mkdir -p target/bench
cp target/release/pipeline-run target/bench/pipeline-run

status=0
if [ ${#sections[@]} -eq 0 ]; then
  cargo bench --locked --bench polling || status=$?
fi
PIPELINE_RUN_BIN=target/bench/pipeline-run cargo bench --locked --bench budgets -- "${sections[@]}" || status=$?

if $opt_levels; then
  for level in z 3; do
    echo
    echo "== opt-level $level"
    CARGO_TARGET_DIR="target/opt-$level" CARGO_PROFILE_RELEASE_OPT_LEVEL="$level" \
      cargo build --release --locked --bin pipeline-run
    PIPELINE_RUN_BIN="target/opt-$level/release/pipeline-run" \
      cargo bench --locked --bench budgets -- size startup steps || true
  done
fi

# Put the shipped binary back in target/release (a relink at most, no rebuild).
cargo build --release --locked --bins
exit "$status"
