#!/usr/bin/env bash
# An offline tour of skiff's image pipeline: build skiff, start a local
# registry, make a busybox image from Debian's busybox-static, push it, pull
# it back into a fresh store, list, inspect and save it.
# Needs root and the Debian packages docker-registry and busybox-static
# (installed here when apt-get is available).
set -euo pipefail

cd "$(dirname "$0")/.."
need=()
command -v docker-registry >/dev/null || need+=(docker-registry)
[ -x /bin/busybox ] || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
    echo "== installing ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

echo "== building skiff"
cargo build --release --quiet
skiff="$PWD/target/release/skiff"

work=$(mktemp -d /tmp/skiff-demo.XXXXXX)
cleanup() {
    [ -n "${reg_pid:-}" ] && kill "$reg_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/registry.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$port}
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 50); do
    curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
    sleep 0.1
done
echo "== registry on 127.0.0.1:$port"

mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/"
for app in sh ls cat echo true sleep ping ip; do ln -s busybox "$work/rootfs/bin/$app"; done
echo "root:x:0:0:root:/root:/bin/sh" >"$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -czf "$work/rootfs.tar.gz" .

export SKIFF_ROOT="$work/store-a" SKIFF_RUNROOT="$work/run"
ref="127.0.0.1:$port/demo/busybox:latest"
echo "== skiff import (a root file system tarball becomes an image)"
"$skiff" import --change 'CMD ["sh"]' --change 'LABEL demo=yes' "$work/rootfs.tar.gz" "$ref"
echo "== skiff push $ref"
"$skiff" push "$ref"

export SKIFF_ROOT="$work/store-b"
echo "== skiff pull $ref (into a fresh store)"
"$skiff" pull "$ref"
echo "== skiff images"
"$skiff" images
echo "== skiff image inspect --format"
"$skiff" image inspect --format '{{.Id}} {{.Architecture}} {{json .Config.Cmd}} {{.Config.Labels.demo}}' "$ref"
echo "== skiff save | tar -t"
"$skiff" save "$ref" | tar -t | head -5
echo "== skiff system check (store consistency)"
"$skiff" system check && echo "store consistent"
echo "== skiff run --rm (the built-in runtime: its own namespaces, Docker's defaults)"
"$skiff" run --rm "$ref" sh -c 'echo "hello from $(hostname), pid $$"; grep CapEff /proc/self/status'
echo "== skiff network (a user network: an address each, found by name)"
"$skiff" network rm skiff-demo >/dev/null 2>&1 || true
"$skiff" network create skiff-demo >/dev/null
"$skiff" rm -f demo-web >/dev/null 2>&1 || true
"$skiff" run -d --name demo-web --network skiff-demo "$ref" sleep 30 >/dev/null
"$skiff" run --rm --network skiff-demo "$ref" sh -c 'ip -4 -o addr show eth0; ping -c 1 -W 2 demo-web'
"$skiff" rm -f demo-web >/dev/null
"$skiff" network rm skiff-demo >/dev/null
