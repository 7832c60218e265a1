#!/usr/bin/env bash
# Builds the OLM tool chain the bundle checks and the OLM e2e test use, from
# the Go module proxy at pinned versions, cached like the test servers
# (~/.cache/vault-autopilot/bin/<go version>/, never rebuilt once there):
#
#   bundle-validate  test/olm/validate (operator-framework/api pkg/validation);
#                    its cache key also hashes its sources, so an edit rebuilds it
#   olm, catalog, cpb  operator-lifecycle-manager (OLM v0)
#   opm                operator-registry (file-based catalogs: render, validate, serve)
#
#   test/olm/build.sh [bundle-validate|olm|catalog|cpb|opm ...]   (default: bundle-validate)
#
# Prints the path of the last binary built on its last line. All binaries are
# static (CGO_ENABLED=0): the unpack image needs no libc.
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
    olm | catalog | cpb)
      last="$BIN/$t-$OLM_VERSION"
      build "$last" "$(olm_module)" "github.com/operator-framework/operator-lifecycle-manager/cmd/$t" json1 ;;
    opm)
      last="$BIN/opm-$REGISTRY_VERSION"
      build "$last" "$(olm_module)" "github.com/operator-framework/operator-registry/cmd/opm" json1,containers_image_openpgp ;;
    *) log "unknown target $t"; exit 2 ;;
  esac
done
echo "$last"
