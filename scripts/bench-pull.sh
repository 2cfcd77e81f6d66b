#!/usr/bin/env bash
# Cold-pull benchmark: skiff against podman, skopeo and the floor.
#
# Builds a realistic image (~200 MB unpacked: four gzip layers, tens of
# thousands of small files from /usr/share and /usr/lib plus a few large
# random files), pushes it to a local registry, then times cold pulls, each
# on a freshly made ext4 in a loop-mounted file (the root filesystem here
# is ext4 without a journal, where creating many files after deleting many
# is up to 10x slower; a fresh filesystem per run keeps every tool equal):
#
#   skiff   skiff pull (release build), store on the loop fs
#   podman  podman pull, --root on the loop fs, overlay driver, runc
#   skopeo  skopeo copy docker://... oci:DIR (downloads, does not unpack)
#   floor   every layer at once: curl | tee >(sha256sum) | pigz -d |
#           tee >(sha256sum) | tar -x  (what any pull must at least do)
#
# Prints the median, min and max of N runs (default 5), ratios to the
# floor and to podman, and peak RSS (from /usr/bin/time).
#
# Usage: scripts/bench-pull.sh [--runs N] [--keep]
#   SKIFF=/path/to/skiff   use that binary instead of building a release one
#   BENCH_DIR=/path        work there instead of a new dir under /var/tmp
# Needs root (mount), docker-registry, podman, skopeo, pigz, curl, jq,
# e2fsprogs and /usr/bin/time.
set -euo pipefail

# shellcheck source=scripts/lib-bench.sh
. "$(dirname "$0")/lib-bench.sh"
# `tar ... | add_layer` must run add_layer in this shell so the arrays it
# fills survive the pipeline.
shopt -s lastpipe

runs=5
keep=0
while [ $# -gt 0 ]; do
    case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//;$d'; exit 0 ;;
    *) echo "bench-pull: unknown argument $1" >&2; exit 2 ;;
    esac
done

[ "$(id -u)" -eq 0 ] || { echo "bench-pull: run as root (loop mounts)" >&2; exit 1; }
for t in /usr/bin/docker-registry podman skopeo pigz curl jq mkfs.ext4 /usr/bin/time python3; do
    command -v "$t" >/dev/null || { echo "bench-pull: missing $t" >&2; exit 1; }
done

repo_root=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${SKIFF:-}" ]; then
    echo "== building skiff (release)" >&2
    (cd "$repo_root" && cargo build --release --locked --quiet)
    SKIFF="${CARGO_TARGET_DIR:-$repo_root/target}/release/skiff"
fi

work=${BENCH_DIR:-$(mktemp -d /var/tmp/skiff-bench.XXXXXX)}
mkdir -p "$work"
mnt="$work/mnt"
img="$work/fs.img"
# Podman's overlay driver wants a short runroot path.
prun=$(mktemp -d /tmp/pbr.XXXXXX)
reg_pid=""

cleanup() {
    set +e
    [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null && wait "$reg_pid" 2>/dev/null
    mountpoint -q "$mnt" && umount "$mnt"
    rm -rf "$prun"
    if [ "$keep" -eq 0 ]; then rm -rf "$work"; else echo "kept $work" >&2; fi
}
trap cleanup EXIT

# --- the image ---------------------------------------------------------------

# Top-level entries of DIR, in name order, until BUDGET_MB is reached;
# printed relative to /, for tar -C /.
pick() {
    local dir=$1 budget=$(($2 * 1024)) total=0 size path
    while read -r size path; do
        [ "$path" = "$dir" ] && continue
        if [ $((total + size)) -le "$budget" ]; then
            total=$((total + size))
            echo "${path#/}"
        fi
    done < <(du -k --max-depth=1 "$dir" 2>/dev/null | sort -k2)
}

layout="$work/layout"
mkdir -p "$layout/blobs/sha256" "$work/layers"
layer_descs=()
diff_ids=()

# add_layer NAME: reads a tar stream on stdin, writes a gzip blob.
add_layer() {
    local name=$1 tarf="$work/layers/$1.tar" diff dgst size
    cat >"$tarf"
    diff=$(sha256sum "$tarf" | cut -d' ' -f1)
    pigz -6 -c "$tarf" >"$tarf.gz"
    dgst=$(sha256sum "$tarf.gz" | cut -d' ' -f1)
    size=$(stat -c %s "$tarf.gz")
    mv "$tarf.gz" "$layout/blobs/sha256/$dgst"
    rm -f "$tarf"
    diff_ids+=("\"sha256:$diff\"")
    layer_descs+=("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$dgst\",\"size\":$size}")
    echo "   layer $name: $((size / 1024 / 1024)) MB compressed" >&2
}

echo "== building the image in $work" >&2
tar_opts=(--numeric-owner --owner=0 --group=0 --sort=name -cf - -C /)
mapfile -t docs < <(pick /usr/share/doc 50; pick /usr/share/man 30)
tar "${tar_opts[@]}" "${docs[@]}" | add_layer docs
mapfile -t libs < <(pick /usr/lib/python3.11 45; pick /usr/lib/x86_64-linux-gnu 30)
[ ${#libs[@]} -gt 0 ] || mapfile -t libs < <(pick /usr/lib 70)
tar "${tar_opts[@]}" "${libs[@]}" | add_layer libs
data="$work/data-src"
mkdir -p "$data/srv/data"
for i in 1 2 3 4; do head -c $((10 * 1024 * 1024)) /dev/urandom >"$data/srv/data/blob$i.bin"; done
tar --numeric-owner --owner=0 --group=0 -cf - -C "$data" srv | add_layer data
rm -rf "$data"
mapfile -t loc < <(pick /usr/share/locale 30)
tar "${tar_opts[@]}" "${loc[@]}" | add_layer locale

config=$(jq -cn --argjson diffs "[$(IFS=,; echo "${diff_ids[*]}")]" '{
    architecture: "amd64", os: "linux", created: "2024-01-01T00:00:00Z",
    config: {Cmd: ["sh"], Env: ["PATH=/usr/bin:/bin"]},
    rootfs: {type: "layers", diff_ids: $diffs}}')
write_oci_layout "$layout" "$config" "$(IFS=,; echo "${layer_descs[*]}")"

# --- the registry ------------------------------------------------------------

serve_layout "$work" "$layout" bench
layers=$(jq -r '.layers[].digest' "$layout/blobs/sha256/$man_d")
[ "$(echo "$layers" | wc -w)" -ge 3 ] || { echo "bench-pull: the image has too few layers" >&2; exit 1; }

# --- the runs ----------------------------------------------------------------

fresh_fs() {
    mountpoint -q "$mnt" && umount "$mnt"
    rm -f "$img"
    truncate -s 4G "$img"
    mkfs.ext4 -q -F "$img"
    mkdir -p "$mnt"
    mount -o loop "$img" "$mnt"
    sync
}

floor() {
    local i=0 d pids=()
    for d in $layers; do
        i=$((i + 1))
        mkdir -p "$mnt/floor/$i"
        (curl -sf "http://$host/v2/bench/blobs/$d" |
            tee >(sha256sum >"$mnt/floor/$i.compressed") |
            pigz -d |
            tee >(sha256sum >"$mnt/floor/$i.diff") |
            tar -x -C "$mnt/floor/$i") &
        pids+=($!)
    done
    # Not a bare `wait`: that would wait for the registry too.
    wait "${pids[@]}"
}

tool_cmd() {
    case "$1" in
    skiff) echo "$SKIFF --root $mnt/skiff --runroot $mnt/skiff-run pull -q $ref" ;;
    podman) echo "podman --root $mnt/podman --runroot $prun --storage-driver overlay --runtime runc --events-backend file pull -q --tls-verify=false $ref" ;;
    skopeo) echo "skopeo copy -q --src-tls-verify=false docker://$ref oci:$mnt/skopeo:bench" ;;
    floor) echo "floor" ;;
    esac
}

