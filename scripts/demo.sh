#!/usr/bin/env bash
# make demo: a source fix becomes a live patch of a running kernel (in QEMU).
# make demo-debian (--debian): the same for Debian's own cloud kernel, built by Debian: the
# patch is built from Debian's source package for that release, fetched into kp-build's
# cache (nothing is installed).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=$repo/build
fix=$repo/docs/examples/fix-uname-machine.patch
debian=
[ "${1:-}" = --debian ] && debian=1
out=$build/demo${debian:+-debian}
kp_build=$build/bin/kp-build
kpctl=$build/bin/kpctl
[ -x "$kp_build" ] && [ -x "$kpctl" ] || { echo "demo: $build/bin has no kp-build or kpctl: run 'make all' first" >&2; exit 1; }

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. The fix (a source diff against the running kernel's tree)"
sed -n '1,200p' "$fix"

step "2. kp-build turns it into a patch module"
mkdir -p "$out"
rm -f "$out/kp-demo.ko"
if [ -n "$debian" ]; then
	read -r release version < <(python3 "$repo/vm-images/debian_kernel.py" release)
	echo "Debian's cloud kernel $release (package $version); kp-build fetches its packages and source:"
	echo "\$ build/bin/kp-build --kernel $release --patch $(basename "$fix") -o build/demo-debian/kp-demo.ko"
	"$kp_build" --kernel "$release" --patch "$fix" -o "$out/kp-demo.ko" -n kp-demo
else
	echo "\$ build/bin/kp-build --src build/linux --patch $(basename "$fix") -o build/demo/kp-demo.ko"
	"$kp_build" --src "$build/linux" --cache-dir "$build/kp-build-cache" --patch "$fix" \
		-o "$out/kp-demo.ko" -n kp-demo
fi
echo
echo "\$ kpctl info $(basename "$out")/kp-demo.ko"
echo "(run on the build host, which is not the kernel the patch is for: the QEMU guest below is)"
"$kpctl" info "$out/kp-demo.ko"

if [ -n "$debian" ]; then what="Debian's own kernel"; else what="the test kernel"; fi
step "3. Boot $what in QEMU and patch it live"
script=$(mktemp)
trap 'rm -f "$script"' EXIT
cat > "$script" <<'GUEST'
set -e
say() { echo; echo "# $*"; }
expect() { [ "$(uname -m)" = "$1" ] || { echo "demo: uname -m is '$(uname -m)', expected '$1'"; exit 1; }; }
say "before the patch:"
echo "\$ uname -m"; uname -m
orig=$(uname -m)
say "load the patch (kpctl checks the build ID, loads kp_core.ko, follows the switch):"
echo "\$ kpctl load kp-demo.ko"; kpctl load /kp/kp-demo.ko
say "after the patch, same running kernel, no reboot:"
echo "\$ uname -m"; uname -m
expect kp-demo-fixed
echo "\$ kpctl status"; kpctl status
say "unload the patch:"
echo "\$ kpctl unload kp-demo"; kpctl unload kp-demo
echo "\$ uname -m"; uname -m
expect "$orig"
GUEST
python3 "$repo/vm-images/kpvm.py" ${debian:+--kernel debian-cloud} --script "$script" --timeout 300 \
	--file "/kp/kp-demo.ko=$out/kp-demo.ko" --file "/kp/kp_core.ko=$out/kp_core.ko" \
	--file "/kp/bin/kpctl=$kpctl"
step "Done: the kernel was patched and unpatched while running."
