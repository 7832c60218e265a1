#!/usr/bin/env bash
# Builds the OLM tool chain the bundle checks and the OLM e2e test use, from
# the Go module proxy at pinned versions, cached like the test servers
# (~/.cache/vault-autopilot/bin/<go version>/, never rebuilt once there):
#
#   bundle-validate  test/olm/validate (operator-framework/api pkg/validation);
#                    its cache key also hashes its sources, so an edit rebuilds it
#   olm, catalog, cpb  operator-lifecycle-manager (OLM v0)
#   opm                operator-registry (file-based catalogs: render, validate, serve)
#   olm-image          OLM's own image for the local cluster: busybox + olm,
#                      catalog, cpb, opm (the operators, the bundle unpack
#                      job's util/opm image and the catalog server), as a
#                      docker-archive for `ctr images import`, keyed by its inputs
#   olm-crds           prints the directory of OLM's CRDs (deploy/chart/crds of the module)
#   bundle-image DIR REF ARCHIVE   a bundle image from DIR/bundle.Dockerfile (buildah), as a docker-archive
#
#   test/olm/build.sh [bundle-validate|olm|catalog|cpb|opm|olm-image|olm-crds ...]   (default: bundle-validate)
#
# Prints the path of the last thing built on its last line. All binaries are
# static (CGO_ENABLED=0): the images need no libc.
set -euo pipefail

API_VERSION=v0.36.0            # github.com/operator-framework/api
OLM_VERSION=v0.38.0            # github.com/operator-framework/operator-lifecycle-manager
REGISTRY_VERSION=v1.61.0       # github.com/operator-framework/operator-registry (the one OLM v0.38.0 requires)

HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${VAULT_AUTOPILOT_CACHE:-$HOME/.cache/vault-autopilot}"
command -v go >/dev/null || { echo "test/olm/build.sh: Go is not installed (needs Go 1.26; see README)" >&2; exit 1; }
command -v flock >/dev/null || { echo "test/olm/build.sh needs flock (util-linux)" >&2; exit 1; }
GOV="$(go env GOVERSION)"
BIN="$CACHE/bin/$GOV"
WORK="$CACHE/build"
mkdir -p "$BIN" "$WORK"
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

log() { printf '[olm-build %s] %s\n' "$(date +%T)" "$*" >&2; }

# $1 output  $2 module dir  $3 package  $4 build tags; one build per output machine-wide
build() {
  local out=$1 dir=$2 pkg=$3 tags=$4 name
  name=$(basename "$out")
  if [ -x "$out" ]; then log "$name: cached"; return; fi
  exec {fd}>"$WORK/$name.lock"
  flock "$fd"
  if [ -x "$out" ]; then log "$name: built meanwhile by another run"; flock -u "$fd"; return; fi
  log "$name: compiling $pkg (minutes when cold)"
  local start=$SECONDS
  if ! (cd "$dir" && nice -n 10 go build -trimpath -tags "$tags" -ldflags "-s -w" -o "$out.tmp" "$pkg") > "$WORK/$name.log" 2>&1; then
    log "$name: build failed:"; tail -30 "$WORK/$name.log" >&2; rm -f "$out.tmp"; exit 1
  fi
  mv "$out.tmp" "$out"
  log "$name: built in $((SECONDS - start))s"
  flock -u "$fd"
}

# OLM and opm come from one wrapper module, so both use the versions OLM was released with.
olm_module() {
  local dir="$WORK/olm-$OLM_VERSION"
  if [ ! -f "$dir/go.sum" ]; then
    mkdir -p "$dir"
    printf 'module wrapper\n\ngo 1.24.6\n\nrequire (\n\tgithub.com/operator-framework/operator-lifecycle-manager %s\n\tgithub.com/operator-framework/operator-registry %s\n)\n' \
      "$OLM_VERSION" "$REGISTRY_VERSION" > "$dir/go.mod"
    log "olm $OLM_VERSION: resolving modules"
    (cd "$dir" && go get "github.com/operator-framework/operator-lifecycle-manager/cmd/olm@$OLM_VERSION" \
      "github.com/operator-framework/operator-registry/cmd/opm@$REGISTRY_VERSION") >&2
  fi
  echo "$dir"
}

buildah_() { buildah --storage-driver vfs --root "$CACHE/olm/buildah/root" --runroot "$CACHE/olm/buildah/run" "$@"; }

source "$HERE/../cluster/image-lib.sh"

