#!/usr/bin/env bash
# Builds everything the local cluster (test/harness/cluster.ts) runs, and
# caches it under ~/.cache/vault-autopilot with the key scheme of
# build-servers.sh (name + version + Go version; images by a hash of their
# inputs). A warm run only checks the cache and takes seconds.
#
#   test/cluster/build.sh            # packages, binaries, images
#
# 1. Debian packages when missing: containerd, runc, CNI plugins, buildah,
#    skopeo, iptables, conntrack, busybox-static, qemu-user-static, ...
# 2. Binaries (build-servers.sh): etcd, kube-apiserver, vault, local-kms and
#    kubelet, kube-controller-manager, kube-scheduler, kube-proxy, kubectl,
#    coredns; the pause binary from test/cluster/pause.
# 3. Images, built FROM scratch with buildah (vfs store in the cache) and
#    written as archives for `ctr images import` (there is no registry):
#    pause, app (busybox), coredns, vault (server + agent: busybox + the
#    harness's Vault binary), operator (`make image`, both architectures) and
#    the arm64 operator re-labelled amd64 (see test/e2e/arm64.test.ts).
#
# Prints the path of a JSON manifest (binaries, image archives, names) on its
# last line; cluster.ts reads it.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${VAULT_AUTOPILOT_CACHE:-$HOME/.cache/vault-autopilot}"
CL="$CACHE/cluster"
IMAGES="$CL/images"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
mkdir -p "$IMAGES"
STARTED=$SECONDS

log() { printf '[cluster-build %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
# A timing line: what was done and how long it took since the previous one.
lap_at=$SECONDS
took() { log "$1 ($((SECONDS - lap_at))s)"; lap_at=$SECONDS; }

# ------------------------------------------------------------ Debian packages
PACKAGES=(containerd runc containernetworking-plugins buildah skopeo umoci iptables conntrack iproute2
  busybox-static qemu-user-static socat kmod ethtool ipset openssl util-linux)
ensure_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  [ "$(id -u)" = 0 ] || die "need root to apt-get install ${missing[*]}"
  log "apt-get install ${missing[*]}"
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}
ensure_packages
took "Debian packages: ok"

# ------------------------------------------------------------------ binaries
BIN=$(bash "$REPO_ROOT/test/harness/build-servers.sh" etcd kube-apiserver vault local-kms \
  kubelet kube-controller-manager kube-scheduler kube-proxy kubectl coredns | tail -1)
took "server and node binaries: ok"
pin() { sed -n "s/^$1=\([^ #]*\).*/\1/p" "$REPO_ROOT/test/harness/build-servers.sh"; }
KUBE_VERSION=$(pin KUBE_VERSION)
VAULT_VERSION=$(pin VAULT_VERSION)
COREDNS_VERSION=$(pin COREDNS_VERSION)
GOV=$(go env GOVERSION)

