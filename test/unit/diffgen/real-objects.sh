#!/usr/bin/env bash
# A -ffunction-sections -fdata-sections build of part of the test kernel for diffgen's
# real-object tests: build/linux-fs, a link to kp-build's cache tree of build/linux, with
# the original objects of a few directories (kernel/, mm/, fs/proc/, a module's fs/fuse/,
# arch/x86's mm/ and entry/) and of the integration catalogue's patches compiled by
# `kp-build --cache-only --prebuild`. The objects kp-build did not compile there have no
# -ffunction-sections in their Kbuild record; the tests pass over them.
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

# The catalogue's single-.c patches (DiffgenReal.IntegrationPatchCatalogue) need their objects.
catalogue=()
while IFS= read -r p; do
	files=$(sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$p")
	[ "$(echo "$files" | wc -l)" = 1 ] || continue
	case $files in *.c) ;; *) continue ;; esac
	obj=${files%.c}.o
	dir=$(dirname "$obj")
	[ -f "$src/$dir/.$(basename "$obj").cmd" ] && catalogue+=(--prebuild "$obj")
done < <(find "$here/../../integration/patches" -name '*.patch' | sort)

# The cache the integration tests and `make demo` share (build/kp-build-cache): the objects
# compiled here are the originals their patches find.
start=$(date +%s)
cache_tree=$("$kp_build" --src "$src" --cache-dir "$build/kp-build-cache" --cache-only -j"$jobs" \
	--prebuild kernel --prebuild mm --prebuild fs/proc --prebuild fs/fuse \
	--prebuild arch/x86/mm --prebuild arch/x86/entry "${catalogue[@]}")
[ -f "$cache_tree/kernel/sys.o" ] || { echo "real-objects: kp-build compiled no kernel/sys.o in $cache_tree" >&2; exit 1; }
if [ -e "$tree" ] && [ ! -L "$tree" ]; then
	rm -rf "$tree"   # a tree of the old recipe (its own vmlinux build)
fi
ln -sfn "$cache_tree" "$tree"
echo "$cache_tree" > "$stamp"
echo "real-objects: $tree -> $cache_tree ($(( $(date +%s) - start )) s)"
