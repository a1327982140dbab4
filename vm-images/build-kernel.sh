#!/usr/bin/env bash
# Build the kp test kernel: Debian's linux-source-6.1, tinyconfig + vm-images/kp.config.
#
# Usage: build-kernel.sh [BUILD_DIR]          (default: <repo>/build)
#        build-kernel.sh --key [BUILD_DIR]    prints the cache key and builds nothing
# Result: BUILD_DIR/linux (configured tree with vmlinux, bzImage, modules).
# Cached: nothing is redone when the tarball, the fragment and the recipe (the functions
# configure_tree and make_kernel below) are unchanged. The rest of this script (messages,
# progress, checks) is not part of the key: changing it rebuilds nothing.
set -euo pipefail

print_key=0
if [ "${1:-}" = --key ]; then
	print_key=1
	shift
fi
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

# ---- the recipe (the cache key includes these functions' text, comments left out)
configure_tree() {
	make -C "$tree" -s tinyconfig >/dev/null
	"$tree/scripts/kconfig/merge_config.sh" -m -O "$tree" "$tree/.config" "$fragment" 2>&1 >/dev/null | { grep -v "changes choice state" || true; } >&2
	make -C "$tree" -s olddefconfig >/dev/null
}
make_kernel() {
	make -C "$tree" -j"$jobs" bzImage modules
}
# ----

# The cache key: what the tarball is (size + mtime is what dpkg changes), the fragment, the
# recipe as bash prints it (declare -f: normalised, without comments).
key=$( { stat -c '%s %Y' "$tarball"; cat "$fragment"; declare -f configure_tree make_kernel; } | sha256sum | cut -d' ' -f1)
if [ $print_key = 1 ]; then
	echo "$key"
	exit 0
fi

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
configure_tree

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

# Progress: objects done of the expected total, the previous build's count (this build
# dir's), else the count of this recipe's build checked in beside it (vm-images/kernel-objects).
expected=$(cat "$build/kernel-build.count" 2>/dev/null || cat "$here/kernel-objects" 2>/dev/null || echo 0)
echo "kernel: building with -j$jobs (log: $build/kernel-build.log)"
set +e
make_kernel 2>&1 | python3 "$here/build-progress.py" --label kernel --expected "$expected" \
	--log "$build/kernel-build.log" --count-out "$build/kernel-build.count.new"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
	tail -40 "$build/kernel-build.log" >&2
	echo "build-kernel: kernel build failed, full log in $build/kernel-build.log" >&2
	exit 1
fi
if grep -E '(^|[^a-z])warning:' "$build/kernel-build.log" | grep -v 'objtool' >/dev/null; then
	echo "kernel: note: the build printed warnings (see $build/kernel-build.log)"
fi
mv "$build/kernel-build.count.new" "$build/kernel-build.count"
echo "$key" > "$stamp"
echo "kernel: built in $(( $(date +%s) - start )) s ($tree/arch/x86/boot/bzImage)"
