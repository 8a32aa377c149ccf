#!/usr/bin/env bash
# Live capture benchmark (docs/benchmarks.md): in two network namespaces this
# script creates, replays a generated capture with `tcpreplay --topspeed` into a
# veth pair while `darknetd capture` (then `tcpdump -w /dev/null`) captures the
# other end; reports the replay rate, packets captured, kernel and ring drops.
# Needs root, iproute2 and tcpreplay. Traffic never leaves the namespaces.
set -euo pipefail

packets=1000000 capture="" out=bench-out/results.md
while (($#)); do
    case $1 in
        --packets) packets=$2; shift 2 ;;
        --capture) capture=$(realpath "$2"); shift 2 ;;
        --out) out=$2; shift 2 ;;
        -h | --help) echo "usage: Benchmarks/live.sh [--packets N] [--capture FILE] [--out FILE]"; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done
out=$(realpath -m "$out")
cd "$(dirname "$0")/.."
source Benchmarks/lib.sh
bench_require_root live.sh "network namespaces, capture"
bench_require_tcpreplay
mkdir -p bench-out
swift build -c release 2>&1 | tail -n 1
darknetd=$PWD/.build/release/darknetd
if [[ -z $capture ]]; then
    capture=$PWD/bench-out/live-$packets.pcap
    [[ -f $capture ]] || "$darknetd" generate --out "$capture" --packets "$packets" --seed 1
fi

bench_veth "$$"
S=$bench_S R=$bench_R VS=$bench_VS VR=$bench_VR
tmp=$bench_tmp

replay() {  # prints tcpreplay's summary
    ip netns exec "$S" tcpreplay --topspeed -i "$VS" "$capture" 2>&1 | tr -d '\r'
}

# darknetd
ip netns exec "$R" "$darknetd" capture -i "$VR" --buffer-mib 64 --interval 600 --format json \
    > "$tmp/darknetd.json" 2> "$tmp/darknetd.err" &
pid=$!
bench_track $pid
for _ in $(seq 100); do grep -q "capturing on" "$tmp/darknetd.err" 2> /dev/null && break; sleep 0.1; done
replay > "$tmp/replay1.txt"
sleep 1
kill -INT $pid
wait $pid || true

# tcpdump on the same replay
ip netns exec "$R" tcpdump -i "$VR" -B 65536 -w /dev/null > /dev/null 2> "$tmp/tcpdump.err" &
pid=$!
bench_track $pid
for _ in $(seq 100); do grep -q "listening on" "$tmp/tcpdump.err" 2> /dev/null && break; sleep 0.1; done
replay > "$tmp/replay2.txt"
sleep 1
kill -INT $pid
wait $pid || true

rate() { grep -oE 'Rated: [0-9.]+ Bps, [0-9.]+ Mbps, [0-9.]+ pps' "$1" | grep -oE '[0-9.]+ pps' | head -n 1; }
read -r d_total d_kernel_recv d_kernel_drop d_ring_drop < <(python3 - "$tmp/darknetd.json" << 'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
k = d["capture"]["kernel"]
print(d["packets"]["total"], k["received"], k["dropped"], d["capture"]["ring"]["ring_dropped"])
EOF
)
t_captured=$(grep -oE '^[0-9]+ packets captured' "$tmp/tcpdump.err" | grep -oE '^[0-9]+')
t_dropped=$(grep -oE '^[0-9]+ packets dropped by kernel' "$tmp/tcpdump.err" | grep -oE '^[0-9]+')

block=$(cat << EOF

## $(date -u +%Y-%m-%dT%H:%M:%SZ) — live replay of $(basename "$capture") ($packets packets, tcpreplay --topspeed into a veth)

$(bench_host_line)

| capturer | replay rate | captured | kernel dropped | ring dropped |
|---|---:|---:|---:|---:|
| darknetd capture | $(rate "$tmp/replay1.txt") | $d_total | $d_kernel_drop | $d_ring_drop |
| tcpdump -w /dev/null | $(rate "$tmp/replay2.txt") | ${t_captured:-?} | ${t_dropped:-?} | – |
EOF
)
echo "$block"
echo "$block" >> "$out"
echo "(appended to $out)"
