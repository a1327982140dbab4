#!/usr/bin/env bash
# Build the kp test kernel: Debian's linux-source-6.1, tinyconfig + vm-images/kp.config.
#
# Usage: build-kernel.sh [BUILD_DIR]    (default: <repo>/build)
# Result: BUILD_DIR/linux (configured tree with vmlinux, bzImage, modules).
# Cached: nothing is redone when the tarball, the fragment and this script are unchanged.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
mkdir -p "$build"
build=$(cd "$build" && pwd)
tarball=${KP_KERNEL_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
fragment=$here/kp.config
tree=$build/linux
stamp=$build/linux.stamp
jobs=${KP_JOBS:-$(nproc)}

[ -f "$tarball" ] || { echo "build-kernel: $tarball not found (run 'make deps')" >&2; exit 1; }

# The cache key: what the tarball is (size + mtime is what dpkg changes), the fragment, this script.
key=$( { stat -c '%s %Y' "$tarball"; cat "$fragment" "$0"; } | sha256sum | cut -d' ' -f1)

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ] && [ -f "$tree/arch/x86/boot/bzImage" ]; then
	echo "kernel: up to date ($tree)"
	exit 0
fi

start=$(date +%s)
rm -f "$stamp"
if [ ! -f "$tree/.kp-extracted" ] || [ "$(cat "$tree/.kp-extracted")" != "$(stat -c '%s %Y' "$tarball")" ]; then
	echo "kernel: extracting $tarball"
	rm -rf "$tree" "$build/linux.tmp"
	mkdir -p "$build/linux.tmp"
	tar -xf "$tarball" -C "$build/linux.tmp" --strip-components=1
	mv "$build/linux.tmp" "$tree"
	stat -c '%s %Y' "$tarball" > "$tree/.kp-extracted"
fi

echo "kernel: configuring (tinyconfig + $(basename "$fragment"))"
make -C "$tree" -s tinyconfig >/dev/null
"$tree/scripts/kconfig/merge_config.sh" -m -O "$tree" "$tree/.config" "$fragment" 2>&1 >/dev/null | { grep -v "changes choice state" || true; } >&2
make -C "$tree" -s olddefconfig >/dev/null

# Every option of the fragment must have survived olddefconfig: a silently dropped option
# (unmet dependency) would make the test kernel lie about what it tests.
bad=0
while IFS= read -r line; do
	case "$line" in CONFIG_*=*) ;; *) continue ;; esac
	opt=${line%%=*}
	want=${line#*=}
	got=$(grep -E "^$opt=" "$tree/.config" | cut -d= -f2- || true)
	if [ "$got" != "$want" ]; then
		echo "build-kernel: $opt=$want requested by kp.config but the tree has '${got:-unset}'" >&2
		bad=1
	fi
done < "$fragment"
[ $bad -eq 0 ] || exit 1

echo "kernel: building with -j$jobs (log: $build/kernel-build.log)"
if ! make -C "$tree" -j"$jobs" bzImage modules > "$build/kernel-build.log" 2>&1; then
	tail -40 "$build/kernel-build.log" >&2
	echo "build-kernel: kernel build failed, full log in $build/kernel-build.log" >&2
	exit 1
fi
if grep -E '(^|[^a-z])warning:' "$build/kernel-build.log" | grep -v 'objtool' >/dev/null; then
	echo "kernel: note: the build printed warnings (see $build/kernel-build.log)"
fi
echo "$key" > "$stamp"
echo "kernel: built in $(( $(date +%s) - start )) s ($tree/arch/x86/boot/bzImage)"
