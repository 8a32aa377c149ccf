#!/usr/bin/env bash
# docs/fleet.md's measured figures on this machine: the time a bucket write
# takes and the rows and bytes a sensor's buckets take, from a backfill of a
# generated hour of 60 s buckets into a throwaway PostgreSQL
# (scripts/throwaway-postgres.sh).
#   scripts/fleet-figures.sh [PACKETS_PER_SECOND (default 200)]
# Uses the darknetd in .build/debug unless DARKNETD names another.
set -euo pipefail
cd "$(dirname "$0")/.."
rate="${1:-200}"
darknetd="$(realpath "${DARKNETD:-.build/debug/darknetd}")"
source scripts/throwaway-postgres.sh
start_throwaway_postgres

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
