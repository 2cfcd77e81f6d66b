#!/usr/bin/env bash
# Rootless benchmark: what running as an unprivileged user costs, against
# skiff as root and rootless podman, in one run.
#
#   start  `run --rm --network none IMG true` (busybox), interleaved rounds:
#          skiff        as root
#          skiff-rl     as the bench user (its rootless namespace, kept by
#                       the pause process, is made by the warm-up run)
#          podman-rl    rootless podman as the bench user (runc, cgroupfs,
#                       overlay driver, no events)
#          skiff-vfs, skiff-fuse, skiff-rl-vfs, skiff-rl-fuse
#                       skiff as root and rootless with the other storage
#                       drivers forced (--storage-driver vfs: a whole copy
#                       of the image per container; fuse-overlayfs)
#   pull   a cold pull of a multi-layer image (~60 MB unpacked, thousands
#          of small files and a few large ones), each on a freshly made
#          ext4: skiff as root, skiff rootless, rootless `podman pull`.
#
# The bench user (`skiff-bench`, with subordinate ids 500000:65536) is made
# if missing. Stores live on a freshly made ext4 in a loop-mounted file
# (the root filesystem here is ext4 without a journal), owned by the bench
# user for its runs; runroots are under /run (root) and a private 0700
# directory of the user's (rootless). Networks: none for every tool (the
# rootless ones get only lo).
#
# Prints the median and p90 (start) or median, min, max (pull) in ms and
# each tool's ratio to skiff as root; the target is rootless within 1.5x.
#
# Usage: scripts/bench-rootless.sh [--rounds N] [--runs N] [--keep]
#   --rounds N            start rounds (default 30)
#   --runs N              cold pulls per tool (default 3)
#   --keep                keep the work directory
#   SKIFF=/path/to/skiff  use that binary instead of building a release one
#   BENCH_DIR=/path       work there instead of a new dir under /var/tmp
# Needs root, uidmap, busybox-static, docker-registry, skopeo, podman,
# runc, pigz, jq, curl, python3, e2fsprogs and setpriv.
set -euo pipefail

# shellcheck source=scripts/lib-bench.sh
. "$(dirname "$0")/lib-bench.sh"

rounds=30
runs=3
keep=0
while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//;$d'; exit 0 ;;
    *) echo "bench-rootless: unknown argument $1" >&2; exit 2 ;;
    esac
done

[ "$(id -u)" -eq 0 ] || { echo "bench-rootless: run as root" >&2; exit 1; }
for t in /bin/busybox /usr/bin/docker-registry skopeo podman runc pigz jq curl python3 \
    mkfs.ext4 setpriv newuidmap newgidmap; do
    command -v "$t" >/dev/null || { echo "bench-rootless: missing $t" >&2; exit 1; }
done
[ "${BASH_VERSINFO[0]}" -ge 5 ] || { echo "bench-rootless: needs bash 5" >&2; exit 1; }

repo_root=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${SKIFF:-}" ]; then
    echo "== building skiff (release)" >&2
    (cd "$repo_root" && cargo build --release --locked --quiet)
    SKIFF="${CARGO_TARGET_DIR:-$repo_root/target}/release/skiff"
fi

# --- the bench user ------------------------------------------------------------

user=skiff-bench
id "$user" >/dev/null 2>&1 ||
    useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
for f in /etc/subuid /etc/subgid; do
    grep -q "^$user:" "$f" 2>/dev/null || echo "$user:500000:65536" >>"$f"
done
uid=$(id -u "$user")
gid=$(id -g "$user")
# Rootless networking (pasta, slirp4netns) opens /dev/net/tun, which
# distributions ship open to every user; some machines have it 0600.
chmod 0666 /dev/net/tun 2>/dev/null || true
# fuse-overlayfs likewise needs /dev/fuse, which distributions ship 0666.
chmod 0666 /dev/fuse 2>/dev/null || true

work=${BENCH_DIR:-$(mktemp -d /var/tmp/skiff-bench-rl.XXXXXX)}
mkdir -p "$work"
chmod 755 "$work"
mnt="$work/mnt"
run_dir=$(mktemp -d /run/sbr.XXXXXX)
chmod 755 "$run_dir"
# The user's volatile state: private to it, as $XDG_RUNTIME_DIR would be.
urun="$run_dir/user"
mkdir -p "$urun"
chown "$uid:$gid" "$urun"
chmod 700 "$urun"
uhome="$work/home"
mkdir -p "$uhome"
chown "$uid:$gid" "$uhome"
reg_pid=""
# The binary the user runs: one it can read wherever skiff was built.
cp "$SKIFF" "$work/skiff"
chmod 755 "$work/skiff"
SKIFF="$work/skiff"

# The user's commands: its own HOME and runtime dir, nothing of root's.
as_user() {
    setpriv --reuid="$uid" --regid="$gid" --init-groups -- \
        env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$uhome" XDG_RUNTIME_DIR="$urun" "$@"
}

