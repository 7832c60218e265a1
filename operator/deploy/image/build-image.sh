#!/usr/bin/env bash
# `make image`: a two-architecture (linux/amd64 + linux/arm64) OCI image index,
# built WITHOUT a Docker daemon. Each architecture is a FROM-scratch rootfs:
#   layer 1: glibc/libstdc++/libgcc from Debian packages + the Node binary from
#            npm (node-linux-<arch>) + a non-root user (uid 65532)
#   layer 2: /app = dist/operator/ (the esbuild bundle of operator/main.ts:
#            dependencies included, no node_modules) + package.json + crds/
# and the result is written as an OCI archive that `ctr images import
# --all-platforms` (k3s airgap) and `skopeo` accept.
#
# Settings (env): SOURCE_REF (git ref to build, default HEAD; WORKTREE = the
# working tree as is), ALLOW_TYPE_ERRORS=1 (emit JS even if tsc reports errors
# in code that is still in progress), VERSION, NODE_VERSION, ARCHES,
# IMAGE_NAME, IMAGE_CACHE, OUT_DIR, ARCHIVE.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SOURCE_REF="${SOURCE_REF:-HEAD}"
DEBIAN_PACKAGES=(libc6 libgcc-s1 libstdc++6)
WORK="$IMAGE_CACHE/work"
started=$(date +%s)

ensure_tools
mkdir -p "$IMAGE_CACHE/dl" "$OUT_DIR"
rm -rf "$WORK" && mkdir -p "$WORK"

# ---------------------------------------------------------------- application
stage_sources() {
  local src="$WORK/src"
  mkdir -p "$src"
  if [ "$SOURCE_REF" = WORKTREE ]; then
    (cd "$REPO_ROOT" && tar cf - package.json package-lock.json tsconfig.json operator crds) | tar xf - -C "$src"
  else
    git -C "$REPO_ROOT" archive "$SOURCE_REF" package.json package-lock.json tsconfig.json operator crds | tar xf - -C "$src"
  fi
  # Type declarations only; the image gets its own production node_modules.
  ln -s "$REPO_ROOT/node_modules" "$src/node_modules"
  # tsc checks the types (the whole program, tests excluded); esbuild writes
  # the bundle (operator/deploy/image/esbuild.ts): only the code the operator
  # reaches, loaded without module resolution (README "Performance": memory).
  cat >"$src/tsconfig.image.json" <<'JSON'
{ "extends": "./tsconfig.json",
  "compilerOptions": { "noEmit": true, "sourceMap": false },
  "include": ["operator/**/*.ts"] }
JSON
  log "type-checking $SOURCE_REF ($(git -C "$REPO_ROOT" rev-parse --short "${SOURCE_REF/WORKTREE/HEAD}"))"
  if ! (cd "$src" && "$REPO_ROOT/node_modules/.bin/tsc" -p tsconfig.image.json); then
    [ "${ALLOW_TYPE_ERRORS:-0}" = 1 ] || die "tsc failed (ALLOW_TYPE_ERRORS=1 bundles anyway, or SOURCE_REF=<a commit that compiles>)"
    log "WARNING: tsc reported errors; continuing because ALLOW_TYPE_ERRORS=1"
  fi
  log "bundling operator/main.ts (esbuild)"
  (cd "$src" && node --import=tsx operator/deploy/image/esbuild.ts --outdir dist/operator) || die "esbuild failed"
  [ -f "$src/dist/operator/main.js" ] || die "dist/operator/main.js missing after the bundle"
}

stage_app() {
  local app="$WORK/app/app"
  mkdir -p "$app"
  # package.json: --version reads it; no node_modules: the bundle holds its dependencies
  cp "$WORK/src/package.json" "$app/"
  cp -r "$WORK/src/dist" "$app/dist"
  cp -r "$WORK/src/crds" "$app/crds"
}

# ------------------------------------------------------------------- base rootfs
ensure_foreign_arch() {
  local arch=$1
  [ "$arch" = "$(dpkg --print-architecture)" ] && return
  if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    log "dpkg --add-architecture $arch"
    dpkg --add-architecture "$arch"
    apt-get update -q >&2
  fi
}

