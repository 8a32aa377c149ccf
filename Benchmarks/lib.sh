# Shared by the benchmark scripts that run the daemon in network namespaces
# (idle.sh, soak.sh, live.sh); sourced, not run. Traffic never leaves the
# namespaces these functions create, and one EXIT trap removes them.

# bench_require_root SCRIPT WHY: exit 1 unless root.
bench_require_root() {
    ((EUID == 0)) || { echo "$1 needs root ($2)" >&2; exit 1; }
}

bench_require_tcpreplay() {
    command -v tcpreplay > /dev/null || { echo "tcpreplay is missing: apt-get install tcpreplay" >&2; exit 1; }
}

# Processes to stop and namespaces to delete on exit, and a scratch folder ($bench_tmp).
bench_pids=()
bench_namespaces=()
bench_tmp=$(mktemp -d)
bench_cleanup() {
    local pid ns
    for pid in "${bench_pids[@]}"; do kill "$pid" 2> /dev/null || true; done
    for ns in "${bench_namespaces[@]}"; do ip netns del "$ns" 2> /dev/null || true; done
    rm -rf "$bench_tmp"
}
trap bench_cleanup EXIT

# bench_track PID: stop PID on exit unless it has ended by then.
bench_track() { bench_pids+=("$1"); }

# bench_namespace NAME: a new network namespace with its loopback up.
bench_namespace() {
    ip netns add "$1"
    bench_namespaces+=("$1")
    ip -n "$1" link set lo up
}

# bench_veth TAG: namespaces $bench_S (sender) and $bench_R (receiver) joined
# by a veth pair, $bench_VS in the sender and $bench_VR in the receiver, both up.
bench_veth() {
    bench_S=dnb-s-$1 bench_R=dnb-r-$1 bench_VS=vbs$1 bench_VR=vbr$1
    bench_namespace "$bench_S"
    bench_namespace "$bench_R"
    ip link add "$bench_VS" type veth peer name "$bench_VR"
    ip link set "$bench_VS" netns "$bench_S"
    ip link set "$bench_VR" netns "$bench_R"
    ip -n "$bench_S" link set "$bench_VS" up
    ip -n "$bench_R" link set "$bench_VR" up
}

# bench_wait_for_socket PATH LOG: wait up to 30 s for the daemon's stats
# socket; on failure print the daemon's LOG and exit 1.
bench_wait_for_socket() {
    local _
    for _ in $(seq 300); do [[ -S $1 ]] && return 0; sleep 0.1; done
    echo "darknetd did not start:" >&2
    cat "$2" >&2
    exit 1
}

# The "- host: ..." line of a results block: kernel, CPUs, commit (dirty when it is).
bench_host_line() {
    echo "- host: $(uname -srm), $(nproc) CPUs; commit: $(git rev-parse --short HEAD 2> /dev/null || echo unknown)$(git diff --quiet 2> /dev/null || echo ' (dirty)')"
}
