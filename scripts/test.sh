#!/usr/bin/env bash
# The project's test command (README, .ci/run): the whole suite, then the
# ring's tests again under ThreadSanitizer, which must report no race.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
swift test --skip-build
tsan_log=$(mktemp)
swift test --sanitize=thread --scratch-path .build-tsan --filter 'RingTests' 2>&1 | tee "$tsan_log"
if grep -q "WARNING: ThreadSanitizer" "$tsan_log"; then
    echo "test.sh: ThreadSanitizer reported a race" >&2
    exit 1
fi
rm -f "$tsan_log"
