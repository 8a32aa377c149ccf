#!/usr/bin/env bash
# Where the aggregation's time goes, part by part (docs/benchmarks.md,
# "Ablation"): builds darknet-stages from a copy of the checked-out commit
# with Benchmarks/ablation.patch applied, which lets the environment variable
# DARKNET_ABLATE leave parts of `Aggregator.add` out, then times the sketch-mode
# aggregation (STAGES_ONLY=aggregate) with each part left out in turn, the
# variants alternating round by round so drift on a shared machine hits all
# alike. A part's cost is the full run's time minus the time without it.
#
# The patched build is for measuring only: leaving a part out changes the
# report. The repository's own sources are not touched.
set -euo pipefail

usage="usage: Benchmarks/ablate.sh [--capture FILE] [--rounds R] [--runs N]
  --capture FILE  capture to aggregate (default bench-out/mix2m.pcap, made with
                  darknetd generate --packets 2000000 if missing)
  --rounds R      alternating rounds (default 3); the table shows medians
  --runs N        darknet-stages runs per variant and round (default 3; it prints their median)"

capture=bench-out/mix2m.pcap rounds=3 runs=3
while (($#)); do
    case $1 in
        --capture) capture=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        -h|--help) echo "$usage"; exit 0 ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p bench-out
if [[ ! -f $capture ]]; then
    swift build -c release --product darknetd
    .build/release/darknetd generate --out "$capture" --packets 2000000
fi

# A copy of HEAD with the patch, built in its own scratch folder (kept between
# runs, so a second run builds only what changed).
source_copy=bench-out/ablate-src
rm -rf "$source_copy"
mkdir -p "$source_copy"
git archive HEAD | tar -x -C "$source_copy"
git -C "$source_copy" init -q 2> /dev/null || true
(cd "$source_copy" && patch -s -p1 < "$root/Benchmarks/ablation.patch")
swift build -c release --product darknet-stages --package-path "$source_copy" --scratch-path bench-out/ablate-build
stages=bench-out/ablate-build/release/darknet-stages

# Bits of DARKNET_ABLATE (Benchmarks/ablation.patch) and what each leaves out.
variants=(0 1 2 4 8 16 32 64 128 255)
declare -A name=(
    [0]="nothing (the full aggregation)"
    [1]="scan detection (candidate table, episode sketch)"
    [2]="backscatter detection"
    [4]="per-port distinct sources (pair table)"
    [8]="per-bucket scan sources and watched-port top sources"
    [16]="per-port destination sketches"
    [32]="whole-run distinct destinations (HyperLogLog)"
    [64]="per-source destination sketch"
    [128]="the prefetch stages (records added one by one)"
    [255]="all of the above: source table, port and country rows, counters"
)
declare -A times=()
for ((round = 1; round <= rounds; round++)); do
    for v in "${variants[@]}"; do
        ns=$(DARKNET_ABLATE=$v STAGES_ONLY=aggregate "$stages" "$capture" "$runs" | awk -F'\t' '/^aggregate/ { sub(/ ns\/packet/, "", $3); print $3 }')
        times[$v]+="$ns "
        echo "round $round: DARKNET_ABLATE=$v ${ns} ns a packet" >&2
    done
done

median() { tr ' ' '\n' <<< "$1" | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
full=$(median "${times[0]}")
{
    echo
    echo "### Ablation $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo "\`Benchmarks/ablate.sh --capture $capture --rounds $rounds --runs $runs\`: sketch-mode aggregation, ns a packet (median of $rounds rounds; each round's runs: ${times[0]% })"
    echo
    echo "| left out | ns a packet | saved |"
    echo "|---|---:|---:|"
    for v in "${variants[@]}"; do
        t=$(median "${times[$v]}")
        echo "| ${name[$v]} | $t | $((full - t)) |"
    done
} | tee -a bench-out/results.md
