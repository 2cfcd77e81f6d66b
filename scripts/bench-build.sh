#!/usr/bin/env bash
# Build benchmark: the same multi-stage Containerfile (12 steps, a context
# of a few thousand files copied) built by skiff and by `buildah bud`, in
# one run, on a busybox base image served by a local docker-registry.
#
#   cold     a build with an empty build cache (the base image already in
#            each tool's store, as a CI runner's would be)
#   cached   the same build again with nothing changed
#
# Each tool's store lives on a freshly made ext4 (the root filesystem here
# is ext4 without a journal). Rounds interleave the tools. Prints the
# median, min and max in ms and skiff's ratio to buildah; the targets are
# cold at most 1.0x buildah's and cached at least 5x faster.
#
# Usage: scripts/bench-build.sh [--rounds N] [--files N] [--keep]
#   --rounds N            rounds per tool (default 5)
#   --files N             files in the context (default 3000)
#   --keep                keep the work directory
#   SKIFF=/path/to/skiff  use that binary instead of building a release one
# Needs root, buildah, busybox-static, docker-registry, skopeo, jq, curl,
# python3 and e2fsprogs (buildah is installed with apt-get when missing).
set -euo pipefail

# shellcheck source=scripts/lib-bench.sh
. "$(dirname "$0")/lib-bench.sh"

rounds=5
nfiles=3000
keep=0
while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --files) nfiles="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//;$d'; exit 0 ;;
    *) echo "bench-build: unknown argument $1" >&2; exit 2 ;;
    esac
done

[ "$(id -u)" -eq 0 ] || { echo "bench-build: run as root" >&2; exit 1; }
if ! command -v buildah >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends buildah >/dev/null
fi
for t in buildah /bin/busybox /usr/bin/docker-registry skopeo jq curl python3 mkfs.ext4; do
    command -v "$t" >/dev/null || { echo "bench-build: missing $t" >&2; exit 1; }
done

repo_root=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${SKIFF:-}" ]; then
    echo "== building skiff (release)" >&2
    (cd "$repo_root" && cargo build --release --locked --quiet)
    SKIFF="${CARGO_TARGET_DIR:-$repo_root/target}/release/skiff"
fi

work=$(mktemp -d /var/tmp/skiff-bench-build.XXXXXX)
mnt="$work/mnt"
sk_root="$mnt/skiff/root"
cleanup() {
    [ -n "${reg_pid:-}" ] && kill "$reg_pid" 2>/dev/null || true
    umount -l "$mnt" 2>/dev/null || true
    drop_store_bridge "$sk_root" 2>/dev/null || true
    [ "$keep" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
bench_fs "$work" "$mnt"
busybox_image "$work" "$mnt"

# --- the context -------------------------------------------------------------

ctx="$mnt/ctx"
mkdir -p "$ctx/src" "$ctx/assets"
python3 - "$ctx" "$nfiles" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "src" if i % 3 else "assets", "d%02d" % (i % 40))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.txt" % i), "w") as f:
        f.write(("line %d of a source file\n" % i) * (1 + i % 50))
PY
printf 'node_modules\n*.log\n' >"$ctx/.dockerignore"
cat >"$ctx/Containerfile" <<EOF
FROM $ref AS deps
ARG LEVEL=3
ENV APP=/app
WORKDIR /app
COPY src/ ./src/
RUN find src -type f | wc -l > count && cat src/d00/* | wc -c > size

FROM $ref AS assets
WORKDIR /assets
COPY assets/ ./
RUN ls | wc -l > count

FROM $ref
LABEL bench=build
ENV APP=/app
WORKDIR /app
COPY --from=deps /app/ ./
COPY --from=assets /assets/ ./assets/
RUN echo built > /app/stamp
USER 1000
CMD ["cat", "/app/count"]
EOF

# --- the tools ----------------------------------------------------------------

sk_run="$mnt/skiff/run"
ba_root="$mnt/buildah/root"
ba_run="$mnt/buildah/run"
sk() { "$SKIFF" --root "$sk_root" --runroot "$sk_run" "$@"; }
ba() { buildah --root "$ba_root" --runroot "$ba_run" --storage-driver overlay "$@"; }

sk pull -q "$ref" >/dev/null
ba pull -q --tls-verify=false "$ref" >/dev/null

ms() { # run a command, print its wall time in ms
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null 2>"$work/last.err" || { cat "$work/last.err" >&2; return 1; }
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000))
}

sk_cold=() sk_warm=() ba_cold=() ba_warm=()
for r in $(seq "$rounds"); do
    echo "== round $r/$rounds" >&2
    sk builder prune -f >/dev/null
    sk rmi -f bench-built >/dev/null 2>&1 || true
    sk_cold+=("$(ms sk build -q -t bench-built "$ctx")")
    sk_warm+=("$(ms sk build -q -t bench-built "$ctx")")
    ba rmi -f bench-built >/dev/null 2>&1 || true
    ba rmi -a -f >/dev/null 2>&1 || true
    ba pull -q --tls-verify=false "$ref" >/dev/null
    ba_cold+=("$(ms ba bud -q --tls-verify=false --layers -t bench-built "$ctx")")
    ba_warm+=("$(ms ba bud -q --tls-verify=false --layers -t bench-built "$ctx")")
done

# The image skiff built runs.
test "$(sk run --rm --network none bench-built)" -gt 0

row() {
    local name=$1; shift
    local vals="$*"
    printf '%-16s %10s %10s %10s\n' "$name" \
        "$(stat_of median 0 <<<"$vals")" "$(stat_of min 0 <<<"$vals")" "$(stat_of max 0 <<<"$vals")"
}
echo
echo "build of a 3-stage, 18-instruction Containerfile, $nfiles files in the context, $rounds rounds (ms)"
printf '%-16s %10s %10s %10s\n' tool median min max
row "skiff cold" "${sk_cold[*]}"
row "buildah cold" "${ba_cold[*]}"
row "skiff cached" "${sk_warm[*]}"
row "buildah cached" "${ba_warm[*]}"
sc=$(stat_of median 1 <<<"${sk_cold[*]}")
bc=$(stat_of median 1 <<<"${ba_cold[*]}")
sw=$(stat_of median 1 <<<"${sk_warm[*]}")
bw=$(stat_of median 1 <<<"${ba_warm[*]}")
echo
echo "cold:   skiff/buildah = $(ratio "$sc" "$bc") (target <= 1.0)"
echo "cached: buildah/skiff = $(ratio "$bw" "$sw") (target >= 5)"
