#!/usr/bin/env bash
# Fuzzing with libFuzzer + AddressSanitizer (docs/fuzzing.md).
#
#   scripts/fuzz.sh TARGET [SECONDS]          fuzz one target (default 60 s)
#   scripts/fuzz.sh all [SECONDS]             fuzz every target, SECONDS each (CI smoke: 30)
#   scripts/fuzz.sh list                      the targets
#   scripts/fuzz.sh repro TARGET FILE...      run the harness once on FILE(s) (a crash, a test input)
#   scripts/fuzz.sh minimize TARGET FILE [SECONDS]
#                                             smallest input that still crashes like FILE
#
# Builds the harness package Fuzz/ with the fuzzer and address sanitizers in
# its own scratch path (Fuzz/.build), regenerates the seed corpora (built by
# the FuzzSeeds executable from the project's packet builders, without
# sanitizers, in Fuzz/.build-seeds), then runs libFuzzer. Everything it writes
# goes under fuzz-out/ (gitignored):
#
#   fuzz-out/seeds/TARGET/     seeds, rewritten on every run
#   fuzz-out/corpus/TARGET/    the working corpus; kept between runs, grows
#   fuzz-out/crashes/TARGET/   crash-*, leak-*, timeout-*, oom-* inputs
#   fuzz-out/logs/TARGET.log   the last run's libFuzzer output
#   fuzz-out/results.tsv       one line per run: date, target, seconds, execs, execs/s, crashes
#
# Exit status: 0 when no target crashed, 1 when one did (or on a build error).
#
# Environment: FUZZ_EXTRA_ARGS, extra libFuzzer flags (e.g. "-use_value_profile=1").
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
fuzz_package="$root/Fuzz"
out="$root/fuzz-out"

# ---------------------------------------------------------------------------
# Targets. One line per target: NAME PRODUCT MAX_LEN. The product is the
# executable target of Fuzz/Package.swift; the dictionary is
# Fuzz/dictionaries/NAME.dict when that file exists; seeds come from
# `FuzzSeeds OUTDIR NAME` (a target without a seed generator starts from an
# empty corpus). To add a target, add its line here (docs/fuzzing.md,
# "Adding a target").
# ---------------------------------------------------------------------------
TARGET_TABLE="
decoder         FuzzDecoder         4096
feed-norse      FuzzFeedNorse       4096
feed-csv        FuzzFeedCSV         4096
config          FuzzConfig          8192
stats-request   FuzzStatsRequest    4096
snapshot        FuzzSnapshot        65536
"

target_names() { awk 'NF { print $1 }' <<<"$TARGET_TABLE"; }
target_field() {  # NAME FIELD
    awk -v name="$1" -v field="$2" 'NF && $1 == name { print $field }' <<<"$TARGET_TABLE"
}

