#!/usr/bin/env bash
# Installs what darknet-sensor needs on Debian/Ubuntu besides a Swift 6 toolchain:
# libpcap (capture), libmaxminddb (GeoIP), iproute2 (live tests' namespaces),
# tcpdump/tcpreplay/time (benchmarks), util-linux's setpriv (privilege tests),
# rsyslog (the alert tests start a real rsyslogd on a socket of their own).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
    libpcap-dev libmaxminddb-dev pkg-config \
    iproute2 util-linux tcpdump tcpreplay time rsyslog >/dev/null
echo "install-deps: ok"
