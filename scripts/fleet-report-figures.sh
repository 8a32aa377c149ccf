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
for seed in 14 15; do
    "$darknetd" generate --out "$work/day$seed.pcap" --packets $((rate * 86400)) --rate "$rate" --seed "$seed" \
        --start 2024-01-01T00:00:00Z 2>/dev/null
    "$darknetd" analyze --pcap "$work/day$seed.pcap" --sensor "s$seed" --geoip none "${db[@]}" 2>&1 >/dev/null | grep 'db:'
done
"$bin/psql" -X -q -A -t -h 127.0.0.1 -p "$port" -U fleet_admin -d fleet -c "VACUUM ANALYZE"
for format in text json html; do
    /usr/bin/time -f "fleet report --format $format: %e s elapsed, %M KB max RSS" \
        "$darknetd" fleet report "${db[@]}" --from 2024-01-01 --to 2024-01-02 --bucket 1h --format "$format" > "$work/report.$format"
    echo "  $(wc -c < "$work/report.$format") bytes"
done
grep -A3 '^source overlap' "$work/report.text"
