#!/usr/bin/env bash
# Offline throughput benchmark: darknetd analyze against tcpdump and the
# libpcap empty-callback ceiling, on one generated capture. See docs/benchmarks.md.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: Benchmarks/run.sh [--packets N] [--runs R] [--seed S] [--flood] [--threads LIST]
                         [--capture FILE] [--no-darknetd] [--out FILE]
  --packets N     packets to generate (default 5000000; 10000000 with --flood)
  --runs R        rounds; each round runs every reader once, in turn, so the
                  readers alternate; medians are reported (default 5)
  --threads LIST  comma-separated aggregation thread counts, one darknetd
                  reader each (analyze --threads N; default 1,2)
  --seed S        generator seed (default 1)
  --flood         every packet from a unique source but 10 % from 100 heavy sources;
                  reports darknetd's peak RSS and how many heavy sources it found
  --capture FILE  use an existing capture instead of generating one
  --no-darknetd   measure only the C ceiling and tcpdump (needs --capture)
  --out FILE      markdown file the dated result block is appended to
                  (default bench-out/results.md)
EOF
}

packets="" runs=5 seed=1 flood=0 capture="" no_darknetd=0 out=bench-out/results.md threads=1,2
while (($#)); do
    case $1 in
        --packets) packets=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --flood) flood=1; shift ;;
        --threads) threads=$2; shift 2 ;;
        --capture) capture=$(realpath "$2"); shift 2 ;;
        --no-darknetd) no_darknetd=1; shift ;;
        --out) out=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done