# content only (sha256sum would mix in the path a caller used)
hash_of() { cat "$@" | sha256sum | cut -c1-16; }
PAUSE_KEY=$(cd "$HERE/pause" && hash_of go.mod main.go)
PAUSE_BIN="$BIN/pause-$PAUSE_KEY"
if [ ! -x "$PAUSE_BIN" ]; then
  (cd "$HERE/pause" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$PAUSE_BIN.tmp" . && mv "$PAUSE_BIN.tmp" "$PAUSE_BIN")
  log "pause: built"
fi

# -------------------------------------------------------------------- images
buildah_() { buildah --root "$CL/buildah/root" --runroot "$CL/buildah/run" --storage-driver vfs "$@"; }
# One image build at a time per machine (the vfs store and staging dirs are shared).
exec {LOCK_FD}>"$CL/images.lock"
flock "$LOCK_FD"

# This script's own content is part of every key but the operator's: a change
# of how images are made rebuilds them.
SELF_KEY=$(hash_of "${BASH_SOURCE[0]}")
BUSYBOX_VERSION=$(dpkg-query -W -f='${Version}' busybox-static)

# A busybox root filesystem: static busybox, one link per applet, users
# root, nobody and vault (uid 100, gid 1000, as in the official Vault image).
busybox_rootfs() {
  local root=$1
  rm -rf "$root" && mkdir -p "$root"/{bin,etc,tmp,root,vault/data,vault/config,vault/secrets,home/vault}
  cp /bin/busybox "$root/bin/busybox"
  local applet
  for applet in $("$root/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nvault:x:100:1000:vault:/home/vault:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nvault:x:1000:\nnobody:x:65534:\n' >"$root/etc/group"
  printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
  chmod 1777 "$root/tmp" "$root/vault" "$root/vault/data" "$root/vault/config" "$root/vault/secrets"
  chown 100:1000 "$root/home/vault"
}

source "$HERE/image-lib.sh"
# $1 name:tag  $2 archive  $3.. buildah config arguments; the rootfs is $STAGE
commit_image() { commit_rootfs "$1" "$2" "$STAGE" "${@:3}"; }

STAGE="$CL/stage"
image() { # $1 kind  $2 key -> archive path
  echo "$IMAGES/$1-$2.tar"
}

PAUSE_REF=localhost/pause:1.0
PAUSE_TAR=$(image pause "$PAUSE_KEY-$SELF_KEY")
if [ ! -f "$PAUSE_TAR" ]; then
  rm -rf "$STAGE" && mkdir -p "$STAGE" && cp "$PAUSE_BIN" "$STAGE/pause"
  commit_image "$PAUSE_REF" "$PAUSE_TAR" --entrypoint '["/pause"]'
  took "image $PAUSE_REF: built"
fi

BUSYBOX_UPSTREAM=${BUSYBOX_VERSION#*:}   # 1:1.35.0-4+deb12u1 -> 1.35.0
APP_REF=localhost/busybox:${BUSYBOX_UPSTREAM%%-*}
APP_TAR=$(image app "$(echo "$BUSYBOX_VERSION-$SELF_KEY" | sha256sum | cut -c1-16)")
if [ ! -f "$APP_TAR" ]; then
  busybox_rootfs "$STAGE"
  commit_image "$APP_REF" "$APP_TAR" --env PATH=/bin --cmd '["/bin/sh"]'
  took "image $APP_REF: built"
fi

COREDNS_REF=localhost/coredns:$COREDNS_VERSION
COREDNS_TAR=$(image coredns "$COREDNS_VERSION-$GOV-$SELF_KEY")
if [ ! -f "$COREDNS_TAR" ]; then
  rm -rf "$STAGE" && mkdir -p "$STAGE" && cp "$BIN/coredns-$COREDNS_VERSION" "$STAGE/coredns"
  commit_image "$COREDNS_REF" "$COREDNS_TAR" --entrypoint '["/coredns"]'
  took "image $COREDNS_REF: built"
fi

# Vault server and agent: the operator runs `vault server`, the injected agent
# `/bin/sh -ec '... base64 -d ... && exec vault agent ...'`.
VAULT_REF=localhost/vault:$VAULT_VERSION
VAULT_TAR=$(image vault "$VAULT_VERSION-$GOV-$(echo "$BUSYBOX_VERSION" | sha256sum | cut -c1-8)-$SELF_KEY")
if [ ! -f "$VAULT_TAR" ]; then
  busybox_rootfs "$STAGE"
  cp "$BIN/vault-$VAULT_VERSION" "$STAGE/bin/vault"
  commit_image "$VAULT_REF" "$VAULT_TAR" --env PATH=/bin --env HOME=/home/vault --user 100:1000 \
    --entrypoint '["vault"]' --cmd '["version"]'
  took "image $VAULT_REF: built"
fi

# The operator: `make image` (operator/deploy/image/build-image.sh) from the
# working tree, keyed by a hash of everything that goes into it.
IMAGE_DIR="$REPO_ROOT/operator/deploy/image"
OPERATOR_VERSION=$(node -p "require('$REPO_ROOT/package.json').version")
OPERATOR_REF="ghcr.io/vault-autopilot/vault-autopilot:$OPERATOR_VERSION"
OPERATOR_KEY=$(cd "$REPO_ROOT" && find package.json package-lock.json tsconfig.json operator crds -type f -print0 | sort -z |
  xargs -0 sha256sum | sha256sum | cut -c1-16)
OPERATOR_TAR="$IMAGES/operator-$OPERATOR_VERSION-$OPERATOR_KEY.oci.tar"
if [ ! -f "$OPERATOR_TAR" ]; then
  [ -d "$REPO_ROOT/node_modules" ] || die "npm ci first (the image compiles with the repository's TypeScript)"
  log "operator image: building (make image, source $OPERATOR_KEY)"
  SOURCE_REF=WORKTREE ARCHIVE="$OPERATOR_TAR.tmp" IMAGE_NAME="${OPERATOR_REF%:*}" VERSION="$OPERATOR_VERSION" \
    bash "$IMAGE_DIR/build-image.sh" >&2
  mv "$OPERATOR_TAR.tmp" "$OPERATOR_TAR"
  took "operator image: built"
fi

# The arm64 operator as an image the kubelet accepts on this amd64 node: its
# config says linux/amd64, its root filesystem is the arm64 variant's; the
# kernel runs its binaries through qemu-aarch64 (binfmt_misc).
ARM64_REF="localhost/vault-autopilot:$OPERATOR_VERSION-arm64-rootfs"
ARM64_TAR="$IMAGES/operator-arm64-rootfs-$OPERATOR_VERSION-$OPERATOR_KEY-$SELF_KEY.tar"
if [ ! -f "$ARM64_TAR" ]; then
  c=$(buildah_ from --quiet --arch arm64 --variant v8 "oci-archive:$OPERATOR_TAR")
  buildah_ config --arch amd64 --variant '' "$c"
  buildah_ commit --quiet "$c" "$ARM64_REF" >/dev/null
  buildah_ rm "$c" >/dev/null
  rm -f "$ARM64_TAR.tmp"
  buildah_ push --quiet "$ARM64_REF" "docker-archive:$ARM64_TAR.tmp:$ARM64_REF"
  buildah_ rmi --all >/dev/null 2>&1 || true
  mv "$ARM64_TAR.tmp" "$ARM64_TAR"
  took "image $ARM64_REF: built"
fi
rm -rf "$STAGE"
flock -u "$LOCK_FD"

# Archives no current build uses (another worktree's operator, an older Vault)
# are removed once nothing has touched them for two hours (a warm run touches its own).
touch "$PAUSE_TAR" "$APP_TAR" "$COREDNS_TAR" "$VAULT_TAR" "$OPERATOR_TAR" "$ARM64_TAR"
find "$IMAGES" -maxdepth 1 -type f -mmin +120 -delete

MANIFEST="$CL/manifest-$(echo "$REPO_ROOT" | sha256sum | cut -c1-12).json"
cat >"$MANIFEST.tmp" <<EOF
{
  "bin": "$BIN",
  "binaries": {
    "etcd": "$BIN/etcd-$(pin ETCD_VERSION)",
    "kube-apiserver": "$BIN/kube-apiserver-$KUBE_VERSION",
    "kube-controller-manager": "$BIN/kube-controller-manager-$KUBE_VERSION",
    "kube-scheduler": "$BIN/kube-scheduler-$KUBE_VERSION",
    "kubelet": "$BIN/kubelet-$KUBE_VERSION",
    "kube-proxy": "$BIN/kube-proxy-$KUBE_VERSION",
    "kubectl": "$BIN/kubectl-$KUBE_VERSION",
    "vault": "$BIN/vault-$VAULT_VERSION",
    "local-kms": "$BIN/local-kms-$(pin LOCAL_KMS_VERSION)"
  },
  "images": {
    "pause": { "ref": "$PAUSE_REF", "archive": "$PAUSE_TAR" },
    "app": { "ref": "$APP_REF", "archive": "$APP_TAR" },
    "coredns": { "ref": "$COREDNS_REF", "archive": "$COREDNS_TAR" },
    "vault": { "ref": "$VAULT_REF", "archive": "$VAULT_TAR" },
    "operator": { "ref": "$OPERATOR_REF", "archive": "$OPERATOR_TAR" },
    "operatorArm64Rootfs": { "ref": "$ARM64_REF", "archive": "$ARM64_TAR" }
  }
}
EOF
mv "$MANIFEST.tmp" "$MANIFEST"
log "done in $((SECONDS - STARTED))s"
echo "$MANIFEST"
