#!/usr/bin/env bash
# docs/fleet.md's fleet report timing on this machine: two sensors, each a
# generated UTC day of 60 s buckets (seeds 14 and 15 at PACKETS_PER_SECOND),
# backfilled into a throwaway PostgreSQL on 127.0.0.1 (Debian's postgresql, run
# as the postgres user when this runs as root), then `darknetd fleet report`
# over the day in 1 h buckets, timed in each format.
#   scripts/fleet-report-figures.sh [PACKETS_PER_SECOND (default 20)]
# Uses the darknetd in .build/debug unless DARKNETD names another.
set -euo pipefail
cd "$(dirname "$0")/.."
rate="${1:-20}"
darknetd="$(realpath "${DARKNETD:-.build/debug/darknetd}")"
source scripts/throwaway-postgres.sh
start_throwaway_postgres
"$darknetd" db migrate "${db[@]}" >/dev/null
for seed in 14 15; do
    "$darknetd" generate --out "$work/day$seed.pcap" --packets $((rate * 86400)) --rate "$rate" --seed "$seed" \
        --start 2024-01-01T00:00:00Z 2>/dev/null
    "$darknetd" analyze --pcap "$work/day$seed.pcap" --sensor "s$seed" --geoip none "${db[@]}" 2>&1 >/dev/null | grep 'db:'
done
sql "VACUUM ANALYZE"
for format in text json html; do
    /usr/bin/time -f "fleet report --format $format: %e s elapsed, %M KB max RSS" \
        "$darknetd" fleet report "${db[@]}" --from 2024-01-01 --to 2024-01-02 --bucket 1h --format "$format" > "$work/report.$format"
    echo "  $(wc -c < "$work/report.$format") bytes"
done
grep -A3 '^source overlap' "$work/report.text"