[[ -n $packets ]] || packets=$((flood ? 10000000 : 5000000))
[[ $threads =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "--threads must be a comma-separated list of numbers" >&2; exit 2; }
IFS=, read -r -a thread_counts <<< "$threads"
if ((no_darknetd)) && [[ -z $capture ]]; then echo "--no-darknetd needs --capture" >&2; exit 2; fi
flood_args=() flood_suffix="" flood_title=""
if ((flood)); then flood_args=(--flood --heavy 100) flood_suffix=-flood-heavy100 flood_title=", spoofed flood with 100 heavy sources"; fi
out=$(realpath -m "$out")
cd "$(dirname "$0")/.."

if [[ ! -x /usr/bin/time ]]; then
    if ((EUID == 0)) && command -v apt-get > /dev/null; then apt-get install -y -q time > /dev/null
    else echo "GNU time is missing: apt-get install time" >&2; exit 1; fi
fi
command -v tcpdump > /dev/null || { echo "tcpdump is missing: apt-get install tcpdump" >&2; exit 1; }

mkdir -p bench-out
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! ((no_darknetd)) || [[ -z $capture ]]; then
    echo "== swift build -c release"
    swift build -c release 2>&1 | tail -n 1
fi
darknetd=.build/release/darknetd
cc -O2 -o bench-out/pcap_ceiling Benchmarks/pcap_ceiling.c -lpcap

origin=""
if [[ -z $capture ]]; then
    origin=", generated with seed $seed"
    capture=$PWD/bench-out/capture-$packets-s$seed$flood_suffix.pcap
    echo "== generating $packets packets -> $capture"
    heavy_args=()
    ((flood)) && heavy_args=(--heavy-list "${capture%.pcap}.heavy")
    "$darknetd" generate --out "$capture" --packets "$packets" --seed "$seed" "${flood_args[@]}" "${heavy_args[@]}"
fi
# A flood's heavy sources (10 % of the packets between them), when the capture has a list.
heavy_list=${capture%.pcap}.heavy
# The ceiling program's count is authoritative; this read also validates the
# file and warms the page cache, so every reader is timed on a cached file.
count=$(bench-out/pcap_ceiling "$capture" | sed -E 's/^packets=([0-9]+).*/\1/')

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

# Every reader runs once per round, in turn, for $runs rounds: on a shared,
# noisy machine the readers then see the same conditions. Sets wall[NAME]
# (median seconds) and rss[NAME] (median peak RSS, KiB). Wall time is taken
# with date(1) in ns, as GNU time's %e has only 10 ms resolution.
declare -A wall rss command
order=()
reader() { local name=$1; shift; order+=("$name"); command[$name]=$(printf '%q ' "$@"); }
run_once() {
    local name=$1 start end
    start=$(date +%s%N)
    if ! eval "/usr/bin/time -f '%e %M' -o $tmp/time ${command[$name]}" > /dev/null 2> "$tmp/stderr"; then
        echo "$name failed:" >&2; cat "$tmp/stderr" "$tmp/time" >&2; exit 1
    fi
    end=$(date +%s%N)
    awk -v ns=$((end - start)) 'BEGIN { print ns / 1e9 }' >> "$tmp/walls-$name"
    tail -n 1 "$tmp/time" | cut -d' ' -f2 >> "$tmp/rsss-$name"
}

reader ceiling bench-out/pcap_ceiling "$capture"
reader tcpdump tcpdump -r "$capture" -w /dev/null
if ! ((no_darknetd)); then
    for t in "${thread_counts[@]}"; do
        reader "darknetd-t$t" "$darknetd" analyze --pcap "$capture" --format json --threads "$t"
    done
    # With a feed: the sensor's own export of the same capture (per-bucket
    # aggregates and scan episodes), so the comparison has real overlap.
    "$darknetd" analyze --pcap "$capture" --format json --export "$tmp/feed.jsonl" > /dev/null
    reader withfeed "$darknetd" analyze --pcap "$capture" --format json --feed "$tmp/feed.jsonl"
fi
echo "== $count packets, $runs rounds of ${order[*]}"
geoip_note=$("$darknetd" analyze --pcap "$capture" --format json 2>&1 > /dev/null | grep -m1 'GeoIP' | sed 's/^darknetd: //' || echo "no GeoIP database")
for ((i = 1; i <= runs; i++)); do
    for name in "${order[@]}"; do run_once "$name"; done
done
for name in "${order[@]}"; do
    wall[$name]=$(median < "$tmp/walls-$name")
    rss[$name]=$(median < "$tmp/rsss-$name")
    printf '   %-12s median %7.3f s over %d runs\n' "$name" "${wall[$name]}" "$runs"
done
if ! ((no_darknetd)); then
    # Where the time goes: read+decode alone and aggregation alone (docs/benchmarks.md).
    swift build -c release --product darknet-stages 2>&1 | tail -n 1
    stages=$(.build/release/darknet-stages "$capture" "$runs")
    echo "$stages" | sed 's/^/   /'
    if ((flood)); then
        # Is memory flat once the tables are full? One more run, its RSS
        # sampled from /proc every 0.2 s into a TSV; the summary compares
        # the quarters of the run.
        trace=bench-out/flood-rss-$(date -u +%Y%m%dT%H%M%SZ).tsv
        "$darknetd" analyze --pcap "$capture" --format json > /dev/null &
        pid=$!
        t0=$(date +%s%N)
        echo -e "elapsed_s\trss_kib\tpeak_rss_kib" > "$trace"
        while kill -0 "$pid" 2> /dev/null; do
            kib=$(awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { if (r != "") print r "\t" h }' "/proc/$pid/status" 2> /dev/null) || true
            [[ -n $kib ]] && awk -v ns=$(($(date +%s%N) - t0)) -v k="$kib" 'BEGIN { printf "%.2f\t%s\n", ns / 1e9, k }' >> "$trace"
            sleep 0.2
        done
        wait "$pid"
        rss_trace=$(awk -F'\t' 'NR > 1 { t[++n] = $1; r[n] = $2; h[n] = $3 }
            END { if (n < 4) { print "too short to trace"; exit }
                  q1 = int(n / 4); q2 = int(n / 2); q3 = int(3 * n / 4)
                  printf "RSS over the run (MiB): %.1f at %.1f s, %.1f at %.1f s, %.1f at %.1f s, %.1f at %.1f s (last sample, peak so far %.1f); growth over the second half %+.1f",
                      r[q1] / 1024, t[q1], r[q2] / 1024, t[q2], r[q3] / 1024, t[q3], r[n] / 1024, t[n], h[n] / 1024, (r[n] - r[q2]) / 1024 }' "$trace")
        echo "   $rss_trace ($trace)"
        # Are the heavy sources found amid the flood? The 100 busiest sources
        # of the report against the generator's list, per --threads value.
        heavy_found=""
        if [[ -f $heavy_list ]]; then
            for t in "${thread_counts[@]}"; do
                found=$("$darknetd" analyze --pcap "$capture" --format json --threads "$t" 2> /dev/null | python3 -c '
import json, sys
heavy = set(open(sys.argv[1]).read().split())
top = json.load(sys.stdin)["top_sources"][:len(heavy)]
print(sum(1 for row in top if row["address"] in heavy), "of", len(heavy))' "$heavy_list")
                heavy_found+="--threads $t: $found heavy sources among the $(wc -l < "$heavy_list") busiest; "
            done
            echo "   $heavy_found"
        fi
    fi
fi

readers=("${order[@]}")
declare -A label=([ceiling]="libpcap empty callback (C)" [tcpdump]="tcpdump -r FILE -w /dev/null"
                  [withfeed]="darknetd analyze --format json --feed (own export)")
for t in "${thread_counts[@]}"; do label[darknetd-t$t]="darknetd analyze --format json --threads $t"; done
ratio() { awk -v a="${wall[$2]}" -v b="${wall[$1]}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
{
    echo
    echo "## $(date -u +%Y-%m-%dT%H:%M:%SZ) — $count packets$flood_title"
    echo
    echo "- host: $(uname -srm), $(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
    echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
    echo "- capture: \`$capture\` ($(du -h "$capture" | cut -f1))$origin; $runs alternating rounds, medians, warm page cache"
    echo "- darknetd: $geoip_note"
    echo
    echo "| reader | wall (s) | packets/s | peak RSS (MiB) |"
    echo "|---|---:|---:|---:|"
    for r in "${readers[@]}"; do
        awk -v n="$count" -v w="${wall[$r]}" -v m="${rss[$r]}" -v l="${label[$r]}" \
            'BEGIN { printf "| %s | %.3f | %.0f | %.1f |\n", l, w, (w > 0 ? n / w : 0), m / 1024 }'
    done
    if ! ((no_darknetd)); then
        echo
        for t in "${thread_counts[@]}"; do
            echo "- --threads $t: darknetd / tcpdump $(ratio darknetd-t$t tcpdump)× (target ≥ 0.5×), darknetd / ceiling $(ratio darknetd-t$t ceiling)× (target ≥ 0.25×), speed-up over --threads ${thread_counts[0]} $(ratio darknetd-t$t darknetd-t${thread_counts[0]})×"
        done
        echo
        echo "Stages (\`darknet-stages FILE $runs\`, medians):"
        echo
        echo '```'
        echo "$stages"
        echo '```'
        if ((flood)); then
            for t in "${thread_counts[@]}"; do
                awk -v t="$t" -v m="${rss[darknetd-t$t]}" 'BEGIN { printf "darknetd --threads %s peak RSS: %.1f MiB\n", t, m / 1024 }'
            done
            echo
            echo "$rss_trace (\`$trace\`)"
            [[ -n $heavy_found ]] && { echo; echo "Heavy sources (\`$heavy_list\`): $heavy_found"; }
        fi
    fi
} | tee -a "$out"
echo "(appended to $out)"
