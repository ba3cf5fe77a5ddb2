#!/usr/bin/env bash
# Packs what bench/gpu/run.sh needs on a GPU machine that has no Node and no network, into
# bench/out/gpu/ (at most 64 MiB, xz): this machine's Node binary, longiseg's compiled code with its
# production dependencies (pruned: one platform of dawn.node, no source maps, no browser bundles),
# and the Vulkan loader (Debian's libvulkan1, unpacked there).
# usage: bash bench/gpu/pack.sh   (after npm ci; needs network for npm and apt-get download)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=bench/out/gpu
rm -rf "$out" && mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

npx tsc -p tsconfig.json
mkdir -p "$stage/app"
cp -r dist bin package.json package-lock.json "$stage/app/"
(cd "$stage/app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
modules="$stage/app/node_modules"
# what the benches never load: other platforms of dawn.node, elastix's WebAssembly, maps,
# typings, browser and ES-module bundles of tfjs (Node loads the *.node.js builds)
find "$modules/webgpu/dist" -mindepth 1 -maxdepth 1 ! -name linux-x64 -exec rm -rf {} +
find "$modules/@itk-wasm" "$modules/itk-wasm" -type f \( -name '*.wasm' -o -name '*.zst' \) -delete
find "$modules" \( -name '*.map' -o -name '*.d.ts' -o -name '*.min.js' -o -name '*.es2017.js' -o -name '*.esm.js' -o -name '*.fesm.js' \) -delete
find "$modules/@tensorflow" -type d \( -name src -o -name 'dist/miniprogram' \) -prune -exec rm -rf {} + 2>/dev/null || true
tar -C "$stage" -cJf "$out/app.tar.xz" app

tar -C "$(dirname "$(command -v node)")" -cJf "$out/node.tar.xz" "$(basename "$(readlink -f "$(command -v node)")")"
(cd "$stage" && apt-get download libvulkan1 >/dev/null && dpkg-deb -x libvulkan1_*.deb vulkan)
tar -C "$stage" -cJf "$out/vulkan.tar.xz" vulkan
du -ch "$out"/* | tail -1
