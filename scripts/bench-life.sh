#!/usr/bin/env bash
# Detached-container benchmark, skiff beside podman (--runtime runc), in
# one run on the same filesystem and image:
#
#   run -d    latency of `run -d IMG sleep 3600` until the command returns
#             (the container runs), 50 of each tool, interleaved
#   ps -a     with 100 containers (50 running, 50 exited) each
#   inspect   of one container
#   monitor   resident memory of skiff's per-container monitor against
#             podman's conmon: VmRSS, and Pss (shared pages split among
#             the processes that map them), averaged over the 50 running
#
# Prints medians in ms and skiff's speed-up (podman / skiff).
#
# Usage: scripts/bench-life.sh [--rounds N] [--keep]
#   --rounds N            timed rounds of ps -a and inspect (default 30)
#   --keep                keep the work directory
#   SKIFF=/path/to/skiff  use that binary instead of building a release one
# Needs root, busybox-static, docker-registry, skopeo, podman, runc, jq,
# curl, python3, e2fsprogs.
set -euo pipefail

# shellcheck source=scripts/lib-bench.sh
. "$(dirname "$0")/lib-bench.sh"

rounds=30
keep=0
n=50
while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//;$d'; exit 0 ;;
    *) echo "bench-life: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench-life: run as root" >&2; exit 1; }
for t in /bin/busybox /usr/bin/docker-registry skopeo podman runc jq curl python3 mkfs.ext4; do
    command -v "$t" >/dev/null || { echo "bench-life: missing $t" >&2; exit 1; }
done

repo_root=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${SKIFF:-}" ]; then
    echo "== building skiff (release)" >&2
    (cd "$repo_root" && cargo build --release --locked --quiet)
    SKIFF="${CARGO_TARGET_DIR:-$repo_root/target}/release/skiff"
fi

work=$(mktemp -d /var/tmp/skiff-bench-life.XXXXXX)
mnt="$work/mnt"
run_dir=$(mktemp -d /run/sbl.XXXXXX)
reg_pid=""
skiff=("$SKIFF" --root "$mnt/skiff" --runroot "$run_dir/skiff")
podman=(podman --root "$mnt/podman" --runroot "$run_dir/podman" --storage-driver overlay
    --cgroup-manager cgroupfs --events-backend none --runtime runc)
# Podman raises rlimits above this machine's hard limits unless told.
limits=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096)

cleanup() {
    set +e
    "${skiff[@]}" rm -f $("${skiff[@]}" ps -aq 2>/dev/null) >/dev/null 2>&1
    "${podman[@]}" rm -fa -t 0 >/dev/null 2>&1
    drop_store_bridge "$mnt/skiff"
    [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null && wait "$reg_pid" 2>/dev/null
    grep -F " $mnt/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l
    mountpoint -q "$mnt" && umount "$mnt"
    rm -rf "$run_dir"
    if [ "$keep" -eq 0 ]; then rm -rf "$work"; else echo "kept $work" >&2; fi
}
trap cleanup EXIT

bench_fs "$work" "$mnt"
busybox_image "$work" "$mnt"
echo "== pulling $ref into skiff and podman" >&2
"${skiff[@]}" pull -q "$ref" >/dev/null
"${podman[@]}" pull -q --tls-verify=false "$ref" >/dev/null

ms() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", (b - a) * 1000}'; }
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

declare -A t
for k in skiff_rund podman_rund skiff_ps podman_ps skiff_inspect podman_inspect; do t[$k]=""; done

echo "== $n running and $n exited containers each" >&2
for i in $(seq "$n"); do
    t0=$EPOCHREALTIME
    "${skiff[@]}" run -d --name "s$i" "$ref" sleep 3600 >/dev/null
    t1=$EPOCHREALTIME
    "${podman[@]}" run -d "${limits[@]}" --name "p$i" "$ref" sleep 3600 >/dev/null
    t2=$EPOCHREALTIME
    t[skiff_rund]+=" $(ms "$t0" "$t1")"
    t[podman_rund]+=" $(ms "$t1" "$t2")"
    "${skiff[@]}" run --name "sx$i" "$ref" true
    "${podman[@]}" run "${limits[@]}" --name "px$i" "$ref" true
done
[ "$("${skiff[@]}" ps -aq | wc -l)" -eq $((2 * n)) ] || { echo "bench-life: skiff has not $((2 * n)) containers" >&2; exit 1; }

echo "== $rounds rounds of ps -a and inspect" >&2
for _ in $(seq "$rounds"); do
    t0=$EPOCHREALTIME; "${skiff[@]}" ps -a >/dev/null
    t1=$EPOCHREALTIME; "${podman[@]}" ps -a >/dev/null
    t2=$EPOCHREALTIME; "${skiff[@]}" inspect s7 >/dev/null
    t3=$EPOCHREALTIME; "${podman[@]}" inspect p7 >/dev/null
    t4=$EPOCHREALTIME
    t[skiff_ps]+=" $(ms "$t0" "$t1")"
    t[podman_ps]+=" $(ms "$t1" "$t2")"
    t[skiff_inspect]+=" $(ms "$t2" "$t3")"
    t[podman_inspect]+=" $(ms "$t3" "$t4")"
done

# Resident memory of the monitors (kB): VmRSS and Pss, averaged.
mem_of() { # mem_of PIDS...
    local rss=0 pss=0 k=0 p
    for p in "$@"; do
        rss=$((rss + $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status")))
        pss=$((pss + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup")))
        k=$((k + 1))
    done
    [ "$k" -gt 0 ] && echo "$((rss / k)) $((pss / k)) $k" || echo "0 0 0"
}
sleep 2 # the monitors give their start-up memory back after a second
read -r s_rss s_pss s_k < <(mem_of $(pgrep -f "container-monitor" | while read -r p; do grep -qF "$mnt/skiff" "/proc/$p/cmdline" 2>/dev/null && echo "$p"; done))
read -r c_rss c_pss c_k < <(mem_of $(pgrep -x conmon))

printf '\nskiff vs podman --runtime runc, %d running + %d exited containers each, medians\n' "$n" "$n"
printf '%-10s %10s %10s %9s\n' what skiff_ms podman_ms speedup
for w in rund ps inspect; do
    s=$(echo "${t[skiff_$w]}" | median)
    p=$(echo "${t[podman_$w]}" | median)
    label=$w; [ "$w" = rund ] && label="run -d"; [ "$w" = ps ] && label="ps -a"
    printf '%-10s %10.1f %10.1f %8.1fx\n' "$label" "$s" "$p" "$(awk -v a="$p" -v b="$s" 'BEGIN {print a / b}')"
done
printf '\nper-container monitor (kB, mean of %d / %d): skiff monitor RSS %d PSS %d; conmon RSS %d PSS %d\n' \
    "$s_k" "$c_k" "$s_rss" "$s_pss" "$c_rss" "$c_pss"
