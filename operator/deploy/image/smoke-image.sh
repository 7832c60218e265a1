#!/usr/bin/env bash
# `make image-smoke`: proves the archive `make image` wrote is a two-platform
# index, then unpacks one variant (default arm64, as on a Raspberry Pi) and
# runs it in a chroot as uid 65532 -- under qemu-aarch64-static when the
# variant is not the host's architecture:
#   node --version, the operator's --version, --self-check (falls back to
#   loading every compiled module when the entry has no --self-check yet).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SMOKE_ARCH="${SMOKE_ARCH:-arm64}"
ensure_tools
[ -f "$ARCHIVE" ] || die "no archive at $ARCHIVE (run make image first)"
[ "$(id -u)" = 0 ] || die "chroot needs root"

dir="$IMAGE_CACHE/smoke-$SMOKE_ARCH"
rm -rf "$dir" && mkdir -p "$dir"
failures=0
pass() { printf 'ok    %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; failures=$((failures + 1)); }

platforms=$(skopeo inspect --raw "oci-archive:$ARCHIVE" | node -e '
  const list = JSON.parse(require("fs").readFileSync(0, "utf8"));
  console.log((list.manifests ?? []).map((m) => `${m.platform.os}/${m.platform.architecture}`).sort().join(" "))')
[ "$platforms" = "linux/amd64 linux/arm64" ] && pass "index platforms: $platforms" || fail "index platforms: '$platforms'"

skopeo --override-arch "$SMOKE_ARCH" --override-os linux copy --quiet "oci-archive:$ARCHIVE" "oci:$dir/oci:$SMOKE_ARCH"
umoci unpack --image "$dir/oci:$SMOKE_ARCH" "$dir/bundle" >/dev/null
rootfs="$dir/bundle/rootfs"

config_arch=$(skopeo inspect --config "oci:$dir/oci:$SMOKE_ARCH" | node -pe 'JSON.parse(require("fs").readFileSync(0,"utf8")).architecture')
config_user=$(skopeo inspect --config "oci:$dir/oci:$SMOKE_ARCH" | node -pe 'JSON.parse(require("fs").readFileSync(0,"utf8")).config.User')
[ "$config_arch" = "$SMOKE_ARCH" ] && pass "config architecture $config_arch" || fail "config architecture $config_arch"
[ "$config_user" = "$NONROOT_UID:$NONROOT_UID" ] && pass "runs as $config_user" || fail "config user '$config_user'"
file_arch=$(file -bL "$rootfs/usr/local/bin/node")
case "$SMOKE_ARCH:$file_arch" in
  arm64:*aarch64* | amd64:*x86-64*) pass "node binary: ${file_arch%%,*}, $(echo "$file_arch" | cut -d, -f2 | xargs)" ;;
  *) fail "node binary is '$file_arch'" ;;
esac

emulator=()
if [ "$SMOKE_ARCH" != "$(dpkg --print-architecture)" ]; then
  [ "$SMOKE_ARCH" = arm64 ] || die "no emulator configured for $SMOKE_ARCH"
  cp "$(command -v qemu-aarch64-static)" "$rootfs/usr/local/bin/qemu-aarch64-static"
  emulator=(/usr/local/bin/qemu-aarch64-static)
fi
# The image has no shell or env binary: run node (through the emulator) directly.
in_image() { env -i HOME=/home/nonroot PATH=/usr/local/bin "$(command -v chroot)" --userspec="$NONROOT_UID:$NONROOT_UID" "$rootfs" "${emulator[@]}" "$@"; }

out=$(in_image /usr/local/bin/node --version 2>&1) && [ "$out" = "v$NODE_VERSION" ] && pass "node --version: $out" || fail "node --version: $out"
out=$(in_image /usr/local/bin/node -p 'process.arch + " " + process.getuid()' 2>&1)
[ "$out" = "$(node_pkg_arch "$SMOKE_ARCH") $NONROOT_UID" ] && pass "process.arch/uid: $out" || fail "process.arch/uid: $out"

if [ -f "$rootfs/app/dist/operator/main.js" ]; then
  out=$(in_image /usr/local/bin/node /app/dist/operator/main.js --version 2>&1) && echo "$out" | grep -q "$VERSION" \
    && pass "vault-autopilot --version: $out" || fail "vault-autopilot --version: $out"
  out=$(in_image /usr/local/bin/node /app/dist/operator/main.js --self-check 2>&1) && echo "$out" | grep -q OK \
    && pass "vault-autopilot --self-check: $(echo "$out" | tail -1)" || fail "vault-autopilot --self-check: $(echo "$out" | tail -3)"
else
  fail "no /app/dist/operator/main.js in the image: --version and --self-check not run"
fi

# Loads every chunk of the bundle except the entry (which would start the
# operator), the lazily loaded SDKs included: the image has no node_modules,
# so this catches a dependency the bundle left out.
out=$(in_image /usr/local/bin/node --input-type=module -e '
  import { readdirSync, statSync } from "node:fs";
  const walk = (d) => readdirSync(d).flatMap((f) => statSync(`${d}/${f}`).isDirectory() ? walk(`${d}/${f}`) : [`${d}/${f}`]);
  const files = walk("/app/dist/operator").filter((f) => f.endsWith(".js") && f !== "/app/dist/operator/main.js" && !f.includes("/cli/"));
  for (const f of files) await import(f);
  console.log(`loaded ${files.length} modules OK`);' 2>&1)
echo "$out" | grep -q 'modules OK' && pass "module load: $out" || fail "module load: $(echo "$out" | tail -5)"

[ "$failures" = 0 ] && echo "image smoke ($SMOKE_ARCH): all checks passed" || { echo "image smoke ($SMOKE_ARCH): $failures check(s) failed"; exit 1; }
