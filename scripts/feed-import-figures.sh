#!/usr/bin/env bash
# docs/fleet.md's feed import rate on this machine: the corpus's feed files
# (shared/corpus/feeds, when beside the repository) and a generated CSV of
# ROWS rows imported with `darknetd feed import` into a throwaway PostgreSQL
# (scripts/throwaway-postgres.sh), run as the postgres
# user when this runs as root, on 127.0.0.1. Prints each import's line and
# its rate in events per second (events / the import's own time).
#   scripts/feed-import-figures.sh [ROWS (default 200000)]
# Uses the darknetd in .build/debug unless DARKNETD names another.
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-200000}"
darknetd="$(realpath "${DARKNETD:-.build/debug/darknetd}")"
corpus="$(realpath -m ../shared/corpus/feeds)"
source scripts/throwaway-postgres.sh
start_throwaway_postgres
"$darknetd" db migrate "${db[@]}" >/dev/null

# ROWS CSV rows over 30 days, 5,000 sources, 20 ports (a deterministic pattern, not random).
awk -v n="$rows" 'BEGIN {
    print "time,src_ip,dst_port,proto,cc,count"
    split("CN US RU BR IN HK JP KR DE NL", cc, " ")
    for (i = 0; i < n; i++) {
        t = 1412640000 + int(i * 2592000 / n)
        s = (i * 7919) % 5000
        printf "%d,198.%d.%d.%d,%d,tcp,%s,%d\n", t, 18 + int(s / 65536), int(s / 256) % 256, s % 256, 20 + (i * 31) % 20, cc[1 + i % 10], 1 + i % 3
    }
}' > "$work/generated.csv"

rate() {
    local line="$1"
    echo "$line"
    echo "$line" | sed -nE 's/.*: ([0-9]+) events .*, ([0-9]+) ms$/\1 \2/p' |
        awk '$2 > 0 { printf "  -> %d events/s\n", $1 * 1000 / $2 }'
}
files=()
[ -f "$corpus/darkvec_ground_truth_big_gt.csv" ] && files+=("darkvec:$corpus/darkvec_ground_truth_big_gt.csv")
[ -f "$corpus/norse_ipviking_eventstream_voilet-push_api.pyrepr.txt" ] && files+=("norse:$corpus/norse_ipviking_eventstream_voilet-push_api.pyrepr.txt")
for f in "$corpus"/cowrie_kareiva_cowrie.json.*; do [ -f "$f" ] && files+=("cowrie:$f"); done
files+=("generated:$work/generated.csv")
for entry in "${files[@]}"; do
    rate "$("$darknetd" feed import "${db[@]}" --name "${entry%%:*}" --default-time 2021-03-01 "${entry#*:}")"
done
echo "cowrie through config/feed-mappings/cowrie-connect.yaml:"
for f in "$corpus"/cowrie_kareiva_cowrie.json.*; do
    [ -f "$f" ] && rate "$("$darknetd" feed import "${db[@]}" --name cowrie-mapped --mapping config/feed-mappings/cowrie-connect.yaml "$f")"
done
sql "VACUUM ANALYZE" >/dev/null
echo "feed_events: $("$bin/psql" -X -q -A -t -h 127.0.0.1 -p "$port" -U fleet_admin -d fleet -c \
    "SELECT count(*) || ' rows, ' || (SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = 'feed_events'::regclass) || ' bytes' FROM feed_events")"
