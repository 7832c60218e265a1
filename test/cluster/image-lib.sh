# Sourced by test/cluster/build.sh and test/olm/build.sh: one local image from
# a root filesystem, written as a docker-archive for `ctr images import`.
# The caller defines buildah_ (buildah with its own vfs store).
#   $1 reference  $2 archive  $3 rootfs directory  $4.. buildah config arguments
commit_rootfs() {
  local ref=$1 archive=$2 rootfs=$3 c; shift 3
  c=$(buildah_ from scratch)
  buildah_ copy --quiet "$c" "$rootfs/" / >/dev/null
  buildah_ config "$@" "$c"
  buildah_ commit --quiet "$c" "$ref" >/dev/null
  buildah_ rm "$c" >/dev/null
  rm -f "$archive.tmp"
  buildah_ push --quiet "$ref" "docker-archive:$archive.tmp:$ref"
  buildah_ rmi "$ref" >/dev/null
  mv "$archive.tmp" "$archive"
}
