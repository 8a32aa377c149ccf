#!/usr/bin/env bash
# The project's test command (README, .ci/run):
#   1. the whole suite;
#   2. the tests of code that runs on several threads under ThreadSanitizer (must report no race):
#      ring, aggregation, capture pipeline (one ring and sharded), snapshot writer, stats server, sd_notify;
#   3. the whole suite under AddressSanitizer (LeakSanitizer off: it reports allocations held by
#      XCTest's runner and Foundation's Process, not by this project; docs/fuzzing.md);
#   4. a fuzzing smoke run of every libFuzzer target (FUZZ_SECONDS each, default 20).
# SKIP_SANITIZERS=1 / SKIP_FUZZ=1 leave steps 2-3 / 4 out for a quick local run.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
swift test --skip-build

if [ "${SKIP_SANITIZERS:-0}" != 1 ]; then
    tsan_log=$(mktemp)
    swift test --sanitize=thread --scratch-path .build-tsan \
        --filter 'RingTests|AggregationTests|OfflineCaptureTests|ShardedPipelineTests|SnapshotWriterTests|StatsServerTests|SystemdNotifierTests' \
        --skip 'AccuracyTests' 2>&1 | tee "$tsan_log"
    if grep -q "WARNING: ThreadSanitizer" "$tsan_log"; then
        echo "test.sh: ThreadSanitizer reported a race" >&2
        exit 1
    fi
    rm -f "$tsan_log"
    ASAN_OPTIONS=detect_leaks=0 swift test --sanitize=address --scratch-path .build-asan
fi

if [ "${SKIP_FUZZ:-0}" != 1 ]; then
    scripts/fuzz.sh all "${FUZZ_SECONDS:-20}"
fi
