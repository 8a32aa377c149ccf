#!/usr/bin/env bash
# Installs darknetd as a systemd service (docs/operations.md).
#
#   scripts/install.sh [--prefix DIR] [--destdir DIR] [--no-build] [--bin-dir DIR]
#
# Steps: build release binaries (unless --no-build), install darknetd and
# darknetctl to $PREFIX/bin, the unit to /etc/systemd/system, sysusers and
# tmpfiles entries to /usr/lib/{sysusers,tmpfiles}.d, the example
# configuration to /etc/darknetd/darknetd.yaml (never over an existing one:
# the new example goes beside it as darknetd.yaml.example), the docs to
# $PREFIX/share/doc/darknetd; then, only when installing into the running
# system (no DESTDIR) and systemd is running: systemd-sysusers,
# systemd-tmpfiles --create, systemctl daemon-reload, and a new configuration
# file becomes root:darknetd 0640. It neither enables nor starts the service:
# edit the configuration first.
#
# Environment: PREFIX (default /usr/local), DESTDIR (default empty: the live
# system), SWIFT (default swift), SCRATCH (build folder, default .build).
# A PREFIX other than /usr/local also rewrites the unit's binary paths.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX="${PREFIX:-/usr/local}"
DESTDIR="${DESTDIR:-}"
SWIFT="${SWIFT:-swift}"
SCRATCH="${SCRATCH:-$root/.build}"
build=1
bindir=""

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX="$2"; shift 2 ;;
        --prefix=*) PREFIX="${1#*=}"; shift ;;
        --destdir) DESTDIR="$2"; shift 2 ;;
        --destdir=*) DESTDIR="${1#*=}"; shift ;;
        --no-build) build=0; shift ;;
        --bin-dir) bindir="$2"; shift 2 ;;
        --bin-dir=*) bindir="${1#*=}"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
case "$PREFIX" in /*) ;; *) echo "install.sh: PREFIX must be absolute: $PREFIX" >&2; exit 2 ;; esac
if [ -n "$DESTDIR" ]; then
    mkdir -p "$DESTDIR"
    DESTDIR="$(cd "$DESTDIR" && pwd)"
fi

if [ "$build" -eq 1 ]; then
    echo "install.sh: building release binaries"
    (cd "$root" && "$SWIFT" build -c release --scratch-path "$SCRATCH" --product darknetd)
    (cd "$root" && "$SWIFT" build -c release --scratch-path "$SCRATCH" --product darknetctl)
fi
if [ -z "$bindir" ]; then
    bindir="$(cd "$root" && "$SWIFT" build -c release --scratch-path "$SCRATCH" --show-bin-path)"
fi
for tool in darknetd darknetctl; do
    if [ ! -x "$bindir/$tool" ]; then
        echo "install.sh: $bindir/$tool is missing: build first, or drop --no-build" >&2
        exit 1
    fi
done

# install(1) with parents; DESTDIR prepended.
put() {  # mode source target
    install -D -m "$1" "$2" "$DESTDIR$3"
    echo "installed $DESTDIR$3"
}

put 0755 "$bindir/darknetd" "$PREFIX/bin/darknetd"
put 0755 "$bindir/darknetctl" "$PREFIX/bin/darknetctl"

unit="$(mktemp)"
trap 'rm -f "$unit"' EXIT
sed -e "s|/usr/local/bin/|$PREFIX/bin/|g" -e "s|/usr/local/share/|$PREFIX/share/|g" \
    "$root/systemd/darknetd.service" > "$unit"
put 0644 "$unit" /etc/systemd/system/darknetd.service
put 0644 "$root/systemd/darknetd.sysusers" /usr/lib/sysusers.d/darknetd.conf
put 0644 "$root/systemd/darknetd.tmpfiles" /usr/lib/tmpfiles.d/darknetd.conf
for doc in operations.md configuration.md; do
    put 0644 "$root/docs/$doc" "$PREFIX/share/doc/darknetd/$doc"
done

# The configuration may hold aggregation.hash_seed, a secret: on the live
# system it becomes root:darknetd 0640 once the user exists (below).
config="$DESTDIR/etc/darknetd/darknetd.yaml"
new_config=0
if [ -e "$config" ]; then
    put 0644 "$root/config/darknetd.yaml" /etc/darknetd/darknetd.yaml.example
    echo "install.sh: kept the existing $config (the new example is darknetd.yaml.example)"
else
    put 0644 "$root/config/darknetd.yaml" /etc/darknetd/darknetd.yaml
    new_config=1
fi

if [ -n "$DESTDIR" ]; then
    echo "install.sh: DESTDIR set: not touching the running system (run systemd-sysusers, systemd-tmpfiles --create and systemctl daemon-reload on the target)"
elif [ -d /run/systemd/system ]; then
    systemd-sysusers /usr/lib/sysusers.d/darknetd.conf
    systemd-tmpfiles --create /usr/lib/tmpfiles.d/darknetd.conf
    systemctl daemon-reload
    if [ "$new_config" -eq 1 ]; then
        chgrp darknetd /etc/darknetd/darknetd.yaml
        chmod 0640 /etc/darknetd/darknetd.yaml
    fi
    echo "install.sh: done. Edit /etc/darknetd/darknetd.yaml, check it with"
    echo "  $PREFIX/bin/darknetd check-config --for-run /etc/darknetd/darknetd.yaml"
    echo "then: systemctl enable --now darknetd"
else
    echo "install.sh: systemd is not running: create the user and /run/darknetd yourself (see the sysusers/tmpfiles files)"
fi
