#!/usr/bin/env bash
# Container start benchmark: `run --rm IMG true`, skiff against podman,
# bare runc and the floor, interleaved (one of each per round, in a
# rotating order so no tool always runs right after another):
#
#   skiff   skiff run --rm IMG true (release build), on the default
#           bridge network as podman's run is on its own
#   skiff-nonet  the same with --network none (a namespace with lo only,
#           as the floor's)
#   podman  podman --runtime runc run --rm IMG true, its own --root and
#           --runroot, overlay driver, cgroupfs, no events
#   runc    runc run of an equivalent bundle: the same busybox rootfs and
#           `runc spec`'s default config with args ["/bin/true"] and no
#           terminal
#   floor   unshare --fork --pid --mount --uts --ipc --net chroot ROOTFS
#           /bin/true (namespaces and an exec, nothing else)
#
# The image is a busybox-static rootfs in one gzip layer, served by a
# local docker-registry and pulled by skiff and podman before timing. The
# stores and the rootfs live on a freshly made ext4 in a loop-mounted file
# (the root filesystem here is ext4 without a journal, where creating
# files right after deleting them is slow; every tool gets the same
# filesystem), runroots on /run.
#
# Prints, per tool, the median and p90 wall time in ms and their ratio to
# the floor's, then skiff's peak RSS (GNU time, max over a few runs). A
# tool that cannot run here (runc 1.1 may fail on hybrid cgroups or on
# rlimits it cannot raise without CAP_SYS_RESOURCE) is reported with its
# error and left out.
#
# Usage: scripts/bench-start.sh [--rounds N] [--keep]
#   --rounds N            rounds of one run per tool (default 50)
#   --keep                keep the work directory
#   SKIFF=/path/to/skiff  use that binary instead of building a release one
#   BENCH_DIR=/path       work there instead of a new dir under /var/tmp
# Needs root, busybox-static, docker-registry, skopeo, podman, runc, jq,
# curl, python3, e2fsprogs and /usr/bin/time.
set -euo pipefail

# shellcheck source=scripts/lib-bench.sh
. "$(dirname "$0")/lib-bench.sh"

rounds=50
keep=0
while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//;$d'; exit 0 ;;
    *) echo "bench-start: unknown argument $1" >&2; exit 2 ;;
    esac
done

[ "$(id -u)" -eq 0 ] || { echo "bench-start: run as root" >&2; exit 1; }
for t in /bin/busybox /usr/bin/docker-registry skopeo podman runc jq curl python3 unshare mkfs.ext4 /usr/bin/time; do
    command -v "$t" >/dev/null || { echo "bench-start: missing $t" >&2; exit 1; }
done
# $EPOCHREALTIME: microsecond timestamps without forking date(1).
[ "${BASH_VERSINFO[0]}" -ge 5 ] || { echo "bench-start: needs bash 5" >&2; exit 1; }

repo_root=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${SKIFF:-}" ]; then
    echo "== building skiff (release)" >&2
    (cd "$repo_root" && cargo build --release --locked --quiet)
    SKIFF="${CARGO_TARGET_DIR:-$repo_root/target}/release/skiff"
fi

work=${BENCH_DIR:-$(mktemp -d /var/tmp/skiff-bench-start.XXXXXX)}
mkdir -p "$work"
mnt="$work/mnt"
# Volatile state on /run for every tool; podman's overlay driver also
# wants its runroot path short.
run_dir=$(mktemp -d /run/sbs.XXXXXX)
reg_pid=""

