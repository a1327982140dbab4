#!/usr/bin/env bash
# Build a -ffunction-sections -fdata-sections copy of the test kernel for diffgen's
# real-object tests: build/linux-fs (same .config as build/linux, vmlinux only).
#
# Usage: real-objects.sh [BUILD_DIR]    (default: <repo>/build)
# Cached by a stamp holding the tarball identity and the .config hash.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../../build}
build=$(cd "$build" && pwd)
tarball=${KP_KERNEL_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
src_config=$build/linux/.config
tree=$build/linux-fs
stamp=$build/linux-fs.stamp
jobs=${KP_JOBS:-2}

[ -f "$tarball" ] || { echo "real-objects: $tarball not found" >&2; exit 1; }
[ -f "$src_config" ] || { echo "real-objects: $src_config not found (run 'make kernel' first)" >&2; exit 1; }

key=$( { stat -c '%s %Y' "$tarball"; cat "$src_config" "$0"; } | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ] && [ -f "$tree/vmlinux" ]; then
	echo "real-objects: up to date ($tree)"
	exit 0
fi

rm -f "$stamp"
if [ ! -f "$tree/.kp-extracted" ] || [ "$(cat "$tree/.kp-extracted")" != "$(stat -c '%s %Y' "$tarball")" ]; then
	echo "real-objects: extracting $tarball into $tree"
	rm -rf "$tree" "$tree.tmp"
	mkdir -p "$tree.tmp"
	tar -xf "$tarball" -C "$tree.tmp" --strip-components=1
	mv "$tree.tmp" "$tree"
	stat -c '%s %Y' "$tarball" > "$tree/.kp-extracted"
fi

cp "$src_config" "$tree/.config"
make -C "$tree" -s olddefconfig >/dev/null
start=$(date +%s)
echo "real-objects: building vmlinux with -j$jobs and function sections (log: $build/linux-fs.log)"
if ! make -C "$tree" -j"$jobs" KCFLAGS="-ffunction-sections -fdata-sections" vmlinux > "$build/linux-fs.log" 2>&1; then
	tail -40 "$build/linux-fs.log" >&2
	echo "real-objects: build failed, full log in $build/linux-fs.log" >&2
	exit 1
fi
echo "$key" > "$stamp"
echo "real-objects: built in $(( $(date +%s) - start )) s ($tree)"
