#!/usr/bin/env bash
# The slow leak checks the default suite runs ten rounds of: 100 `run --rm`
# (tests/run_cleanup.rs) and 100 limited containers, foreground and
# detached (tests/cgroups.rs), each followed by a check that no container
# directory, mount, process, cgroup or runroot entry is left; and 100
# containers on a user network, half of them removed, half killed with
# their monitors (tests/network_connect.rs), followed by a check that no
# interface, lease or packet filter rule of theirs is left.
set -euo pipefail
cd "$(dirname "$0")/.."
SKIFF_SOAK=1 cargo test --locked --test run_cleanup --test cgroups --test network_connect -- \
    many_rm_runs_leave_nothing many_limited_containers_leave_no_cgroup \
    many_runs_leave_no_interface_lease_or_rule "$@"