tools=(floor skiff podman skopeo)
declare -A times rss
for t in "${tools[@]}"; do times[$t]=""; rss[$t]=0; done

for run in $(seq "$runs"); do
    for t in "${tools[@]}"; do
        fresh_fs
        out="$work/time.$t"
        ok=1
        if [ "$t" = floor ]; then
            export -f floor
            export mnt host layers
            /usr/bin/time -f '%e %M' -o "$out" bash -c floor >/dev/null 2>"$work/err.$t" || ok=0
        else
            # shellcheck disable=SC2046 # the command line is split on purpose
            /usr/bin/time -f '%e %M' -o "$out" $(tool_cmd "$t") >/dev/null 2>"$work/err.$t" || ok=0
        fi
        if [ "$ok" -eq 0 ]; then
            echo "   run $run: $t failed: $(tail -n 2 "$work/err.$t" | tr '\n' ' ')" >&2
            continue
        fi
        read -r secs kb < <(tail -n 1 "$out")
        times[$t]="${times[$t]} $secs"
        [ "$kb" -gt "${rss[$t]}" ] && rss[$t]=$kb
        echo "   run $run: $t ${secs}s, peak RSS $((kb / 1024)) MB" >&2
    done
done

# Unpacked size and file count, from the floor's last run.
fresh_fs
floor
unpacked=$(du -sm "$mnt/floor" | cut -f1)
files=$(find "$mnt/floor" -type f | wc -l)
compressed=$(jq '[.layers[].size] | add' "$layout/blobs/sha256/$man_d")

median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
minmax() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%s %s\n", lo, hi}'; }

echo
echo "image: $(echo "$layers" | wc -l) gzip layers, $((compressed / 1024 / 1024)) MB compressed, ${unpacked} MB unpacked, $files files; $runs runs each, fresh ext4 per run"
printf '%-8s %9s %8s %8s %9s %9s %12s\n' tool median_s min_s max_s x_floor x_podman peak_rss_MB
fl=$(echo "${times[floor]}" | median)
pm=$(echo "${times[podman]}" | median)
for t in "${tools[@]}"; do
    if [ -z "${times[$t]// /}" ]; then
        printf '%-8s %9s\n' "$t" failed
        continue
    fi
    m=$(echo "${times[$t]}" | median)
    read -r lo hi < <(echo "${times[$t]}" | minmax)
    xf=$(awk -v a="$m" -v b="$fl" 'BEGIN {if (b>0 && b!="nan") printf "%.2f", a/b; else print "-"}')
    xp=$(awk -v a="$m" -v b="$pm" 'BEGIN {if (b>0 && b!="nan") printf "%.2f", a/b; else print "-"}')
    printf '%-8s %9s %8s %8s %9s %9s %12s\n' "$t" "$m" "$lo" "$hi" "$xf" "$xp" "$((rss[$t] / 1024))"
done
echo "(skopeo only downloads; the floor's RSS is its largest single process)"
