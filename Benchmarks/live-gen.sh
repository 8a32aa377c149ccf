#!/usr/bin/env bash
# Live capture benchmark with a faster load generator (docs/benchmarks.md, "Live
# load generator"): in two network namespaces this script creates, joined by a
# veth pair, Benchmarks/afpacket_gen.c sends a capture's frames through an
# AF_PACKET socket (PACKET_QDISC_BYPASS) at --rate packets/s (0 = as fast as it
# can) for --seconds, first with nothing capturing (unless --no-baseline), then
# while `darknetd capture` captures the other end (once per --shards value when
# darknetd has --threads), then while `tcpdump -w /dev/null` does. Reports the
# rate the generator reached, what the veth delivered, packets captured, kernel
# and ring drops. Needs root, iproute2, tcpdump, a C compiler and libpcap-dev.
# Traffic never leaves the namespaces.
set -euo pipefail

usage="usage: Benchmarks/live-gen.sh [--rate PPS] [--seconds S] [--capture FILE] [--darknetd BIN]
                             [--shards LIST] [--mode ring|mmsg] [--threads N] [--no-baseline] [--out FILE]
  --rate PPS      generator rate, 0 = as fast as it can (default 0)
  --seconds S     seconds of traffic per run (default 10)
  --capture FILE  frames to send (default: generate bench-out/live-gen.pcap, 1,000,000 packets)
  --darknetd BIN  darknetd to run (default: swift build -c release, .build/release/darknetd)
  --shards LIST   comma-separated, e.g. 1,2: one darknetd run per value, as capture --threads N
                  (only if this darknetd's capture has --threads; otherwise one run without it)
  --mode          generator: ring (PACKET_TX_RING, default) or mmsg (sendmmsg)
  --threads N     generator senders (default 1)
  --no-baseline   skip the run with nothing capturing
  --out FILE      results file to append to (default bench-out/results.md)"

rate=0 seconds=10 capture="" darknetd="" shards="" mode=ring threads=1 baseline=1 out=bench-out/results.md
while (($#)); do
    case $1 in
        --rate) rate=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --capture) capture=$(realpath "$2"); shift 2 ;;
        --darknetd) darknetd=$(realpath "$2"); shift 2 ;;
        --shards) shards=$2; shift 2 ;;
        --mode) mode=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --no-baseline) baseline=0; shift ;;
        --out) out=$2; shift 2 ;;
        -h | --help) echo "$usage"; exit 0 ;;
        *) echo "unknown option: $1" >&2; echo "$usage" >&2; exit 2 ;;
    esac
