#!/usr/bin/env bash
# The static binary in an empty root filesystem, as the `FROM scratch` image runs it:
# no /etc, no CA files, no libc, no shell, no /proc. Checks that it starts (--version),
# reports a bad input with exit 2, runs the post step through its link, and runs a whole
# pipeline against the simulator over loopback.
#
#   scripts/scratch-test.sh              builds the static release binary, tests it, prints its size
#   scripts/scratch-test.sh --built DIR  tests DIR/pipeline-run, already built static, with the
#                                        simulator DIR/pipeline-run-sim (what .ci/run does with
#                                        the static build its tests just ran)
#
# Needs root (chroot), passwordless sudo, or user namespaces (unshare -r).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--built" ] && [ -n "${2:-}" ]; then
  bin="$2/pipeline-run"
  sim_bin="$2/pipeline-run-sim"
  release=""
  for b in "$bin" "$sim_bin"; do
    [ -x "$b" ] || { echo "scratch-test: no binary at $b" >&2; exit 1; }
  done
elif [ $# -eq 0 ]; then
  host=$(rustc -vV | sed -n 's/^host: //p')
  echo "== static release build for $host"
  # glibc static here (the image uses musl; both give a binary that needs nothing at run time).
  RUSTFLAGS='-C target-feature=+crt-static' \
    cargo build --release --locked --target "$host" --bin pipeline-run
  bin="target/$host/release/pipeline-run"
  # The simulator runs outside the empty root; a debug build is enough.
  cargo build --locked --bin pipeline-run-sim
  sim_bin="target/debug/pipeline-run-sim"
  release=yes
else
  echo "usage: scripts/scratch-test.sh [--built DIR]" >&2
  exit 2
fi

root=$(mktemp -d)
sim_pid=""
cleanup() {
  if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null || true; fi
  rm -rf "$root"
}
trap cleanup EXIT

cp "$bin" "$root/pipeline-run"
ln -s pipeline-run "$root/pipeline-run-post"
mkdir "$root/out"

# `env -i`: the binary sees only the variables given, as in the container.
chroot_bin=$(command -v chroot || echo /usr/sbin/chroot)
if [ "$(id -u)" -eq 0 ]; then
  in_root() { env -i "$@" "$chroot_bin" "$root" "${cmd[@]}"; }
elif sudo -n true 2>/dev/null; then
  in_root() { sudo -n env -i "$@" "$chroot_bin" "$root" "${cmd[@]}"; }
elif unshare -r true 2>/dev/null; then
  unshare_bin=$(command -v unshare)
  in_root() { env -i "$@" "$unshare_bin" -r "$chroot_bin" "$root" "${cmd[@]}"; }
else
  echo "scratch-test: needs root (chroot), passwordless sudo, or user namespaces (unshare -r)" >&2
  exit 1
fi

fail() { echo "scratch-test: FAILED: $*" >&2; exit 1; }
echo "== the empty root holds only:"
(cd "$root" && find . -mindepth 1 | sort)

echo "== --version"
cmd=(/pipeline-run --version)
version=$(in_root) || fail "--version exited $?"
[ "$version" = "pipeline-run $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)" ] \
  || fail "unexpected version line: $version"
echo "$version"

echo "== a bad input gives exit 2 and says which input"
cmd=(/pipeline-run)
set +e
stderr=$(in_root GITHUB_ACTIONS=true INPUT_TIMEOUT=banana INPUT_PIPELINE=x 2>&1 >/dev/null)
code=$?
set -e
[ "$code" -eq 2 ] || fail "exit $code, expected 2: $stderr"
grep -q "input 'timeout'" <<<"$stderr" || fail "no message about 'timeout': $stderr"
echo "exit 2: $(grep -m1 "input 'timeout'" <<<"$stderr")"

echo "== the post step through its link, with arguments it must ignore"
cmd=(/pipeline-run-post run)
out=$(in_root GITHUB_ACTIONS=true 2>&1) || fail "post exited $?: $out"
[ -z "$out" ] || fail "post printed: $out"
echo "exit 0, nothing to do"

echo "== a whole run against the simulator over loopback"
"$sim_bin" serve --port 0 >"$root/sim.log" 2>&1 &
sim_pid=$!
for _ in $(seq 100); do
  grep -q MATILLION_API_URL "$root/sim.log" && break
  sleep 0.1
done
api=$(sed -n 's/^ *MATILLION_API_URL=//p' "$root/sim.log")
token=$(sed -n 's/^ *MATILLION_TOKEN_URL=//p' "$root/sim.log")
id=$(sed -n 's/^ *MATILLION_CLIENT_ID=//p' "$root/sim.log")
secret=$(sed -n 's/^ *MATILLION_CLIENT_SECRET=//p' "$root/sim.log")
project=$(sed -n 's/^ *MATILLION_PROJECT=\([^ ]*\).*/\1/p' "$root/sim.log")
[ -n "$api" ] || fail "the simulator did not start: $(cat "$root/sim.log")"
cmd=(/pipeline-run)
set +e
in_root GITHUB_ACTIONS=true GITHUB_OUTPUT=/out/output GITHUB_STEP_SUMMARY=/out/summary.md \
  GITHUB_STATE=/out/state "INPUT_API-URL=$api" "INPUT_TOKEN-URL=$token" \
  "INPUT_CLIENT-ID=$id" "INPUT_CLIENT-SECRET=$secret" "INPUT_PROJECT=$project" \
  INPUT_ENVIRONMENT=dev INPUT_PIPELINE=nightly-load INPUT_POLL-INTERVAL=200ms \
  INPUT_MAX-POLL-INTERVAL=500ms INPUT_TIMEOUT=60s >"$root/run.log" 2>&1
code=$?
set -e
[ "$code" -eq 0 ] || fail "run exited $code: $(cat "$root/run.log")"
grep -q "^outcome<<" "$root/out/output" || fail "no outputs written"
grep -q "succeeded" "$root/out/output" || fail "outcome is not succeeded"
grep -q "SUCCESS" "$root/out/summary.md" || fail "no summary written"
echo "exit 0; outputs, summary and state written: $(wc -c <"$root/out/summary.md") bytes of summary"

if [ -n "$release" ]; then
  size=$(stat -c %s "$bin")
  gz=$(gzip -9c "$bin" | wc -c)
  echo "== static release binary: $size bytes ($((size / 1024)) KiB), gzip -9: $gz bytes ($((gz / 1024)) KiB)"
fi
