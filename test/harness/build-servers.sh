#!/usr/bin/env bash
# Builds the real servers the integration suite runs against, from the Go
# module proxy, at pinned versions. Binaries are cached outside the repository
# (keyed by name + version + Go version) and a cached binary is never rebuilt.
#
#   test/harness/build-servers.sh [etcd|kube-apiserver|vault|local-kms ...]
#   test/harness/build-servers.sh vault-k8s vegeta    (benchmark peer + load generator)
#
# The local cluster (test/cluster/build.sh) adds kubelet, kube-controller-manager,
# kube-scheduler, kube-proxy, kubectl (same version and wrapper module as
# kube-apiserver, so the Go build cache is shared) and coredns.
#
# Prints the directory holding the binaries on its last line.
set -euo pipefail

ETCD_VERSION=v3.6.16
KUBE_VERSION=v1.36.3
VAULT_VERSION=v1.21.0          # OpenBao is refused by the proxy (403); v1.21.1+ need an untagged sdk
LOCAL_KMS_VERSION=v0.0.0-20260228092603-2a5e92d09ab6
COREDNS_VERSION=v1.14.7
# benchmark peers (test/bench/, `make bench`); never part of the default set
VAULT_K8S_VERSION=v1.6.2       # HashiCorp's Vault Agent Injector
VEGETA_VERSION=v12.13.0        # HTTP load generator

CACHE="${VAULT_AUTOPILOT_CACHE:-$HOME/.cache/vault-autopilot}"
GOV="$(go env GOVERSION)"
BIN="$CACHE/bin/$GOV"
WORK="$CACHE/build"
mkdir -p "$BIN" "$WORK"
# GOTOOLCHAIN=local unless the caller chose a toolchain (.ci/run may, when
# the machine's Go is older than the servers need).
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
command -v flock >/dev/null || { echo "build-servers.sh needs flock (util-linux)" >&2; exit 1; }

log() { printf '[build-servers %s] %s\n' "$(date +%T)" "$*" >&2; }

