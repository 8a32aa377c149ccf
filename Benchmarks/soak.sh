#!/usr/bin/env bash
# Soak test of the daemon (docs/benchmarks.md): in two network namespaces this
# script creates, `darknetd run` captures one end of a veth while tcpreplay
# loops a generated capture into the other at a fixed rate; every interval the
# script records the daemon's resident memory and its own counters (through
# `darknetctl metrics`), then stops it with SIGTERM and checks a clean exit.
# Needs root, iproute2 and tcpreplay. Traffic never leaves the namespaces.
#
#   Benchmarks/soak.sh [--minutes M] [--pps N] [--interval S] [--snapshot-interval D]
#                      [--darknetd BINARY] [--state FILE] [--out FILE]
#
# --snapshot-interval is the daemon's state.snapshot_interval (default 5m);
# --darknetd runs another build of the daemon (an A/B of two commits);
# --state starts the daemon from a saved snapshot (e.g. a full 24-hour window
# written by darknet-stages, see docs/benchmarks.md).
#
# Output: a TSV of samples (bench-out/soak-DATE.tsv) and a dated summary block
# appended to bench-out/results.md.
set -euo pipefail

minutes=60 pps=20000 interval=60 snapshot_interval=5m binary="" state="" out=bench-out/results.md
while (($#)); do
    case $1 in
        --minutes) minutes=$2; shift 2 ;;
        --pps) pps=$2; shift 2 ;;
        --interval) interval=$2; shift 2 ;;
        --snapshot-interval) snapshot_interval=$2; shift 2 ;;
        --darknetd) binary=$(realpath "$2"); shift 2 ;;
        --state) state=$(realpath "$2"); shift 2 ;;
        --out) out=$2; shift 2 ;;
        -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done
out=$(realpath -m "$out")
cd "$(dirname "$0")/.."
source Benchmarks/lib.sh
bench_require_root soak.sh "network namespaces, capture"
bench_require_tcpreplay
mkdir -p bench-out
swift build -c release 2>&1 | tail -n 1
darknetd=${binary:-$PWD/.build/release/darknetd}
darknetctl=$PWD/.build/release/darknetctl
capture=$PWD/bench-out/soak-200000.pcap
[[ -f $capture ]] || "$darknetd" generate --out "$capture" --packets 200000 --seed 3 > /dev/null

bench_veth "$$"
S=$bench_S R=$bench_R VS=$bench_VS VR=$bench_VR
tmp=$bench_tmp

socket=$tmp/run/darknetd.sock
cat > "$tmp/darknetd.yaml" << EOF2
capture:
  interfaces: ["$VR"]
darknet:
  prefixes: ["198.18.0.0/16"]
aggregation:
  bucket: 60s
alerts:
  json_file: $tmp/alerts.jsonl
stats:
  socket: $socket
state:
  directory: $tmp/state
  snapshot_interval: $snapshot_interval
EOF2
if [[ -n $state ]]; then
    mkdir -p "$tmp/state"
    cp "$state" "$tmp/state/darknetd.state"
fi
ip netns exec "$R" "$darknetd" run --config "$tmp/darknetd.yaml" --foreground 2> "$tmp/daemon.err" &
daemon=$!
bench_track "$daemon"
bench_wait_for_socket "$socket" "$tmp/daemon.err"
ip netns exec "$S" tcpreplay -q --pps="$pps" --loop=0 -i "$VS" "$capture" > "$tmp/replay.out" 2>&1 &
replay=$!
bench_track "$replay"

samples=bench-out/soak-$(date -u +%Y%m%dT%H%M%SZ).tsv
# metric NAME: the value of NAME, summed over its labelled samples (one per interface).
metric() { awk -v name="$1" '{ n = $1; sub(/\{.*/, "", n) } n == name { sum += $NF; seen = 1 } END { printf "%.0f\n", (seen ? sum : 0) }' "$tmp/metrics"; }
echo -e "elapsed_s\trss_kib\tpackets\tring_dropped\tkernel_received\tkernel_dropped\tsources_estimate" | tee "$samples"
start=$(date +%s)
end=$((start + minutes * 60))
while :; do
    now=$(date +%s)
    "$darknetctl" --socket "$socket" metrics > "$tmp/metrics"
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$daemon/status")
    printf '%d\t%d\t%s\t%s\t%s\t%s\t%s\n' $((now - start)) "$rss" "$(metric darknet_packets_total)" \
        "$(metric darknet_ring_dropped_total)" "$(metric darknet_kernel_received_total)" \
        "$(metric darknet_kernel_dropped_total)" "$(metric darknet_sources_estimate)" | tee -a "$samples"
    ((now >= end)) && break
    sleep "$((end - now < interval ? end - now : interval))"
done
kill "$replay"; wait "$replay" 2> /dev/null || true
kill -TERM "$daemon"
status=0; wait "$daemon" || status=$?

summary=$(python3 - "$samples" "$status" << 'EOF2'
import sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])][1:]
rows = [[float(x or 0) for x in r] for r in rows]
rss = [r[1] / 1024 for r in rows]
first, last = rows[0], rows[-1]
# A sample that falls inside a snapshot save reads up to ~90 MiB more (docs/benchmarks.md), so
# growth is measured on floors: the lowest sample of the last quarter of the run against the
# lowest of the quarter after the middle.
n = len(rss)
third, fourth = rss[n // 2:max(n // 2 + 1, 3 * n // 4)], rss[3 * n // 4:]
floor_growth = min(fourth) - min(third)
secs = last[0] - first[0] or 1
print(f"samples {len(rows)} over {last[0]:.0f} s; packets {int(last[2]):,} ({(last[2] - first[2]) / secs:,.0f}/s); "
      f"ring dropped {int(last[3]):,}; kernel dropped {int(last[5]):,}; "
      f"RSS MiB first {rss[0]:.1f}, max {max(rss):.1f}, last {rss[-1]:.1f}; "
      f"RSS floor growth over the second half {floor_growth:+.1f} MiB; exit status {sys.argv[2]}")
EOF2
)
block=$(cat << EOF2

## $(date -u +%Y-%m-%dT%H:%M:%SZ) — soak: darknetd run for $minutes min, tcpreplay looping at $pps pps, snapshots every $snapshot_interval${state:+, started from $state}

$(bench_host_line)
- daemon: \`$darknetd\`; samples: \`$samples\`
- $summary
EOF2
)
echo "$block"
echo "$block" >> "$out"
((status == 0)) || { echo "daemon exited with status $status:" >&2; tail -n 20 "$tmp/daemon.err" >&2; exit 1; }