usage() {
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

require_target() {
    if [[ -z "$(target_field "$1" 2)" ]]; then
        echo "fuzz.sh: unknown target '$1' (targets: $(target_names | tr '\n' ' '))" >&2
        exit 2
    fi
}

# The Swift runtime's crash backtracer would attach to every crashing input
# (and can hang libFuzzer's crash handling): libFuzzer and ASan report crashes.
export SWIFT_BACKTRACE=enable=no
# Fail loudly on any ASan report; symbolize so crash logs name Swift functions.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:symbolize=1:detect_leaks=1:allocator_may_return_null=1}"

# --sanitize=fuzzer makes SwiftPM build executables for libFuzzer's main
# (-parse-as-library, renamed entry point). The swift driver keeps only the
# LAST -sanitize= option, so `--sanitize=fuzzer --sanitize=address` would
# compile with ASan alone and no coverage instrumentation; the combined
# -Xswiftc flag comes after SwiftPM's own and is the one that applies.
build_harness() {  # PRODUCT
    local log="$out/logs/build-$1.log"
    echo "fuzz.sh: building $1 (fuzzer+address, scratch Fuzz/.build)"
    if ! (cd "$fuzz_package" && swift build -c debug --scratch-path .build \
            --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address \
            --product "$1") >"$log" 2>&1; then
        # The gold linker's "Cannot export local symbol __asan_..." warnings are noise.
        grep -v "Cannot export local symbol" "$log" | tail -40 >&2
        echo "fuzz.sh: build of $1 failed (full log: $log)" >&2
        exit 1
    fi
}

build_seeds_tool() {
    local log="$out/logs/build-FuzzSeeds.log"
    if ! (cd "$fuzz_package" && swift build -c debug --scratch-path .build-seeds --product FuzzSeeds) >"$log" 2>&1; then
        tail -40 "$log" >&2
        echo "fuzz.sh: build of FuzzSeeds failed (full log: $log)" >&2
        exit 1
    fi
}

harness_path() { echo "$fuzz_package/.build/debug/$1"; }

regenerate_seeds() {  # NAME
    rm -rf "${out:?}/seeds/$1"
    mkdir -p "$out/seeds/$1"
    # Explicit: fuzz_one runs in an `||` list, where `set -e` does not apply, and
    # a target must not go on fuzzing from an empty corpus when its seeds broke.
    if ! "$fuzz_package/.build-seeds/debug/FuzzSeeds" "$out/seeds" "$1"; then
        echo "fuzz.sh: seed generation for $1 failed" >&2
        exit 1
    fi
}

# Flags shared by fuzzing, repro and minimize.
common_flags() {  # NAME
    local flags=(-rss_limit_mb=2048 -timeout=10 "-max_len=$(target_field "$1" 3)")
    local dict="$fuzz_package/dictionaries/$1.dict"
    [[ -f "$dict" ]] && flags+=("-dict=$dict")
    printf '%s\n' "${flags[@]}"
}

fuzz_one() {  # NAME SECONDS -> returns 1 on a crash
    local name=$1 seconds=$2 product
    product=$(target_field "$name" 2)
    build_harness "$product"
    regenerate_seeds "$name"
    mkdir -p "$out/corpus/$name" "$out/crashes/$name"
    local log="$out/logs/$name.log"
    local before
    before=$(find "$out/crashes/$name" -type f | wc -l)
    local flags
    mapfile -t flags < <(common_flags "$name")
    echo "fuzz.sh: fuzzing $name for ${seconds}s (log: ${log#"$root"/})"
    local status=0
    # shellcheck disable=SC2086  # FUZZ_EXTRA_ARGS is a list of flags
    "$(harness_path "$product")" "${flags[@]}" \
        -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$out/crashes/$name/" \
        ${FUZZ_EXTRA_ARGS:-} \
        "$out/corpus/$name" "$out/seeds/$name" >"$log" 2>&1 || status=$?

    local execs rate added corpus after crashes
    execs=$(awk -F: '/^stat::number_of_executed_units/ { s += $NF } END { print s + 0 }' "$log")
    rate=$(awk -F: '/^stat::average_exec_per_sec/ { s += $NF } END { print s + 0 }' "$log")
    added=$(awk -F: '/^stat::new_units_added/ { s += $NF } END { print s + 0 }' "$log")
    corpus=$(find "$out/corpus/$name" -type f | wc -l)
    after=$(find "$out/crashes/$name" -type f | wc -l)
    crashes=$((after - before))
    if [[ $status -ne 0 && $crashes -eq 0 ]]; then crashes=1; fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$name" "$seconds" "$execs" "$rate" "$crashes" \
        >>"$out/results.tsv"
    echo "fuzz.sh: $name: $execs executions in ${seconds}s ($rate exec/s), $added new units, corpus $corpus files, $crashes crash(es)"
    if [[ $crashes -ne 0 ]]; then
        echo "fuzz.sh: $name CRASHED (libFuzzer exit $status); the report:" >&2
        grep -v "Cannot export local symbol" "$log" | grep -A40 -m1 -E "^==[0-9]+==|Fatal error|fuzz invariant|deadly signal|SUMMARY" >&2 || tail -40 "$log" >&2
        find "$out/crashes/$name" -type f -newer "$out/logs/build-$product.log" | sed 's/^/fuzz.sh: crash input: /' >&2
        echo "fuzz.sh: reproduce with: scripts/fuzz.sh repro $name FILE; minimize with: scripts/fuzz.sh minimize $name FILE" >&2
        return 1
    fi
    return 0
}

mkdir -p "$out/logs"
[[ $# -ge 1 ]] || usage
command=$1
shift

case "$command" in
    list)
        target_names
        ;;
    repro)
        [[ $# -ge 2 ]] || usage
        require_target "$1"
        product=$(target_field "$1" 2)
        build_harness "$product"
        mapfile -t flags < <(common_flags "$1")
        shift
        exec "$(harness_path "$product")" "${flags[@]}" -runs=1 "$@"
        ;;
    minimize)
        [[ $# -ge 2 ]] || usage
        require_target "$1"
        product=$(target_field "$1" 2)
        build_harness "$product"
        mapfile -t flags < <(common_flags "$1")
        minimized="$2.min"
        "$(harness_path "$product")" "${flags[@]}" -minimize_crash=1 -max_total_time="${3:-60}" \
            -exact_artifact_path="$minimized" "$2" >"$out/logs/$1-minimize.log" 2>&1 || true
        if [[ -f "$minimized" ]]; then
            echo "fuzz.sh: minimized to $minimized ($(wc -c <"$minimized") bytes):"
            od -An -tx1 -v "$minimized"
        else
            echo "fuzz.sh: could not minimize $2 (log: $out/logs/$1-minimize.log)" >&2
            exit 1
        fi
        ;;
    all | *)
        seconds=${1:-60}
        [[ "$seconds" =~ ^[0-9]+$ ]] || usage
        if [[ "$command" == all ]]; then
            mapfile -t targets < <(target_names)
        else
            require_target "$command"
            targets=("$command")
        fi
        build_seeds_tool
        failed=()
        for name in "${targets[@]}"; do
            fuzz_one "$name" "$seconds" || failed+=("$name")
        done
        if [[ ${#failed[@]} -ne 0 ]]; then
            echo "fuzz.sh: crashes in: ${failed[*]} (inputs under fuzz-out/crashes/)" >&2
            exit 1
        fi
        ;;
esac