# The pause processes the user's tools keep (by their pid files).
stop_user_pauses() {
    local f p
    for f in "$urun/skiff/pause.pid" "$urun/libpod/tmp/pause.pid"; do
        p=$(awk '{print $1}' "$f" 2>/dev/null || true)
        [ -n "$p" ] && kill "$p" 2>/dev/null || true
        rm -f "$f"
    done
}

cleanup() {
    set +e
    [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null && wait "$reg_pid" 2>/dev/null
    stop_user_pauses
    drop_store_bridge "$mnt/skiff"
    grep -F " $mnt/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l
    mountpoint -q "$mnt" && umount "$mnt"
    rm -rf "$run_dir"
    if [ "$keep" -eq 0 ]; then rm -rf "$work"; else echo "kept $work" >&2; fi
}
trap cleanup EXIT

# fresh_fs: a new ext4 at $mnt with a store directory per tool, the
# rootless ones the user's.
fresh_fs() {
    stop_user_pauses
    if mountpoint -q "$mnt"; then umount "$mnt"; fi
    rm -f "$work/fs.img"
    bench_fs "$work" "$mnt"
    mkdir -p "$mnt/skiff" "$mnt/skiff-rl" "$mnt/podman-rl"
    chown "$uid:$gid" "$mnt/skiff-rl" "$mnt/podman-rl"
    rm -rf "${run_dir:?}/skiff" "${urun:?}/skiff" "$urun/podman" "$urun/libpod" "$urun/containers"
    sync
}

skiff=("$SKIFF" --root "$mnt/skiff" --runroot "$run_dir/skiff")
skiff_rl=("$SKIFF" --root "$mnt/skiff-rl" --runroot "$urun/skiff")
podman_rl=(podman --root "$mnt/podman-rl" --runroot "$urun/podman" --storage-driver overlay
    --cgroup-manager cgroupfs --events-backend none --runtime runc)

# --- the images ------------------------------------------------------------------

# The pull image: gzip layers of a few system directories and random data.
pull_image() {
    local layout="$work/pull-layout" descs=() diffs=() tarf d s part
    mkdir -p "$layout/blobs/sha256"
    for part in usr/share/doc usr/share/man usr/lib/python3.11 data; do
        tarf="$work/layer.tar"
        if [ "$part" = data ]; then
            mkdir -p "$work/data-src/srv"
            for i in 1 2; do head -c $((8 * 1024 * 1024)) /dev/urandom >"$work/data-src/srv/blob$i.bin"; done
            tar --numeric-owner --owner=0 --group=0 -cf "$tarf" -C "$work/data-src" srv
            rm -rf "$work/data-src"
        else
            [ -d "/$part" ] || continue
            # At most ~15 MB of each, whole top-level entries in name order.
            mapfile -t picked < <(du -k --max-depth=1 "/$part" 2>/dev/null | sort -k2 |
                awk -v top="/$part" '$2 != top && t + $1 <= 15360 {t += $1; sub("^/", "", $2); print $2}')
            [ ${#picked[@]} -gt 0 ] || continue
            tar --numeric-owner --owner=0 --group=0 --sort=name -cf "$tarf" -C / "${picked[@]}"
        fi
        d=$(sha256sum "$tarf" | cut -d' ' -f1)
        pigz -6 -c "$tarf" >"$tarf.gz"
        s=$(sha256sum "$tarf.gz" | cut -d' ' -f1)
        diffs+=("\"sha256:$d\"")
        descs+=("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$s\",\"size\":$(stat -c %s "$tarf.gz")}")
        mv "$tarf.gz" "$layout/blobs/sha256/$s"
        rm -f "$tarf"
    done
    local config
    config=$(jq -cn --argjson diffs "[$(IFS=,; echo "${diffs[*]}")]" '{
        architecture: "amd64", os: "linux", created: "2024-01-01T00:00:00Z",
        config: {Cmd: ["sh"], Env: ["PATH=/usr/bin:/bin"]},
        rootfs: {type: "layers", diff_ids: $diffs}}')
    write_oci_layout "$layout" "$config" "$(IFS=,; echo "${descs[*]}")"
    skopeo copy -q --dest-tls-verify=false "oci:$layout:bench" "docker://$host/bench-pull:latest"
    pull_ref="$host/bench-pull:latest"
}

fresh_fs
echo "== building the images" >&2
busybox_image "$work" "$mnt"
pull_image
# (The registry's storage is in $work, off the bench fs that each cold
# pull makes again.)
run_ref=$ref

# --- start -------------------------------------------------------------------------

echo "== pulling $run_ref for every tool" >&2
"${skiff[@]}" pull -q "$run_ref" >/dev/null
as_user "${skiff_rl[@]}" pull -q "$run_ref" >/dev/null
as_user "${podman_rl[@]}" pull -q --tls-verify=false "$run_ref" >/dev/null

run_tool() {
    case "$1" in
    skiff) "${skiff[@]}" run --rm --network none "$run_ref" true ;;
    skiff-rl) as_user "${skiff_rl[@]}" run --rm --network none "$run_ref" true ;;
    podman-rl) as_user "${podman_rl[@]}" run --rm --network none "$run_ref" true ;;
    # Each with its default network: root's bridge; rootless, a
    # user-space stack (skiff: pasta when installed; podman: its own).
    skiff-net) "${skiff[@]}" run --rm "$run_ref" true ;;
    skiff-rl-net) as_user "${skiff_rl[@]}" run --rm "$run_ref" true ;;
    podman-rl-net) as_user "${podman_rl[@]}" run --rm "$run_ref" true ;;
    # The other storage drivers, forced.
    skiff-vfs) "${skiff[@]}" --storage-driver vfs run --rm --network none "$run_ref" true ;;
    skiff-fuse) "${skiff[@]}" --storage-driver fuse-overlayfs run --rm --network none "$run_ref" true ;;
    skiff-rl-vfs) as_user "${skiff_rl[@]}" --storage-driver vfs run --rm --network none "$run_ref" true ;;
    skiff-rl-fuse)
        as_user "${skiff_rl[@]}" --storage-driver fuse-overlayfs run --rm --network none "$run_ref" true
        ;;
    esac
}

