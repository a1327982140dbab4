#!/usr/bin/env bash
# Build the base initramfs of the kp test VM: busybox-static and vm-images/init.
# Usage: build-initramfs.sh OUT.cpio.gz
# The runner (kpvm.py) appends a second cpio archive with each test's files.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$1
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "build-initramfs: $busybox not found (run 'make deps')" >&2; exit 1; }
if readelf -l "$busybox" | grep -q INTERP; then
	echo "build-initramfs: $busybox is dynamically linked; install busybox-static ('make deps')" >&2
	exit 1
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,kp,etc,root}
cp "$busybox" "$root/bin/busybox"
cp "$here/init" "$root/init"
chmod 755 "$root/init"
mknod -m 600 "$root/dev/console" c 5 1
# A temporary name of this run's own: two test workers may build it at once.
(cd "$root" && find . -print0 | cpio --null -o -H newc --owner=0:0 --quiet) | gzip -9 > "$out.tmp.$$"
mv "$out.tmp.$$" "$out"
