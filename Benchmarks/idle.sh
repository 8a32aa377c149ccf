#!/usr/bin/env bash
# What an idle daemon costs (docs/benchmarks.md): `darknetd run` captures the
# loopback interface of a network namespace this script creates, where nothing
# is sent, and the script reads the daemon's CPU time (all threads, from
# /proc/PID/stat) and wake-ups (context switches of all threads) over a
# measuring period after a warm-up. Needs root and iproute2.
#
#   Benchmarks/idle.sh [--seconds S] [--out FILE]
#
# Output: one dated block appended to bench-out/results.md (or FILE).
set -euo pipefail

seconds=30 out=bench-out/results.md
while (($#)); do
    case $1 in
        --seconds) seconds=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done
((EUID == 0)) || { echo "idle.sh needs root (network namespace, capture)" >&2; exit 1; }
out=$(realpath -m "$out")
cd "$(dirname "$0")/.."
mkdir -p bench-out
swift build -c release --product darknetd 2>&1 | tail -n 1
darknetd=$PWD/.build/release/darknetd

ns=dnk-idle-$$
tmp=$(mktemp -d)
daemon=""
cleanup() {
    [[ -n $daemon ]] && kill "$daemon" 2> /dev/null || true
    ip netns del "$ns" 2> /dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
cat > "$tmp/darknetd.yaml" << EOF
capture:
  interfaces: ["lo"]
darknet:
  prefixes: ["198.18.0.0/16"]
stats:
  socket: $tmp/darknetd.sock
state:
  directory: $tmp/state
EOF
ip netns exec "$ns" "$darknetd" run --config "$tmp/darknetd.yaml" --foreground 2> "$tmp/daemon.err" &
daemon=$!
for _ in $(seq 300); do [[ -S $tmp/darknetd.sock ]] && break; sleep 0.1; done
[[ -S $tmp/darknetd.sock ]] || { echo "darknetd did not start:" >&2; cat "$tmp/daemon.err" >&2; exit 1; }
sleep 2  # warm-up: the consumer's back-off reaches its longest sleep after ~0.1 s

# CPU ticks (user + system) of the whole process; context switches summed over its threads.
ticks() { awk '{ print $14 + $15 }' "/proc/$daemon/stat"; }
switches() { cat /proc/"$daemon"/task/*/status | awk '/ctxt_switches/ { n += $2 } END { print n }'; }
hz=$(getconf CLK_TCK)
t0=$(ticks) s0=$(switches)
sleep "$seconds"
t1=$(ticks) s1=$(switches)
kill -TERM "$daemon"
status=0
wait "$daemon" || status=$?
daemon=""

{
    echo
    echo "## $(date -u +%Y-%m-%dT%H:%M:%SZ) — idle: darknetd run on an idle interface for $seconds s"
    echo
    echo "- host: $(uname -srm), $(nproc) CPUs; commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
    awk -v t=$((t1 - t0)) -v hz="$hz" -v s="$seconds" -v w=$((s1 - s0)) -v st="$status" \
        'BEGIN { printf "- CPU %.2f %% of one core (%d ticks of 1/%d s in %d s); %.0f context switches a second; exit status %d on SIGTERM\n", 100 * t / hz / s, t, hz, s, w / s, st }'
} | tee -a "$out"