# A dependency's own `replace ./local` lines are ignored by Go, so each server
# is built from a small wrapper module that requires it and maps every local
# replace to a published version.
#   $1 module  $2 version  $3 function printing the version for a local path
wrapper_module() {
  local mod=$1 ver=$2 mapper=$3 dir=$4
  local gomod
  gomod=$(go mod download -json "$mod@$ver" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [ -n "$gomod" ] || { log "cannot download $mod@$ver"; return 1; }
  mkdir -p "$dir"
  {
    echo "module wrapper"
    echo
    grep -E '^go [0-9]' "$gomod" | head -1
    grep -E '^godebug' "$gomod" || true
    echo
    echo "require $mod $ver"
    echo
    # replace lines, either single-line or inside a replace ( ... ) block
    awk '/^replace \(/{b=1;next} b&&/^\)/{b=0;next} b{print;next} /^replace /{sub(/^replace /,"");print}' "$gomod" |
      while read -r from _v arrow to tover; do
        [ "$_v" = "=>" ] && { tover=$to; to=$arrow; from=$from; }
        [ -z "${to:-}" ] && continue
        if [[ "$to" == ./* || "$to" == ../* ]]; then
          local mapped; mapped=$($mapper "$from" "$gomod")
          # a local module nothing requires (e.g. a test module) needs no mapping
          if [ -n "$mapped" ]; then echo "replace $from => $from $mapped"; fi
        else
          echo "replace $from => $to ${tover:-}"
        fi
      done
  } > "$dir/go.mod"
}

# v1.36.3 -> 36
minor() { local v=${1#v*.}; echo "${v%%.*}"; }
# k8s staging modules are published as v0.<minor>.<patch>
k8s_staging_version() { echo "v0.${KUBE_VERSION#v1.}"; }
# other local replaces: the version the module itself requires
required_version() {
  awk -v m="$1" '$1==m && $2 ~ /^v/ {print $2; exit} $1=="require" && $2==m {print $3; exit}' "$2"
}

# One build of a server at a time, machine-wide: a second caller waits for
# the first and then finds the binary cached.
lock() {
  exec {LOCK_FD}>"$WORK/$1.lock"
  if ! flock -n "$LOCK_FD"; then
    log "$1: another build of it is running; waiting for it"
    flock "$LOCK_FD"
  fi
  # a build started by an older copy of this script holds no lock
  while pgrep -f -- "-o $BIN/$1.tmp" >/dev/null 2>&1; do
    log "$1: waiting for a running go build of it"; sleep 30
  done
}
unlock() { flock -u "$LOCK_FD"; exec {LOCK_FD}>&-; }

#   $7 wrapper module directory (default $name-$ver); binaries of one module
#      share it, and one lock, so they never rewrite its go.mod concurrently
build() {
  local name=$1 mod=$2 ver=$3 pkg=$4 mapper=$5 ldflags=${6:-} wrapper=${7:-$1-$3}
  local out="$BIN/$name-$ver"
  if [ -x "$out" ]; then log "$name $ver: cached ($out)"; return; fi
  lock "$wrapper"
  if [ -x "$out" ]; then log "$name $ver: built meanwhile by another run ($out)"; unlock; return; fi
  local dir="$WORK/$wrapper"
  log "$name $ver: preparing wrapper module in $dir"
  wrapper_module "$mod" "$ver" "$mapper" "$dir"
  log "$name $ver: resolving and downloading modules"
  (cd "$dir" && go get "$pkg@$ver" 2>&1 | awk '/downloading/{n++} END{printf "  %d modules downloaded\n", n}' >&2)
  log "$name $ver: compiling $pkg (this can take many minutes cold)"
  local start=$SECONDS
  local rc=0
  (cd "$dir" && go build -v -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg") 2>&1 |
    tee "$dir/build.log" | awk '{n++} n%250==0{printf "  ... %d packages compiled\n", n; fflush()}' >&2 || rc=$?
  if [ ! -x "$out.tmp" ]; then
    log "$name $ver: build failed:"; tail -30 "$dir/build.log" >&2; exit 1
  fi
  mv "$out.tmp" "$out"
  log "$name $ver: built in $((SECONDS - start))s"
  unlock
}

build_plain() {
  local name=$1 mod=$2 ver=$3
  local out="$BIN/$name-$ver"
  if [ -x "$out" ]; then log "$name $ver: cached ($out)"; return; fi
  lock "$name-$ver"
  if [ -x "$out" ]; then log "$name $ver: built meanwhile by another run ($out)"; unlock; return; fi
  log "$name $ver: go install"
  local start=$SECONDS
  GOBIN="$WORK/gobin-$name" go install -trimpath -ldflags "-s -w" "$mod@$ver"
  mv "$WORK/gobin-$name/$name" "$out"
  log "$name $ver: built in $((SECONDS - start))s"
  unlock
}

command -v go >/dev/null || { log "Go is not installed (needs Go 1.26; see README)"; exit 1; }
ALL_START=$SECONDS
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(local-kms etcd vault kube-apiserver)
for t in "${targets[@]}"; do
  case $t in
    local-kms) build_plain local-kms github.com/nsmithuk/local-kms "$LOCAL_KMS_VERSION" ;;
    etcd) build etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" go.etcd.io/etcd/server/v3 required_version ;;
    vault) build vault github.com/hashicorp/vault "$VAULT_VERSION" github.com/hashicorp/vault required_version ;;
    kube-apiserver | kubelet | kube-controller-manager | kube-scheduler | kube-proxy | kubectl)
      build "$t" k8s.io/kubernetes "$KUBE_VERSION" "k8s.io/kubernetes/cmd/$t" k8s_staging_version \
        "-X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(minor "$KUBE_VERSION")" \
        "kube-apiserver-$KUBE_VERSION" ;;
    coredns) build_plain coredns github.com/coredns/coredns "$COREDNS_VERSION" ;;
    vault-k8s) build vault-k8s github.com/hashicorp/vault-k8s "$VAULT_K8S_VERSION" github.com/hashicorp/vault-k8s required_version ;;
    vegeta) build_plain vegeta github.com/tsenart/vegeta/v12 "$VEGETA_VERSION" ;;
    *) log "unknown server $t"; exit 2 ;;
  esac
done
log "done in $((SECONDS - ALL_START))s; binaries in $BIN"
echo "$BIN"
