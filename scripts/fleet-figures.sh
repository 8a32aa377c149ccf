#!/usr/bin/env bash
# docs/fleet.md's measured figures on this machine: the time a bucket write
# takes and the rows and bytes a sensor's buckets take, from a backfill of a
# generated hour of 60 s buckets into a throwaway PostgreSQL (Debian's
# postgresql, default durability settings: fsync and synchronous_commit on),
# run as the postgres user when this runs as root, on 127.0.0.1.
#   scripts/fleet-figures.sh [PACKETS_PER_SECOND (default 200)]
# Uses the darknetd in .build/debug unless DARKNETD names another.
set -euo pipefail
cd "$(dirname "$0")/.."
rate="${1:-200}"
darknetd="$(realpath "${DARKNETD:-.build/debug/darknetd}")"
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
sql() { "$bin/psql" -X -q -A -t -h 127.0.0.1 -p "$port" -U fleet_admin -d fleet -c "$1"; }
"$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U fleet_admin -d postgres -c "CREATE DATABASE fleet"
db=(--db "postgres://fleet_admin@127.0.0.1:$port/fleet" --db-password-file "$work/pw")

"$darknetd" generate --out "$work/hour.pcap" --packets $((rate * 3600)) --rate "$rate" --seed 14 2>/dev/null
"$darknetd" db migrate "${db[@]}"
echo "backfill of one generated hour at $rate packets/s, 60 s buckets:"
"$darknetd" analyze --pcap "$work/hour.pcap" --sensor s1 "${db[@]}" 2>&1 >/dev/null | grep 'db:'
sql "VACUUM ANALYZE" >/dev/null
echo "table | rows | bytes (pg_total_relation_size of its partitions)"
total=0
for t in buckets bucket_ports bucket_countries bucket_watched_sources scans attacks; do
    line="$(sql "SELECT (SELECT count(*) FROM $t), coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits WHERE inhparent = '$t'::regclass")"
    echo "$t | $line"
    total=$((total + ${line#*|}))
done
buckets="$(sql "SELECT count(*) FROM buckets")"
echo "all tables: $total bytes for $buckets buckets; x $((1440 / buckets)) for a sensor-day: $((total * 1440 / buckets)) bytes"
