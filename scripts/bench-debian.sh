#!/usr/bin/env bash
# kp-build --kernel for Debian's own cloud kernel (issue 13), against the named peer
# "kpatch-build's way": a full build of the release's config.
#
#   1. warm: the demo fix for Debian's cloud kernel, everything cached (median of 3 runs)
#   2. the peer, extrapolated from a measured sample: how many objects the full build
#      compiles is counted exactly from Debian's -dbg package (one DWARF compilation unit per
#      object, in vmlinux and in every module: `readelf --debug-dump=aranges`; the package is
#      unpacked whole for this, 1.75 GB in the cache); every STRIDE-th C object `make -n`
#      lists is compiled in the prepared tree (timed, one job, make's own time subtracted);
#      the mean per object times their number, over 2 cores, is the full build's compile
#      time (links, BTF and signing not counted: a lower bound)
#   3. a header change read by ~20 objects (fs/proc/internal.h), warm (median of 3), and the
#      one-time cost of the release's dependency index (reported by the first run when the
#      index is not cached yet)
#   4. with KP_BENCH_COLD=1 also cold: a fresh cache (downloads, unpacking, tree preparation)
#
# Usage: scripts/bench-debian.sh      (needs make all; fetches Debian's packages once)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
kp_build=$repo/build/bin/kp-build
fix=$repo/docs/examples/fix-uname-machine.patch
header_fix=$repo/test/integration/patches/headers/proc-internal-h.patch
stride=${KP_BENCH_STRIDE:-150}
[ -x "$kp_build" ] || { echo "bench-debian: $kp_build not built (make all)" >&2; exit 1; }

read -r release version < <(python3 "$repo/vm-images/debian_kernel.py" release)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "Debian's $release ($version), its source fetched by kp-build (no --src)"

build() { # build CACHE_ARGS... -> seconds on stdout, kp-build's lines in $out/log
	local t0 t1
	t0=$(date +%s.%N)
	"$kp_build" --kernel "$release" --patch "${patch:-$fix}" -o "$out/kp-fix.ko" -j2 "$@" \
		> "$out/log" 2>&1 || { cat "$out/log" >&2; exit 1; }
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc
}

build > /dev/null # make sure everything is cached
runs=()
for _ in 1 2 3; do runs+=("$(build)"); done
warm=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p)
echo "warm: ${runs[*]} s -> median $warm s"
grep -E "^kp-build: (kernel|objects|link|diff)" "$out/log" | sed 's/(\/[^)]*)//'

tree=$(grep -o 'cache hit ([^)]*)' "$out/log" | head -1 | sed 's/cache hit (\(.*\))/\1/')
[ -d "$tree" ] || { echo "bench-debian: no prepared tree in kp-build's output" >&2; exit 1; }
vars=(CC=gcc-12 "KERNELRELEASE=$release" "KCFLAGS=-ffunction-sections -fdata-sections")
cc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\([^ ]*\).*/\1/p' "$tree/.config")
vars[0]="CC=$cc"
# The whole -dbg package (1.75 GB unpacked), in the VM side's cache, not kp-build's.
dbg=$(KP_DEBIAN_CACHE=${KP_VM_CACHE:-$HOME/.cache/kp-vm/debian} python3 "$repo/patch-tools/debian_archive.py" \
	fetch "linux-image-$release-dbg=$version" | tail -1)
cus() { xargs -r readelf --debug-dump=aranges 2>/dev/null | grep -c "Offset into .debug_info:" || true; }
n_vmlinux=$(echo "$dbg/usr/lib/debug/boot/vmlinux-$release" | cus)
n_modules=$(find "$dbg/usr/lib/debug/lib/modules" -name '*.ko' | cus)
n=$((n_vmlinux + n_modules))
[ "$n_vmlinux" -gt 1000 ] || { echo "bench-debian: only $n_vmlinux compilation units in vmlinux" >&2; exit 1; }
{ make -C "$tree" -n -k "${vars[@]}" vmlinux 2>/dev/null || true; } |
	grep -oE ' -c -o [^ ]+\.o [^ ]+\.c' | awk '{print $3}' | sort -u > "$out/objects"
awk -v s="$stride" 'NR % s == 1' "$out/objects" > "$out/sample"
k=$(wc -l < "$out/sample")
while read -r o; do rm -f "$tree/$o"; done < "$out/sample"
t0=$(date +%s.%N)
make -C "$tree" -s -j1 "${vars[@]}" $(cat "$out/sample") > /dev/null
t1=$(date +%s.%N)
t2=$(date +%s.%N)
make -C "$tree" -s -j1 "${vars[@]}" $(cat "$out/sample") > /dev/null # nothing to do: make's own time
t3=$(date +%s.%N)
per=$(echo "(($t1 - $t0) - ($t3 - $t2)) / $k" | bc -l)
full=$(echo "$per * $n / 2" | bc -l)
printf 'peer, full build of the config (kpatch-build'"'"'s way): %d objects (vmlinux %d, modules %d), sample of %d: %.2f s each -> %.0f s (%.0f min) on 2 cores, compile only\n' \
	"$n" "$n_vmlinux" "$n_modules" "$k" "$per" "$full" "$(echo "$full / 60" | bc -l)"
printf 'ratio full build / kp-build warm: %.0fx\n' "$(echo "$full / $warm" | bc -l)"

patch=$header_fix
first=$(build)
echo "header change, first run: $first s"
grep -E "^kp-build: (dependency index|objects)" "$out/log" | sed 's/(index \/[^)]*)//'
hruns=()
for _ in 1 2 3; do hruns+=("$(build)"); done
hwarm=$(printf '%s\n' "${hruns[@]}" | sort -n | sed -n 2p)
echo "header change (fs/proc/internal.h), warm: ${hruns[*]} s -> median $hwarm s"
grep -E "^kp-build: (dependency index|objects|diff|link)" "$out/log" | sed 's/(index \/[^)]*)//'
patch=$fix

if [ "${KP_BENCH_COLD:-0}" = 1 ]; then
	cold=$(build --cache-dir "$out/cold-cache")
	echo "cold (fresh cache: downloads, unpacking, tree preparation): $cold s"
	grep -E "^kp-build: (kernel|original build|objects|patched build|link)" "$out/log" | sed 's/(\/[^)]*)//'
fi
echo "reproduce: scripts/bench-debian.sh   (KP_BENCH_COLD=1 for the cold run)"
