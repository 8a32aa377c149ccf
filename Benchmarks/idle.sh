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
out=$(realpath -m "$out")
cd "$(dirname "$0")/.."
source Benchmarks/lib.sh
bench_require_root idle.sh "network namespace, capture"
mkdir -p bench-out
swift build -c release --product darknetd 2>&1 | tail -n 1
darknetd=$PWD/.build/release/darknetd

ns=dnb-idle-$$
tmp=$bench_tmp
bench_namespace "$ns"
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
bench_track "$daemon"
bench_wait_for_socket "$tmp/darknetd.sock" "$tmp/daemon.err"
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

{
    echo
    echo "## $(date -u +%Y-%m-%dT%H:%M:%SZ) — idle: darknetd run on an idle interface for $seconds s"
    echo
    bench_host_line
    awk -v t=$((t1 - t0)) -v hz="$hz" -v s="$seconds" -v w=$((s1 - s0)) -v st="$status" \
        'BEGIN { printf "- CPU %.2f %% of one core (%d ticks of 1/%d s in %d s); %.0f context switches a second; exit status %d on SIGTERM\n", 100 * t / hz / s, t, hz, s, w / s, st }'
} | tee -a "$out"
