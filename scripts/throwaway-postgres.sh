# Sourced by scripts/fleet-figures.sh and scripts/fleet-load.sh: starts a
# throwaway PostgreSQL (Debian's postgresql, default durability: fsync and
# synchronous_commit on) on 127.0.0.1, run as the postgres user when this runs
# as root, with scram-sha-256 for every connection, and a database `fleet`
# owned by the superuser fleet_admin. Extra arguments go to postgres
# (e.g. -c max_connections=200). Sets: bin, work, port, db (the --db and
# --db-password-file arguments), PGPASSWORD; defines sql "STATEMENT".
# The server is stopped and its directory deleted when the script exits.
start_throwaway_postgres() {
    bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
    work="$(mktemp -d)"
    local run=()
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres:postgres "$work"
        run=(setpriv --reuid postgres --regid postgres --init-groups --reset-env --)
    fi
    printf 'figures-%s' "$RANDOM$RANDOM" > "$work/pw"
    chmod 600 "$work/pw"
    [ "$(id -u)" -eq 0 ] && chown postgres "$work/pw"
    "${run[@]}" "$bin/initdb" -D "$work/data" -U fleet_admin --pwfile="$work/pw" --auth=scram-sha-256 -E UTF8 --locale=C --no-sync >/dev/null
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    "${run[@]}" "$bin/postgres" -D "$work/data" -h 127.0.0.1 -p "$port" -k "$work" "$@" 2>"$work/server.log" &
    server=$!
    trap 'kill -INT $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
    for _ in $(seq 1 60); do "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" && break; sleep 0.5; done
    export PGPASSWORD="$(cat "$work/pw")"
    "$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U fleet_admin -d postgres -c "CREATE DATABASE fleet"
    db=(--db "postgres://fleet_admin@127.0.0.1:$port/fleet" --db-password-file "$work/pw")
}

sql() { "$bin/psql" -X -q -A -t -h 127.0.0.1 -p "$port" -U fleet_admin -d fleet -c "$1"; }
