#!/usr/bin/env bash
# docs/fleet.md's load figures: how many sensors one PostgreSQL on this
# machine sustains. Starts a throwaway server (scripts/throwaway-postgres.sh,
# max_connections 300), generates one hour of darknet traffic at 1,000
# packets/s (60 s buckets: 60 real bucket templates), migrates, then runs
# fleet-load (Benchmarks/FleetLoad) with N sensors, each on its own
# connection: back to back (the rate the server sustains), then paced at one
# bucket per sensor every PACE seconds (the latency at that offered load).
#   scripts/fleet-load.sh [SENSORS (100)] [BUCKETS per sensor (60)] [PACE seconds (0.6)]
# Uses the release builds of darknetd and fleet-load (built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
sensors="${1:-100}"
buckets="${2:-60}"
pace="${3:-0.6}"
swift build -c release --product darknetd >/dev/null
swift build -c release --product fleet-load >/dev/null
source scripts/throwaway-postgres.sh
start_throwaway_postgres -c max_connections=300
.build/release/darknetd generate --out "$work/hour.pcap" --packets 3600000 --rate 1000 --seed 14 2>/dev/null
.build/release/darknetd db migrate "${db[@]}"
echo "== $sensors sensors, $buckets buckets each, back to back"
.build/release/fleet-load "${db[@]}" --pcap "$work/hour.pcap" --sensors "$sensors" --buckets "$buckets"
sql "TRUNCATE buckets, bucket_ports, bucket_countries, bucket_watched_sources, scans, attacks" >/dev/null
echo "== $sensors sensors, $buckets buckets each, one bucket per sensor every $pace s ($(python3 -c "print(round(60 / $pace))")x the rate of 60 s buckets)"
.build/release/fleet-load "${db[@]}" --pcap "$work/hour.pcap" --sensors "$sensors" --buckets "$buckets" --pace "$pace"
sql "VACUUM ANALYZE" >/dev/null
echo "database size after the paced run: $(sql "SELECT pg_size_pretty(pg_database_size('fleet'))")"
