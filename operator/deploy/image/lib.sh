# Shared settings and helpers of the daemonless image scripts (sourced, not run).
# Everything downloaded or built lives outside the repository, in $IMAGE_CACHE;
# only the final OCI archive is written to $OUT_DIR (git-ignored /build/).

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
VERSION="${VERSION:-$(node -p "require('$REPO_ROOT/package.json').version")}"
NODE_VERSION="${NODE_VERSION:-22.23.3}"
ARCHES="${ARCHES:-amd64 arm64}"
IMAGE_NAME="${IMAGE_NAME:-ghcr.io/vault-autopilot/vault-autopilot}"
IMAGE_CACHE="${IMAGE_CACHE:-$HOME/.cache/vault-autopilot/image}"
OUT_DIR="${OUT_DIR:-$REPO_ROOT/build}"
ARCHIVE="${ARCHIVE:-$OUT_DIR/vault-autopilot-$VERSION.oci.tar}"
NONROOT_UID=65532

# buildah keeps its own store in the cache (vfs: works without overlay or fuse).
buildah_() {
  buildah --root "$IMAGE_CACHE/storage" --runroot "$IMAGE_CACHE/run" --storage-driver vfs "$@"
}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Debian architecture -> the names Node's npm packages and the dynamic loader use.
node_pkg_arch() { case "$1" in amd64) echo x64 ;; arm64) echo arm64 ;; *) die "unsupported arch $1" ;; esac; }
oci_variant() { case "$1" in arm64) echo v8 ;; *) echo "" ;; esac; }

ensure_tools() {
  local missing=()
  command -v buildah >/dev/null || missing+=(buildah)
  command -v skopeo >/dev/null || missing+=(skopeo)
  command -v umoci >/dev/null || missing+=(umoci)
  command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
  command -v dpkg-deb >/dev/null || missing+=(dpkg)
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} from Debian"
    [ "$(id -u)" = 0 ] || die "need root to apt-get install ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  fi
}

# Human-readable size of a byte count.
human() { numfmt --to=iec-i --suffix=B "$1"; }
