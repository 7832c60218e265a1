#!/usr/bin/env bash
# Imports the OCI archive the way a k3s air-gapped node does
# (`ctr images import --all-platforms`) into a PRIVATE containerd started just
# for this check (own root, state and socket under the cache), then stops it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v containerd >/dev/null && command -v ctr >/dev/null || die "containerd/ctr not installed (apt-get install containerd)"
[ -f "$ARCHIVE" ] || die "no archive at $ARCHIVE (run make image first)"
base="$IMAGE_CACHE/containerd"
rm -rf "$base" && mkdir -p "$base"
sock="$base/containerd.sock"
cat >"$base/config.toml" <<EOF
version = 2
root = "$base/root"
state = "$base/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$sock"
EOF
containerd --config "$base/config.toml" >"$base/containerd.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.2; done
[ -S "$sock" ] || die "containerd did not start: $(tail -5 "$base/containerd.log")"

ctr_() { ctr --address "$sock" --namespace k8s.io "$@"; }
ctr_ images import --all-platforms --no-unpack "$ARCHIVE"
ctr_ images ls
ref=$(ctr_ images ls -q | grep ":$VERSION$" | head -1)
[ -n "$ref" ] || die "no image tagged $VERSION after import"
ctr_ images check | grep -q "$ref.*complete" || die "import of $ref is incomplete"
# Both platforms' content must be present: exporting one fails if a blob is missing.
for platform in linux/amd64 linux/arm64; do
  ctr_ images export --platform "$platform" "$base/export-${platform//\//-}.tar" "$ref" >/dev/null \
    || die "$platform content missing after import"
  echo "ok    $ref: $platform content present"
done
echo "ctr images import --all-platforms: OK ($ref)"
