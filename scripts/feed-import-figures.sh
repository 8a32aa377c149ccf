#!/usr/bin/env bash
# docs/fleet.md's feed import rate on this machine: the corpus's feed files
# (shared/corpus/feeds, when beside the repository) and a generated CSV of
# ROWS rows imported with `darknetd feed import` into a throwaway PostgreSQL
# (Debian's postgresql, default durability settings), run as the postgres
# user when this runs as root, on 127.0.0.1. Prints each import's line and
# its rate in events per second (events / the import's own time).
#   scripts/feed-import-figures.sh [ROWS (default 200000)]
# Uses the darknetd in .build/debug unless DARKNETD names another.
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-200000}"
darknetd="$(realpath "${DARKNETD:-.build/debug/darknetd}")"
corpus="$(realpath -m ../shared/corpus/feeds)"
bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
work="$(mktemp -d)"
run=()
if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$work"
    run=(setpriv --reuid postgres --regid postgres --init-groups --reset-env --)
fi
printf 'figures-%s' "$RANDOM$RANDOM" > "$work/pw"
chmod 600 "$work/pw"
[ "$(id -u)" -eq 0 ] && chown postgres "$work/pw"
"${run[@]}" "$bin/initdb" -D "$work/data" -U fleet_admin --pwfile="$work/pw" --auth=scram-sha-256 -E UTF8 --locale=C --no-sync >/dev/null
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"${run[@]}" "$bin/postgres" -D "$work/data" -h 127.0.0.1 -p "$port" -k "$work" 2>"$work/server.log" &
server=$!
trap 'kill -INT $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 60); do "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" && break; sleep 0.5; done
export PGPASSWORD="$(cat "$work/pw")"
"$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U fleet_admin -d postgres -c "CREATE DATABASE fleet"
db=(--db "postgres://fleet_admin@127.0.0.1:$port/fleet" --db-password-file "$work/pw")
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
"$bin/psql" -X -q -A -t -h 127.0.0.1 -p "$port" -U fleet_admin -d fleet -c "VACUUM ANALYZE" >/dev/null
echo "feed_events: $("$bin/psql" -X -q -A -t -h 127.0.0.1 -p "$port" -U fleet_admin -d fleet -c \
    "SELECT count(*) || ' rows, ' || (SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = 'feed_events'::regclass) || ' bytes' FROM feed_events")"