done
[[ $rate =~ ^[0-9]+$ ]] || { echo "--rate must be a whole number of packets/s" >&2; exit 2; }
[[ $seconds =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "--seconds must be a positive number" >&2; exit 2; }
[[ $shards =~ ^([0-9]+(,[0-9]+)*)?$ ]] || { echo "--shards must be a comma-separated list of numbers" >&2; exit 2; }
[[ $mode == ring || $mode == mmsg ]] || { echo "--mode must be ring or mmsg" >&2; exit 2; }
out=$(realpath -m "$out")
cd "$(dirname "$0")/.."
source Benchmarks/lib.sh

# Stop what we started (TERM, then KILL after 2 s) before lib.sh removes the
# namespaces, on every exit: success, failure, ^C or TERM.
live_gen_cleanup() {
    local pid _
    for pid in "${bench_pids[@]}"; do kill "$pid" 2> /dev/null || true; done
    for _ in $(seq 20); do
        local alive=0
        for pid in "${bench_pids[@]}"; do kill -0 "$pid" 2> /dev/null && alive=1; done
        ((alive)) || break
        sleep 0.1
    done
    for pid in "${bench_pids[@]}"; do kill -KILL "$pid" 2> /dev/null || true; done
    bench_cleanup
}
trap live_gen_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bench_require_root live-gen.sh "network namespaces, AF_PACKET"
command -v tcpdump > /dev/null || { echo "tcpdump is missing: apt-get install tcpdump" >&2; exit 1; }
command -v cc > /dev/null || { echo "no C compiler (cc): apt-get install gcc libpcap-dev" >&2; exit 1; }
mkdir -p bench-out
if [[ -z $darknetd ]]; then
    swift build -c release 2>&1 | tail -n 1
    darknetd=$PWD/.build/release/darknetd
fi
[[ -x $darknetd ]] || { echo "darknetd not found or not executable: $darknetd" >&2; exit 1; }
gen=$PWD/bench-out/afpacket_gen
cc -O2 -Wall -Wextra -Werror -pthread -o "$gen" Benchmarks/afpacket_gen.c -lpcap
if [[ -z $capture ]]; then
    capture=$PWD/bench-out/live-gen.pcap
    [[ -f $capture ]] || "$darknetd" generate --out "$capture" --packets 1000000 --seed 1
fi

# darknetd capture --threads exists only in some builds: detect it.
has_threads=0
"$darknetd" capture --help 2>&1 | grep -qE -- '--threads\b' && has_threads=1
shard_runs=("")
if [[ -n $shards ]]; then
    if ((has_threads)); then
        IFS=, read -r -a shard_runs <<< "$shards"
    else
        echo "note: this darknetd's capture has no --threads; --shards $shards ignored (one run without it)" >&2
    fi
fi

bench_veth "$$"
S=$bench_S R=$bench_R VS=$bench_VS VR=$bench_VR
tmp=$bench_tmp

stat_of() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"; }
# The veth's counters: sender tx_packets tx_dropped, receiver rx_packets rx_dropped.
counters() { echo "$(stat_of "$S" "$VS" tx_packets) $(stat_of "$S" "$VS" tx_dropped) $(stat_of "$R" "$VR" rx_packets) $(stat_of "$R" "$VR" rx_dropped)"; }

# generate NAME: run the generator; its summary line in $tmp/NAME.gen and the
# veth counters' increase during the run in $tmp/NAME.veth.
generate() {
    local before after pid
    before=$(counters)
    ip netns exec "$S" "$gen" --mode "$mode" --threads "$threads" --rate "$rate" --duration "$seconds" \
        "$VS" "$capture" > "$tmp/$1.gen" 2> "$tmp/$1.generr" &
    pid=$!
    bench_track "$pid"
    wait "$pid" || { echo "afpacket_gen failed:" >&2; cat "$tmp/$1.generr" >&2; exit 1; }
    sleep 1 # let the receiver's backlog and the capturer catch up before reading the counters
    after=$(counters)
    local -a b a
    read -r -a b <<< "$before"
    read -r -a a <<< "$after"
    echo "$((a[0] - b[0])) $((a[1] - b[1])) $((a[2] - b[2])) $((a[3] - b[3]))" > "$tmp/$1.veth"
}

# wait_for TEXT FILE WHAT: wait up to 10 s for TEXT in FILE, else show it and exit 1.
wait_for() {
    local _
    for _ in $(seq 100); do grep -q "$1" "$2" 2> /dev/null && return 0; sleep 0.1; done
    echo "$3 did not start:" >&2
    cat "$2" >&2
    exit 1
}

field() { grep -oE "(^| )$2=[0-9.]+" "$tmp/$1.gen" | cut -d= -f2; }
# grouped N: N with thousands separators (1,234,567); anything else as it is, "?" if empty.
grouped() {
    local n=${1:-?} s=""
    [[ $n =~ ^[0-9]+$ ]] || { printf '%s' "$n"; return; }
    while ((${#n} > 3)); do s=,${n: -3}$s n=${n:0:${#n}-3}; done
    printf '%s' "$n$s"
}
rows=()
# row NAME TOOL CAPTURED KERNEL_DROPPED RING_DROPPED
row() {
    local veth
    read -r -a veth < "$tmp/$1.veth"
    rows+=("| $2 | $(grouped "$(printf '%.0f' "$(field "$1" pps)")") | $(grouped "$(field "$1" packets)") | $(grouped "$(field "$1" errors)") | $(grouped "${veth[2]}") | $(grouped "${veth[1]}") / $(grouped "${veth[3]}") | $(grouped "$3") | $(grouped "$4") | $(grouped "$5") |")
}

if ((baseline)); then
    generate none
    row none "nothing capturing" – – –
fi

i=0
for n in "${shard_runs[@]}"; do
    i=$((i + 1))
    extra=() label="darknetd capture"
    [[ -n $n ]] && { extra=(--threads "$n"); label="darknetd capture --threads $n"; }
    ip netns exec "$R" "$darknetd" capture -i "$VR" --buffer-mib 64 --interval 600 --format json "${extra[@]}" \
        > "$tmp/darknetd$i.json" 2> "$tmp/darknetd$i.err" &
    pid=$!
    bench_track "$pid"
    wait_for "capturing on" "$tmp/darknetd$i.err" "darknetd capture"
    generate "darknetd$i"
    kill -INT "$pid" 2> /dev/null || true
    wait "$pid" || echo "note: darknetd capture exited with status $?: $(tail -n 3 "$tmp/darknetd$i.err")" >&2
    read -r total kdrop rdrop < <(python3 - "$tmp/darknetd$i.json" << 'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception:
    print("? ? ?"); sys.exit()
c = d.get("capture", {})
def get(o, *path):
    for k in path:
        o = o.get(k) if isinstance(o, dict) else None
    return "?" if o is None else o
print(get(d, "packets", "total"), get(c, "kernel", "dropped"), get(c, "ring", "ring_dropped"))
EOF
    )
    row "darknetd$i" "$label" "$total" "$kdrop" "$rdrop"
done

ip netns exec "$R" tcpdump -i "$VR" -B 65536 -w /dev/null > /dev/null 2> "$tmp/tcpdump.err" &
pid=$!
bench_track "$pid"
wait_for "listening on" "$tmp/tcpdump.err" tcpdump
generate tcpdump
kill -INT "$pid" 2> /dev/null || true
wait "$pid" || true
t_captured=$(grep -oE '^[0-9]+ packets captured' "$tmp/tcpdump.err" | grep -oE '^[0-9]+' || true)
t_dropped=$(grep -oE '^[0-9]+ packets dropped by kernel' "$tmp/tcpdump.err" | grep -oE '^[0-9]+' || true)
row tcpdump "tcpdump -w /dev/null" "$t_captured" "$t_dropped" –

rate_text=$([[ $rate == 0 ]] && echo "as fast as it can" || echo "--rate $(grouped "$rate")")
block=$(
    cat << EOF

## $(date -u +%Y-%m-%dT%H:%M:%SZ) — live load generator: afpacket_gen --mode $mode --threads $threads, $rate_text, ${seconds} s per run, $(basename "$capture") into a veth

$(bench_host_line)
- darknetd capture --threads: $( ((has_threads)) && echo "available" || echo "not available in this build")

| capturer | generator pps | sent | send errors | veth delivered | veth dropped tx / rx | captured | kernel dropped | ring dropped |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
$(printf '%s\n' "${rows[@]}")
EOF
)
echo "$block"
echo "$block" >> "$out"
echo "(appended to $out)"
