#!/usr/bin/env bash
# The whole test suite, as root: every test binary once (--no-fail-fast:
# one failure does not hide the rest; four test threads, as the tests wait
# on registries and I/O far more than on the two cores), then the core
# suites again with every skiff command run as an unprivileged user
# (scripts/test-rootless.sh). Exits non-zero if either part failed.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
cargo test --locked --no-fail-fast -- --test-threads=4 || status=$?
scripts/test-rootless.sh --locked || status=$?
exit "$status"
