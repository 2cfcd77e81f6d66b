# Shared by the bench-*.sh scripts (sourced, not run): the bench
# filesystem, a busybox image, an OCI image layout served by a local
# docker-registry.

# write_oci_layout LAYOUT CONFIG_JSON LAYER_DESCS: store the config, an OCI
# manifest over LAYER_DESCS (comma-joined descriptor objects) and the
# index (ref name "bench"); sets man_d to the manifest's hex digest.
write_oci_layout() {
    local layout=$1 config=$2 descs=$3 cfg_d manifest
    cfg_d=$(printf '%s' "$config" | sha256sum | cut -d' ' -f1)
    printf '%s' "$config" >"$layout/blobs/sha256/$cfg_d"
    manifest=$(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[%s]}' \
        "$cfg_d" "${#config}" "$descs")
    man_d=$(printf '%s' "$manifest" | sha256sum | cut -d' ' -f1)
    printf '%s' "$manifest" >"$layout/blobs/sha256/$man_d"
    printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
    printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"bench"}}]}' \
        "$man_d" "${#manifest}" >"$layout/index.json"
}

# serve_layout WORK LAYOUT REPO: start docker-registry on a free loopback
# port with its storage under WORK, push the layout as REPO:latest; sets
# host, ref and reg_pid (the caller's cleanup kills it).
serve_layout() {
    local work=$1 layout=$2 repo=$3 port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    host="127.0.0.1:$port"
    cat >"$work/registry.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: $host
YML
    /usr/bin/docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
    reg_pid=$!
    for _ in $(seq 100); do curl -sf "http://$host/v2/" >/dev/null && break; sleep 0.1; done
    skopeo copy -q --dest-tls-verify=false "oci:$layout:bench" "docker://$host/$repo:latest"
    ref="$host/$repo:latest"
}

# bench_fs WORK MNT: a fresh 2 GiB ext4 in WORK/fs.img, loop-mounted at MNT
# (the root filesystem here is ext4 without a journal, slow to create
# files in right after deleting many; every tool gets this one instead).
bench_fs() {
    local work=$1 mnt=$2
    truncate -s 2G "$work/fs.img"
    mkfs.ext4 -q -F "$work/fs.img"
    mkdir -p "$mnt"
    mount -o loop "$work/fs.img" "$mnt"
}

# busybox_image WORK MNT: a busybox-static rootfs at MNT/rootfs, made one
# gzip layer of an image served by a local registry; sets rootfs, host,
# ref and reg_pid.
busybox_image() {
    local work=$1 mnt=$2 layout diff lay_d lay_size config
    rootfs="$mnt/rootfs"
    mkdir -p "$rootfs"/{bin,etc,dev,proc,sys,tmp,root,home,usr/bin}
    chmod 1777 "$rootfs/tmp"
    chmod 700 "$rootfs/root"
    cp /bin/busybox "$rootfs/bin/busybox"
    for a in $(/bin/busybox --list); do
        [ "$a" = busybox ] || ln -sf busybox "$rootfs/bin/$a"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
    echo busybox >"$rootfs/etc/hostname"

    layout="$work/layout"
    mkdir -p "$layout/blobs/sha256"
    tar --numeric-owner --owner=0 --group=0 --sort=name -cf "$work/layer.tar" -C "$rootfs" .
    diff=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
    gzip -6 -n -c "$work/layer.tar" >"$work/layer.tar.gz"
    lay_d=$(sha256sum "$work/layer.tar.gz" | cut -d' ' -f1)
    lay_size=$(stat -c %s "$work/layer.tar.gz")
    mv "$work/layer.tar.gz" "$layout/blobs/sha256/$lay_d"
    rm -f "$work/layer.tar"
    config=$(jq -cn --arg diff "sha256:$diff" '{
        architecture: "amd64", os: "linux", created: "2024-01-01T00:00:00Z",
        config: {Cmd: ["sh"], Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        rootfs: {type: "layers", diff_ids: [$diff]},
        history: [{created: "2024-01-01T00:00:00Z", created_by: "busybox-static"}]}')
    write_oci_layout "$layout" "$config" "$(printf '{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}' "$lay_d" "$lay_size")"

    serve_layout "$work" "$layout" bench-busybox
}

# Remove the default network's bridge of the skiff store at $1 (a store
# other than the system's has a bridge of its own, named after its path;
# it lives as long as the store's default network, which a bench store
# outlives by nothing).
drop_store_bridge() {
    local h br
    h=$(printf '%s' "$1" | sha256sum | cut -c1-8)
    br="skiff-$h"
    ip link del "$br" 2>/dev/null || true
    # And its rules in skiff's nft table.
    command -v nft >/dev/null || return 0
    nft -a list table ip skiff 2>/dev/null |
        awk -v br="\"$br\"" '$1 == "chain" {chain = $2} index($0, br) && /# handle/ {print chain, $NF}' |
        while read -r chain handle; do
            nft delete rule ip skiff "$chain" handle "$handle" 2>/dev/null || true
        done
}

# stat_of median|p90|min|max [DECIMALS] < values: one statistic of the
# numbers read (whitespace-separated), with DECIMALS places (1); nan when
# there are none.
stat_of() {
    tr ' ' '\n' | sed '/^$/d' | sort -g | awk -v what="$1" -v places="${2:-1}" '{a[NR] = $1}
        END {
            if (NR == 0) { print "nan"; exit }
            if (what == "median") v = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
            else if (what == "min") v = a[1]
            else if (what == "max") v = a[NR]
            else { i = int(NR * 0.9 + 0.999999); if (i < 1) i = 1; v = a[i] }
            printf "%." places "f\n", v
        }'
}

# ratio A B [DECIMALS]: A / B with DECIMALS places (2), or "-" when either
# is missing.
ratio() {
    awk -v a="$1" -v b="$2" -v places="${3:-2}" \
        'BEGIN {if (b != "nan" && b > 0 && a != "nan") printf "%." places "f", a / b; else print "-"}'
}
