#!/usr/bin/env bash
# kp-build benchmarks (docs/benchmarks.md, section "kp-build").
#
#   scripts/bench-kp-build.sh          cached runs: one-function patch, header change (~20 objects)
#   scripts/bench-kp-build.sh --fs-cost [N]  gcc CPU time of N (default 60) objects of the test
#                                      kernel with and without -ffunction-sections -fdata-sections
#                                      (their own command lines; outputs in a temporary
#                                      directory; the tree is only read)
#   scripts/bench-kp-build.sh --cold   also a cold run (empty cache: the tree's copy, one
#                                      original object) and a plain `make` of a clean copy of
#                                      the same tree, for the ratio (slow: a full kernel build)
#
# "cpu" is user + system time of kp-build and its children (make, gcc): less sensitive than
# wall time to other jobs on the machine.
# Environment: RUNS (cached runs repeated for the medians, default 5), KDIR (default build/linux), JOBS (default 2), KP_BUILD_CACHE (default
# build/kp-build-cache, shared with make demo and the tests), KP_BUILD_BIN (default
# build/bin/kp-build), COLD_CACHE (--cold: the empty cache to fill; kept).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
kdir=${KDIR:-$repo/build/linux}
jobs=${JOBS:-2}
cache=${KP_BUILD_CACHE:-$repo/build/kp-build-cache}
kpb=${KP_BUILD_BIN:-$repo/build/bin/kp-build}
patches=$repo/test/integration/patches-kpbuild
[ -x "$kpb" ] || { echo "bench-kp-build: build kp-build first (make all)" >&2; exit 1; }
[ -f "$kdir/vmlinux" ] || { echo "bench-kp-build: no kernel in $kdir (make kernel)" >&2; exit 1; }
work=$(mktemp -d "$repo/build/bench-kp-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# run NAME CACHE [-v] PATCH... : prints "NAME total compiler outside% objects"
run() {
	local name=$1 c=$2; shift 2
	local verbose=()
	if [ "${1:-}" = -v ]; then verbose=(-v); shift; fi
	local args=()
	for p in "$@"; do args+=(--patch "$patches/$p"); done
	local t0 t1
	t0=$(date +%s.%N)
	if ! /usr/bin/time -f '%U %S' -o "$work/$name.cpu" \
		"$kpb" --src "$kdir" --cache-dir "$c" -j"$jobs" -o "$work/$name.ko" "${verbose[@]}" "${args[@]}" \
		2> "$work/$name.err"; then
		echo "bench-kp-build: $name failed:" >&2; cat "$work/$name.err" >&2; exit 1
	fi
	t1=$(date +%s.%N)
	local total cc objs
	total=$(sed -n 's/.*total \([0-9.]*\) s, of which.*/\1/p' "$work/$name.err")
	cc=$(sed -n 's/.*in the compiler (make) \([0-9.]*\) s.*/\1/p' "$work/$name.err")
	objs=$(sed -n 's/.* \([0-9]*\) object(s) rebuilt.*/\1/p' "$work/$name.err")
	awk -v n="$name" -v w="$(echo "$t1 - $t0" | bc)" -v t="$total" -v c="$cc" -v o="$objs" \
		-v cpu="$(awk '{ print $1 + $2 }' "$work/$name.cpu")" 'BEGIN {
		printf "%-26s wall %7.2f s  cpu %7.2f s  in compiler %7.2f s  outside compiler %5.1f%%  objects rebuilt %s\n",
			n, w, cpu, c, 100 * (t - c) / t, o }'
	sed -n 's/^kp-build: \(.*\) \[\([0-9.]*\) s\]$/    \2 s  \1/p' "$work/$name.err" | cut -c1-120
	# The cache's steps (cold runs, -v).
	grep -E '^kp-build: (cache tree:|original objects)' "$work/$name.err" | cut -c1-160 |
		sed 's/^/    /' || true
}
load() { cut -d' ' -f1-3 /proc/loadavg; }

