#!/usr/bin/env bash
# A -ffunction-sections -fdata-sections build of the test kernel for diffgen's real-object
# tests: build/linux-fs, a link to kp-build's cached original build of build/linux.
#
# Usage: real-objects.sh [BUILD_DIR]    (default: <repo>/build)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../../build}
build=$(cd "$build" && pwd)
src=$build/linux
tree=$build/linux-fs
stamp=$build/linux-fs.stamp
jobs=${KP_JOBS:-2}
kp_build=${KP_BUILD_BIN:-$build/bin/kp-build}

[ -f "$src/.config" ] || { echo "real-objects: $src/.config not found (run 'make kernel' first)" >&2; exit 1; }
[ -x "$kp_build" ] || { echo "real-objects: $kp_build not built (run 'make all' first)" >&2; exit 1; }

# kp-build's original build of the test kernel is that tree: built once into the cache the
# integration tests and `make demo` share (build/kp-build-cache), never twice.
start=$(date +%s)
cache_tree=$("$kp_build" --src "$src" --cache-dir "$build/kp-build-cache" --cache-only -j"$jobs")
[ -f "$cache_tree/vmlinux.a" ] || { echo "real-objects: kp-build gave no built tree ($cache_tree)" >&2; exit 1; }
if [ -e "$tree" ] && [ ! -L "$tree" ]; then
	rm -rf "$tree"   # a tree of the old recipe (its own vmlinux build)
fi
ln -sfn "$cache_tree" "$tree"
echo "$cache_tree" > "$stamp"
echo "real-objects: $tree -> $cache_tree ($(( $(date +%s) - start )) s)"
