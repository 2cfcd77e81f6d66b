#!/usr/bin/env bash
# The core suites again, every skiff command run as an unprivileged user
# with subordinate ids (the harness's SKIFF_TEST_ROOTLESS switch: setpriv
# to the test user `skiff-rt`, made by the tests if missing). The same
# tests as root's run, against skiff's rootless mode. As root; extra
# arguments go to `cargo test` (e.g. --locked).
set -euo pipefail
cd "$(dirname "$0")/.."

SUITES=(run_basics run_options run_process run_isolation run_security run_mounts
    run_volumes run_cleanup run_signals run_tty run_escapes lifecycle logs exec
    attach health ps_inspect volume pull push auth images archive container_fs
    rootless network_userspace build build_options storage_driver userns_map run_shares)

args=()
for s in "${SUITES[@]}"; do
    args+=(--test "$s")
done
SKIFF_TEST_ROOTLESS=1 cargo test "$@" --no-fail-fast "${args[@]}" -- --test-threads=4