# repeat N NAME PATCH: N cached runs (one summary line each), then their medians; the
# share outside the compiler of a 2-3 s run swings with the page cache and other jobs.
repeat() {
	local n=$1 name=$2 patch=$3 i line
	: > "$work/$name.runs"
	for i in $(seq 1 "$n"); do
		line=$(run "$name-$i" "$cache" "$patch" | head -1)
		echo "$line"
		echo "$line" | sed -n 's/.*wall *\([0-9.]*\) s .*outside compiler *\([0-9.]*\)%.*/\1 \2/p' >> "$work/$name.runs"
	done
	local w o
	w=$(cut -d' ' -f1 "$work/$name.runs" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
	o=$(cut -d' ' -f2 "$work/$name.runs" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
	printf '%-26s median of %d runs: wall %s s, outside compiler %s%%\n' "$name" "$(wc -l < "$work/$name.runs")" "$w" "$o"
}

# fs_cost N: the compile cost of function sections, from the objects' own gcc command lines
# in the test kernel's build (KDIR), compiled as they are and with the flags added.
fs_cost() {
	local n=$1 tree=$kdir
	[ -f "$tree/vmlinux.a" ] || { echo "bench-kp-build: $tree is not built" >&2; exit 1; }
	local with=0 without=0 k=0 cmdf line gcc_part obj c v t
	while read -r cmdf; do
		line=$(sed -n '1s/^cmd_[^ ]* := //p' "$tree/$cmdf")
		case "$line" in gcc\ *) ;; *) continue ;; esac
		gcc_part=${line%%; ./tools*}
		obj=$(echo "$gcc_part" | sed -n 's/.* -o \([^ ]*\.o\) .*/\1/p')
		[ -n "$obj" ] || continue
		for v in with without; do
			c=$(echo "$gcc_part" | sed "s#-Wp,-MMD,[^ ]*##; s# -o $obj # -o $work/fs-$v.o #")
			[ $v = with ] && c=${c/#gcc /gcc -ffunction-sections -fdata-sections }
			(cd "$tree" && /usr/bin/time -f '%U %S' -o "$work/fs.cpu" bash -c "$c" > /dev/null 2>&1) ||
				{ echo "bench-kp-build: compiling $obj failed" >&2; exit 1; }
			t=$(awk '{ print $1 + $2 }' "$work/fs.cpu")
			if [ $v = with ]; then with=$(echo "$with + $t" | bc); else without=$(echo "$without + $t" | bc); fi
		done
		k=$((k + 1))
	done < <(cd "$tree" && find . -name '.*.o.cmd' ! -path './tools/*' ! -path './scripts/*' ! -name '*.mod.o.cmd' |
		sort | awk -v n="$n" 'NR % 18 == 0' | head -n "$n")
	echo "function sections, gcc CPU time for $k objects (load $(load)): with $with s, without $without s," \
		"ratio $(echo "scale=3; $with / $without" | bc)"
}

if [ "${1:-}" = "--fs-cost" ]; then
	fs_cost "${2:-60}"
	exit 0
fi

echo "kp-build benchmarks: tree $kdir, -j$jobs, $(nproc) CPUs, $(date -u +%FT%TZ), load $(load)"
# Make sure the cache exists (a no-op when it does), then measure cached runs.
run warm-up "$cache" cmdline-string.patch > /dev/null
run cached-one-function "$cache" cmdline-string.patch
run cached-header-20-objects "$cache" header-rtc.patch
repeat "${RUNS:-5}" cached-one-function cmdline-string.patch
repeat "${RUNS:-5}" cached-header-20-objects header-rtc.patch

if [ "${1:-}" = "--cold" ]; then
	# Back to back, same machine state: kp-build with an empty cache (COLD_CACHE: where,
	# kept afterwards; default a temporary directory), then a plain build of a clean copy of
	# the same tree (full copy: nothing shared with it).
	cold=${COLD_CACHE:-$work/cold-cache}
	[ ! -e "$cold" ] || { echo "bench-kp-build: $cold exists: the cold run needs an empty cache" >&2; exit 1; }
	echo "load before the cold run: $(load)"
	run cold-one-function "$cold" -v cmdline-string.patch
	echo "load after the cold run: $(load)"
	plain=$work/plain
	cp -a "$kdir" "$plain"
	make -C "$plain" -s mrproper
	cp "$kdir/.config" "$plain/.config"
	t0=$(date +%s.%N)
	/usr/bin/time -f '%U %S' -o "$work/plain.cpu" make -C "$plain" -s -j"$jobs" > "$work/plain.log" 2>&1
	t1=$(date +%s.%N)
	echo "plain make (same tree, -j$jobs, bzImage + modules): wall $(echo "$t1 - $t0" | bc) s," \
		"cpu $(awk '{ print $1 + $2 }' "$work/plain.cpu") s, load after $(load)"
fi
