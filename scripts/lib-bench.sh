# Shared by the bench-*.sh scripts (sourced, not run): write an OCI image
# layout and serve it from a local docker-registry.

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
