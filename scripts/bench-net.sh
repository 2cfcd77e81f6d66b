#!/usr/bin/env bash
# Network benchmark: what a published port and the bridge cost.
#
# 1. Published-port throughput and connection rate, client on the host,
#    server in a container, three paths measured in the same run,
#    interleaved (one of each per round, in a rotating order):
#
#      skiff-pub    to 127.0.0.1:HOSTPORT of `skiff run -d -p HOSTPORT:5201`
#                   (nft DNAT in skiff's table, loopback source masqueraded)
#      podman-pub   the same through `podman --runtime runc run -d -p`, on
#                   a netavark bridge network of its own
#      direct       to the skiff container's own address over the bridge,
#                   no DNAT (the floor the published path is measured
#                   against)
#
#    Throughput: iperf3 (Debian's package, installed with apt when
#    missing), its client on the host and its server in the container:
#    the host's own iperf3 binary bind-mounted into the busybox image
#    with the host's libraries (`-v /usr/lib:/lib:ro -v
#    /usr/lib64:/lib64:ro`), so both tools run the very same server and
#    no image needs building. Connection rate: a Python loop in the
#    container accepting, answering a byte and closing (the host's
#    python3 the same way, with /usr mounted), a Python loop on the host
#    connecting, reading the byte and resetting, for a fixed time: the
#    per-connection cost of the path (conntrack entry, NAT lookups)
#    shows against the direct path's.
#
# 2. Bridge set-up latency: `run --rm IMG true` with `--network bridge`
#    minus the same with `--network none`, for skiff (its default bridge)
#    and podman (its netavark network), interleaved rounds, medians.
#
# The stores live on a freshly made ext4 in a loop-mounted file (see
# lib-bench.sh), runroots on /run. Prints a table per part, with the
# ratios the targets speak of: published throughput / direct (target:
# within 10%), and the bridge's extra milliseconds (target: under 5).
#
# Usage: scripts/bench-net.sh [--rounds N] [--seconds S] [--keep]
#   --rounds N            rounds of part 1 (default 5) and 6x that of part 2
#   --seconds S           seconds per throughput / connection-rate run (3)
#   --keep                keep the work directory
#   SKIFF=/path/to/skiff  use that binary instead of building a release one
#   BENCH_DIR=/path       work there instead of a new dir under /var/tmp
# Needs root, busybox-static, docker-registry, skopeo, podman, netavark,
# runc, jq, curl, python3, e2fsprogs; installs iperf3 and netavark with
# apt-get when missing.
set -euo pipefail

# shellcheck source=scripts/lib-bench.sh
. "$(dirname "$0")/lib-bench.sh"

rounds=5
secs=3
keep=0
while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --seconds) secs="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//;$d'; exit 0 ;;
    *) echo "bench-net: unknown argument $1" >&2; exit 2 ;;
    esac
done

[ "$(id -u)" -eq 0 ] || { echo "bench-net: run as root" >&2; exit 1; }
missing=()
command -v iperf3 >/dev/null || missing+=(iperf3)
[ -x /usr/lib/podman/netavark ] || command -v netavark >/dev/null || missing+=(netavark)
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
for t in /bin/busybox /usr/bin/docker-registry skopeo podman runc jq curl python3 iperf3 mkfs.ext4; do
    command -v "$t" >/dev/null || { echo "bench-net: missing $t" >&2; exit 1; }
done
[ "${BASH_VERSINFO[0]}" -ge 5 ] || { echo "bench-net: needs bash 5" >&2; exit 1; }

repo_root=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${SKIFF:-}" ]; then
    echo "== building skiff (release)" >&2
    (cd "$repo_root" && cargo build --release --locked --quiet)
    SKIFF="${CARGO_TARGET_DIR:-$repo_root/target}/release/skiff"
fi

work=${BENCH_DIR:-$(mktemp -d /var/tmp/skiff-bench-net.XXXXXX)}
mkdir -p "$work"
mnt="$work/mnt"
run_dir=$(mktemp -d /run/sbn.XXXXXX)
reg_pid=""
podnet=skiffbench$$