cleanup() {
    set +e
    [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null && wait "$reg_pid" 2>/dev/null
    drop_store_bridge "$mnt/skiff"
    # Anything a failed run left mounted under the bench filesystem.
    grep -F " $mnt/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l
    mountpoint -q "$mnt" && umount "$mnt"
    rm -rf "$run_dir"
    if [ "$keep" -eq 0 ]; then rm -rf "$work"; else echo "kept $work" >&2; fi
}
trap cleanup EXIT

# --- the filesystem, the rootfs and the image ---------------------------------

bench_fs "$work" "$mnt"
busybox_image "$work" "$mnt"

# --- the tools ---------------------------------------------------------------

skiff=("$SKIFF" --root "$mnt/skiff" --runroot "$run_dir/skiff")
# Podman raises RLIMIT_NOFILE (and runc then RLIMIT_NPROC) above this
# machine's hard limits unless told otherwise; without CAP_SYS_RESOURCE
# runc then fails, so both are set within reach.
podman=(podman --root "$mnt/podman" --runroot "$run_dir/podman" --storage-driver overlay
    --cgroup-manager cgroupfs --events-backend none --runtime runc)
podman_run=(run --rm --ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096)

bundle="$mnt/bundle"
mkdir -p "$bundle"
(cd "$bundle" && runc spec)
jq --arg root "$rootfs" '.process.terminal = false | .process.args = ["/bin/true"] | .root.path = $root' \
    "$bundle/config.json" >"$bundle/config.json.new"
mv "$bundle/config.json.new" "$bundle/config.json"

echo "== pulling $ref into skiff and podman" >&2
"${skiff[@]}" pull -q "$ref" >/dev/null
"${podman[@]}" pull -q --tls-verify=false "$ref" >/dev/null
kill "$reg_pid" 2>/dev/null && wait "$reg_pid" 2>/dev/null || true
reg_pid=""

n=0
run_tool() {
    case "$1" in
    skiff) "${skiff[@]}" run --rm "$ref" true ;;
    skiff-nonet) "${skiff[@]}" run --rm --network none "$ref" true ;;
    podman) "${podman[@]}" "${podman_run[@]}" "$ref" true ;;
    runc) n=$((n + 1)); runc --root "$run_dir/runc" run --bundle "$bundle" "bench-$$-$n" ;;
    floor) unshare --fork --pid --mount --uts --ipc --net chroot "$rootfs" /bin/true ;;
    esac
}

# A tool that fails here is reported and left out.
tools=()
for t in skiff skiff-nonet podman runc floor; do
    if run_tool "$t" >/dev/null 2>"$work/err.$t"; then
        tools+=("$t")
    else
        echo "== $t cannot run here, left out: $(tail -n 3 "$work/err.$t" | tr '\n' ' ')" >&2
    fi
done
[ ${#tools[@]} -gt 0 ] || { echo "bench-start: no tool runs" >&2; exit 1; }

# Warm-up: one of each, not timed.
for t in "${tools[@]}"; do run_tool "$t" >/dev/null 2>&1 || true; done

declare -A times fails
for t in "${tools[@]}"; do times[$t]=""; fails[$t]=0; done
echo "== $rounds rounds of: ${tools[*]}" >&2
k=${#tools[@]}
for r in $(seq "$rounds"); do
    for i in $(seq 0 $((k - 1))); do
        t=${tools[$(((i + r) % k))]}
        t0=$EPOCHREALTIME
        if run_tool "$t" >/dev/null 2>"$work/err.$t"; then
            t1=$EPOCHREALTIME
            times[$t]+=" $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) * 1000}')"
        else
            fails[$t]=$((fails[$t] + 1))
            echo "   round $r: $t failed: $(tail -n 2 "$work/err.$t" | tr '\n' ' ')" >&2
        fi
    done
    [ $((r % 10)) -eq 0 ] && echo "   $r/$rounds" >&2
done

# skiff's peak RSS, outside the timed loop (GNU time forks a process of
# its own).
rss_kb=0
if [[ " ${tools[*]} " == *" skiff "* ]]; then
    for _ in 1 2 3 4 5; do
        /usr/bin/time -f '%M' -o "$work/rss" "${skiff[@]}" run --rm "$ref" true >/dev/null 2>&1 || continue
        kb=$(tail -n 1 "$work/rss")
        [ "$kb" -gt "$rss_kb" ] && rss_kb=$kb
    done
fi

echo
echo "start of \`run --rm IMG true\` (busybox), $rounds interleaved rounds, wall ms"
printf '%-12s %10s %10s %10s %10s %7s\n' tool median_ms p90_ms x_floor x_floor90 failed
fm=nan
f9=nan
if [[ " ${tools[*]} " == *" floor "* ]]; then
    fm=$(echo "${times[floor]}" | stat_of median)
    f9=$(echo "${times[floor]}" | stat_of p90)
fi
for t in skiff skiff-nonet podman runc floor; do
    if [[ " ${tools[*]} " != *" $t "* ]]; then
        printf '%-12s %10s\n' "$t" "n/a"
        continue
    fi
    m=$(echo "${times[$t]}" | stat_of median)
    p=$(echo "${times[$t]}" | stat_of p90)
    xm=$(ratio "$m" "$fm")
    xp=$(ratio "$p" "$f9")
    printf '%-12s %10s %10s %10s %10s %7s\n' "$t" "$m" "$p" "$xm" "$xp" "${fails[$t]}"
done
if [ "$rss_kb" -gt 0 ]; then
    echo "skiff peak RSS: $((rss_kb / 1024)).$(((rss_kb % 1024) * 10 / 1024)) MB (${rss_kb} kB)"
fi