OLM_IMAGE_REF="localhost/vault-autopilot-test/olm:$OLM_VERSION"
olm_image() {
  local bins=() b
  for b in olm catalog cpb; do bins+=("$BIN/$b-$OLM_VERSION"); done
  bins+=("$BIN/opm-$REGISTRY_VERSION")
  local key; key=$( (basename -a "${bins[@]}"; sed -n '/^olm_image()/,/^}/p' "$0"; /bin/busybox 2>&1 | head -1) | sha256sum | cut -c1-16)
  local archive="$CACHE/olm/images/olm-$key.tar"
  if [ -f "$archive" ]; then log "olm image: cached"; echo "$archive"; return; fi
  command -v buildah >/dev/null || { log "olm image needs buildah (test/cluster/build.sh installs it)"; exit 1; }
  [ -x /bin/busybox ] || { log "olm image needs busybox-static"; exit 1; }
  mkdir -p "$CACHE/olm/images"
  exec {fd}>"$CACHE/olm/images.lock"; flock "$fd"
  local root="$CACHE/olm/stage"
  rm -rf "$root"; mkdir -p "$root"/{bin,etc,tmp}
  cp /bin/busybox "$root/bin/busybox"
  for b in $("$root/bin/busybox" --list); do [ "$b" = busybox ] || ln -s busybox "$root/bin/$b"; done
  for b in olm catalog cpb; do cp "$BIN/$b-$OLM_VERSION" "$root/bin/$b"; done
  cp "$BIN/opm-$REGISTRY_VERSION" "$root/bin/opm"
  printf 'root:x:0:0:root:/:/bin/sh\nolm:x:1001:1001:olm:/tmp:/bin/sh\n' > "$root/etc/passwd"
  printf 'root:x:0:\nolm:x:1001:\n' > "$root/etc/group"
  printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"
  chmod 1777 "$root/tmp"
  # the unpack job runs `/bin/cp -Rv /bin/cpb /util/cpb` and `opm alpha bundle extract`
  commit_rootfs "$OLM_IMAGE_REF" "$archive" "$root" --env PATH=/bin --user 1001 --entrypoint '["/bin/opm"]' --workingdir /tmp
  rm -rf "$root"
  flock -u "$fd"
  log "olm image: built ($OLM_IMAGE_REF)"
  echo "$archive"
}

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(bundle-validate)
last=""
for t in "${targets[@]}"; do
  case $t in
    bundle-validate)
      # the sources are part of the key: a changed validator is a new binary
      sum=$(cat "$HERE/validate/go.mod" "$HERE/validate/go.sum" "$HERE/validate/"*.go | sha256sum | cut -c1-12)
      last="$BIN/bundle-validate-api-$API_VERSION-$sum"
      build "$last" "$HERE/validate" . "" ;;
    olm | catalog)
      last="$BIN/$t-$OLM_VERSION"
      build "$last" "$(olm_module)" "github.com/operator-framework/operator-lifecycle-manager/cmd/$t" json1 ;;
    cpb)
      last="$BIN/$t-$OLM_VERSION"
      build "$last" "$(olm_module)" "github.com/operator-framework/operator-lifecycle-manager/util/cpb" json1 ;;
    opm)
      last="$BIN/opm-$REGISTRY_VERSION"
      build "$last" "$(olm_module)" "github.com/operator-framework/operator-registry/cmd/opm" json1,containers_image_openpgp ;;
    olm-image)
      bash "$0" olm catalog cpb opm >/dev/null
      last=$(olm_image) ;;
    olm-crds)
      last="$(cd "$(olm_module)" && go list -m -f '{{.Dir}}' github.com/operator-framework/operator-lifecycle-manager)/deploy/chart/crds" ;;
    bundle-image)
      [ $# -eq 4 ] || { log "usage: bundle-image DIR REF ARCHIVE"; exit 2; }
      mkdir -p "$CACHE/olm"
      exec {fd}>"$CACHE/olm/images.lock"; flock "$fd"
      buildah_ bud --quiet --isolation chroot -f "$2/bundle.Dockerfile" -t "$3" "$2" >/dev/null
      rm -f "$4"
      buildah_ push --quiet "$3" "docker-archive:$4:$3"
      buildah_ rmi "$3" >/dev/null
      flock -u "$fd"
      echo "$4"; exit 0 ;;
    *) log "unknown target $t"; exit 2 ;;
  esac
done
echo "$last"