skiff=("$SKIFF" --root "$mnt/skiff" --runroot "$run_dir/skiff")
podman=(podman --root "$mnt/podman" --runroot "$run_dir/podman" --storage-driver overlay
    --cgroup-manager cgroupfs --events-backend none --runtime runc --network-backend netavark)
podman_run=(run --ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096)

cleanup() {
    set +e
    [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null && wait "$reg_pid" 2>/dev/null
    "${skiff[@]}" rm -f bench-iperf bench-accept >/dev/null 2>&1
    "${podman[@]}" rm -f -t 0 bench-iperf bench-accept >/dev/null 2>&1
    "${podman[@]}" network rm -f "$podnet" >/dev/null 2>&1
    drop_store_bridge "$mnt/skiff"
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
kill "$reg_pid" 2>/dev/null && wait "$reg_pid" 2>/dev/null || true
reg_pid=""
# A netavark network of podman's own (its default 10.88.0.0/16 may be
# taken by an old CNI bridge here).
"${podman[@]}" network create --subnet 10.215.0.0/24 "$podnet" >/dev/null

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("0.0.0.0",0)); print(s.getsockname()[1])'
}

# The host's iperf3 and python3, with their libraries, inside busybox.
host_bins=(-v /usr/lib:/lib:ro -v /usr/lib64:/lib64:ro -v /usr/bin/iperf3:/bin/iperf3:ro)
host_py=(-v /usr:/usr:ro -v /usr/lib:/lib:ro -v /usr/lib64:/lib64:ro)
accept_loop='import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7000))
s.listen(1024)
while True:
    c, _ = s.accept()
    try:
        c.sendall(b"x")
        c.recv(1)
    except OSError:
        pass
    c.close()'

sp_iperf=$(free_port)
sp_accept=$(free_port)
pp_iperf=$(free_port)
pp_accept=$(free_port)
"${skiff[@]}" run -d --name bench-iperf -p "$sp_iperf:5201" "${host_bins[@]}" "$ref" iperf3 -s >/dev/null
"${skiff[@]}" run -d --name bench-accept -p "$sp_accept:7000" "${host_py[@]}" "$ref" python3 -c "$accept_loop" >/dev/null
"${podman[@]}" "${podman_run[@]}" -d --name bench-iperf --network "$podnet" -p "$pp_iperf:5201" "${host_bins[@]}" "$ref" iperf3 -s >/dev/null
"${podman[@]}" "${podman_run[@]}" -d --name bench-accept --network "$podnet" -p "$pp_accept:7000" "${host_py[@]}" "$ref" python3 -c "$accept_loop" >/dev/null
cip=$("${skiff[@]}" inspect -f '{{.NetworkSettings.IPAddress}}' bench-iperf)
aip=$("${skiff[@]}" inspect -f '{{.NetworkSettings.IPAddress}}' bench-accept)
sleep 1

# throughput ADDR PORT: Gbit/s received, one iperf3 run.
throughput() {
    iperf3 -c "$1" -p "$2" -t "$secs" -O 1 -J 2>/dev/null |
        jq -r '.end.sum_received.bits_per_second / 1e9 | . * 1000 | round / 1000'
}
# conn_rate ADDR PORT: connections per second, each opened, answered
# with a byte, and reset by the client (no TIME_WAIT on either side,
# whose reused 4-tuples would cost a SYN retransmission's second now and
# then and make the figure the port reuse's, not the path's).
conn_rate() {
    python3 - "$1" "$2" "$secs" <<'PY'
import socket, struct, sys, time
addr, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
n, end = 0, time.monotonic() + secs
linger = struct.pack("ii", 1, 0)
while time.monotonic() < end:
    s = socket.create_connection((addr, port), timeout=5)
    s.recv(1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    s.close()
    n += 1
print(round(n / secs))
PY
}

declare -A tput rate
paths=(skiff-pub podman-pub direct)
for p in "${paths[@]}"; do tput[$p]=""; rate[$p]=""; done
target() { # target PATH KIND: the address and port of PATH's server of KIND
    case "$1/$2" in
    skiff-pub/iperf) echo "127.0.0.1 $sp_iperf" ;;
    skiff-pub/accept) echo "127.0.0.1 $sp_accept" ;;
    podman-pub/iperf) echo "127.0.0.1 $pp_iperf" ;;
    podman-pub/accept) echo "127.0.0.1 $pp_accept" ;;
    direct/iperf) echo "$cip 5201" ;;
    direct/accept) echo "$aip 7000" ;;
    esac
}
# Warm-up, checking every path answers.
for p in "${paths[@]}"; do
    read -r a port < <(target "$p" iperf)
    throughput "$a" "$port" >/dev/null || { echo "bench-net: $p: iperf3 failed" >&2; exit 1; }
    read -r a port < <(target "$p" accept)
    conn_rate "$a" "$port" >/dev/null || { echo "bench-net: $p: connections failed" >&2; exit 1; }