all=(skiff skiff-rl podman-rl skiff-net skiff-rl-net podman-rl-net skiff-vfs skiff-fuse
    skiff-rl-vfs skiff-rl-fuse)
tools=()
for t in "${all[@]}"; do
    if run_tool "$t" >/dev/null 2>"$work/err.$t"; then
        tools+=("$t")
    else
        echo "== $t cannot run here, left out: $(tail -n 3 "$work/err.$t" | tr '\n' ' ')" >&2
    fi
done
[ ${#tools[@]} -gt 0 ] || { echo "bench-rootless: no tool runs" >&2; exit 1; }

declare -A times fails
for t in "${tools[@]}"; do times[$t]=""; fails[$t]=0; done
echo "== $rounds start rounds of: ${tools[*]}" >&2
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


start_report=$(
    echo "start of \`run --rm --network none IMG true\` (busybox; the -net rows with each tool's default network; -vfs and -fuse with that storage driver), $rounds interleaved rounds, wall ms"
    printf '%-14s %10s %10s %12s %7s\n' tool median_ms p90_ms x_skiff_root failed
    base=nan
    [[ " ${tools[*]} " == *" skiff "* ]] && base=$(echo "${times[skiff]}" | stat_of median)
    for t in "${all[@]}"; do
        if [[ " ${tools[*]} " != *" $t "* ]]; then printf '%-14s %10s\n' "$t" "n/a"; continue; fi
        m=$(echo "${times[$t]}" | stat_of median)
        p=$(echo "${times[$t]}" | stat_of p90)
        printf '%-14s %10s %10s %12s %7s\n' "$t" "$m" "$p" "$(ratio "$m" "$base")" "${fails[$t]}"
    done
)

# --- pull --------------------------------------------------------------------------

pull_tool() {
    case "$1" in
    skiff) "${skiff[@]}" pull -q "$pull_ref" ;;
    skiff-rl) as_user "${skiff_rl[@]}" pull -q "$pull_ref" ;;
    podman-rl) as_user "${podman_rl[@]}" pull -q --tls-verify=false "$pull_ref" ;;
    esac
}

declare -A ptimes pfails
pulled=(skiff skiff-rl podman-rl)
for t in "${pulled[@]}"; do ptimes[$t]=""; pfails[$t]=0; done
echo "== $runs cold pulls of $pull_ref per tool" >&2
for r in $(seq "$runs"); do
    for i in 0 1 2; do
        t=${pulled[$(((i + r) % 3))]}
        fresh_fs
        t0=$EPOCHREALTIME
        if pull_tool "$t" >/dev/null 2>"$work/err.$t"; then
            t1=$EPOCHREALTIME
            ptimes[$t]+=" $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) * 1000}')"
        else
            pfails[$t]=$((pfails[$t] + 1))
            echo "   run $r: $t pull failed: $(tail -n 2 "$work/err.$t" | tr '\n' ' ')" >&2
        fi
    done
done

echo
echo "$start_report"
echo
echo "cold pull of a $(du -sh "$work/registry" 2>/dev/null | cut -f1) registry image (4 gzip layers), $runs runs each, wall ms"
printf '%-10s %10s %10s %10s %12s %7s\n' tool median_ms min_ms max_ms x_skiff_root failed
base=$(echo "${ptimes[skiff]}" | stat_of median)
for t in "${pulled[@]}"; do
    m=$(echo "${ptimes[$t]}" | stat_of median)
    printf '%-10s %10s %10s %10s %12s %7s\n' "$t" "$m" "$(echo "${ptimes[$t]}" | stat_of min)" \
        "$(echo "${ptimes[$t]}" | stat_of max)" "$(ratio "$m" "$base")" "${pfails[$t]}"
done