debian_debs() {
  local arch=$1 dir="$IMAGE_CACHE/debs/$arch"
  mkdir -p "$dir"
  if ! ls "$dir"/*.deb >/dev/null 2>&1; then
    ensure_foreign_arch "$arch"
    log "apt-get download ${DEBIAN_PACKAGES[*]} ($arch)"
    local pkgs=()
    for p in "${DEBIAN_PACKAGES[@]}"; do pkgs+=("$p:$arch"); done
    (cd "$dir" && apt-get download "${pkgs[@]}" >&2) || { apt-get update -q >&2 && (cd "$dir" && apt-get download "${pkgs[@]}" >&2); }
  fi
  echo "$dir"
}

node_tarball() {
  local arch=$1 pkg tgz
  pkg="node-linux-$(node_pkg_arch "$arch")"
  tgz="$IMAGE_CACHE/dl/$pkg-$NODE_VERSION.tgz"
  if [ ! -f "$tgz" ]; then
    log "npm pack $pkg@$NODE_VERSION"
    (cd "$IMAGE_CACHE/dl" && npm pack --silent "$pkg@$NODE_VERSION" --cache "$IMAGE_CACHE/npm-cache" >/dev/null)
  fi
  echo "$tgz"
}

stage_base_rootfs() {
  local arch=$1 root="$WORK/base-$arch" debs tgz
  debs=$(debian_debs "$arch")
  tgz=$(node_tarball "$arch")
  mkdir -p "$root"
  for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$root"; done
  # Keep the shared libraries; drop docs, locales, gconv modules and helpers.
  rm -rf "$root"/usr/share/doc "$root"/usr/share/lintian "$root"/usr/share/locale "$root"/usr/share/gcc \
    "$root"/usr/share/gdb "$root"/usr/lib/*/gconv "$root"/usr/bin "$root"/usr/sbin "$root"/sbin "$root"/etc/ld.so.conf.d
  mkdir -p "$root/usr/local/bin" "$root/usr/share/licenses/node" "$root/etc" "$root/tmp" "$root/home/nonroot"
  tar xzf "$tgz" -C "$WORK" package/bin/node package/LICENSE
  mv "$WORK/package/bin/node" "$root/usr/local/bin/node"
  mv "$WORK/package/LICENSE" "$root/usr/share/licenses/node/LICENSE"
  rm -rf "$WORK/package"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%s:%s:nonroot:/home/nonroot:/sbin/nologin\n' "$NONROOT_UID" "$NONROOT_UID" >"$root/etc/passwd"
  printf 'root:x:0:\nnonroot:x:%s:\n' "$NONROOT_UID" >"$root/etc/group"
  chmod 1777 "$root/tmp"
  chown "$NONROOT_UID:$NONROOT_UID" "$root/home/nonroot"
}

# ---------------------------------------------------------------------- images
commit_arch_image() {
  local arch=$1 variant ctr created revision
  variant=$(oci_variant "$arch")
  created=$(git -C "$REPO_ROOT" log -1 --format=%ct)
  revision=$(git -C "$REPO_ROOT" rev-parse "${SOURCE_REF/WORKTREE/HEAD}")
  ctr=$(buildah_ from --arch "$arch" --os linux ${variant:+--variant "$variant"} scratch)
  buildah_ copy --quiet "$ctr" "$WORK/base-$arch/" / >/dev/null
  buildah_ commit --quiet --timestamp "$created" "$ctr" "localhost/vault-autopilot-base:$NODE_VERSION-$arch" >/dev/null
  buildah_ rm "$ctr" >/dev/null
  ctr=$(buildah_ from "localhost/vault-autopilot-base:$NODE_VERSION-$arch")
  buildah_ copy --quiet "$ctr" "$WORK/app/" / >/dev/null
  buildah_ config \
    --arch "$arch" --os linux ${variant:+--variant "$variant"} \
    --user "$NONROOT_UID:$NONROOT_UID" --workingdir /app \
    --env NODE_ENV=production --env PATH=/usr/local/bin:/usr/bin:/bin --env HOME=/home/nonroot \
    --entrypoint '["/usr/local/bin/node", "--max-opt=2", "/app/dist/operator/main.js"]' --cmd '' \
    --label org.opencontainers.image.title=vault-autopilot \
    --label org.opencontainers.image.description="Self-service HashiCorp Vault on Kubernetes" \
    --label org.opencontainers.image.version="$VERSION" \
    --label org.opencontainers.image.revision="$revision" \
    --label org.opencontainers.image.licenses=Apache-2.0 \
    --label io.vault-autopilot.node-version="$NODE_VERSION" \
    "$ctr"
  buildah_ commit --quiet --timestamp "$created" "$ctr" "localhost/vault-autopilot:$VERSION-$arch" >/dev/null
  buildah_ rm "$ctr" >/dev/null
}

stage_sources
stage_app
list="localhost/vault-autopilot:$VERSION"
buildah_ manifest rm "$list" >/dev/null 2>&1 || true
buildah_ manifest create "$list" >/dev/null
for arch in $ARCHES; do
  t0=$(date +%s)
  stage_base_rootfs "$arch"
  commit_arch_image "$arch"
  variant=$(oci_variant "$arch")
  buildah_ manifest add --arch "$arch" --os linux ${variant:+--variant "$variant"} "$list" "containers-storage:localhost/vault-autopilot:$VERSION-$arch" >/dev/null
  log "$arch image built in $(( $(date +%s) - t0 ))s"
done

rm -rf "$WORK/oci"
buildah_ manifest push --quiet --all --format oci "$list" "oci:$WORK/oci:$VERSION"
rm -f "$ARCHIVE"
skopeo copy --quiet --all "oci:$WORK/oci:$VERSION" "oci-archive:$ARCHIVE:$IMAGE_NAME:$VERSION"

log "wrote $ARCHIVE ($(human "$(stat -c %s "$ARCHIVE")")) in $(( $(date +%s) - started ))s"
"$(dirname "${BASH_SOURCE[0]}")/image-report.sh" "$ARCHIVE"