done
echo "== part 1: $rounds rounds of ${paths[*]}, ${secs}s each" >&2
k=${#paths[@]}
for r in $(seq "$rounds"); do
    for i in $(seq 0 $((k - 1))); do
        p=${paths[$(((i + r) % k))]}
        read -r a port < <(target "$p" iperf)
        tput[$p]+=" $(throughput "$a" "$port")"
        read -r a port < <(target "$p" accept)
        rate[$p]+=" $(conn_rate "$a" "$port")"
    done
    echo "   $r/$rounds" >&2
done
for p in "${paths[@]}"; do echo "   $p: Gbit/s${tput[$p]}; conn/s${rate[$p]}" >&2; done

# --- part 2: the bridge's set-up latency -------------------------------------

n2=$((rounds * 6))
variants=(skiff-bridge skiff-none podman-bridge podman-none)
run_variant() {
    case "$1" in
    skiff-bridge) "${skiff[@]}" run --rm "$ref" true ;;
    skiff-none) "${skiff[@]}" run --rm --network none "$ref" true ;;
    podman-bridge) "${podman[@]}" "${podman_run[@]}" --rm --network "$podnet" "$ref" true ;;
    podman-none) "${podman[@]}" "${podman_run[@]}" --rm --network none "$ref" true ;;
    esac
}
declare -A lat
for v in "${variants[@]}"; do
    lat[$v]=""
    run_variant "$v" >/dev/null 2>&1 || { echo "bench-net: $v cannot run" >&2; exit 1; }
done
echo "== part 2: $n2 rounds of ${variants[*]}" >&2
k=${#variants[@]}
for r in $(seq "$n2"); do
    for i in $(seq 0 $((k - 1))); do
        v=${variants[$(((i + r) % k))]}
        t0=$EPOCHREALTIME
        run_variant "$v" >/dev/null 2>&1
        t1=$EPOCHREALTIME
        lat[$v]+=" $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) * 1000}')"
    done
done

echo
echo "published port, client on the host, server in the container; $rounds interleaved rounds, medians"
printf '%-12s %12s %10s %14s %10s\n' path Gbit_per_s x_direct conn_per_s x_direct
dt=$(echo "${tput[direct]}" | stat_of median 3)
dr=$(echo "${rate[direct]}" | stat_of median 3)
for p in "${paths[@]}"; do
    t=$(echo "${tput[$p]}" | stat_of median 3)
    c=$(echo "${rate[$p]}" | stat_of median 3)
    printf '%-12s %12s %10s %14.0f %10s\n' "$p" "$t" \
        "$(ratio "$t" "$dt" 3)" "$c" "$(ratio "$c" "$dr" 3)"
done
echo
echo "\`run --rm IMG true\`, $n2 interleaved rounds, median wall ms"
printf '%-8s %10s %10s %12s\n' tool bridge none bridge_extra
for tool in skiff podman; do
    b=$(echo "${lat[$tool-bridge]}" | stat_of median 3)
    z=$(echo "${lat[$tool-none]}" | stat_of median 3)
    printf '%-8s %10.1f %10.1f %12.1f\n' "$tool" "$b" "$z" "$(awk -v a="$b" -v b="$z" 'BEGIN {print a - b}')"
done
