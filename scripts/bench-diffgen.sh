#!/usr/bin/env bash
# diffgen benchmarks (results: docs/benchmarks.md, section "diffgen").
#  1. the largest object of the function-sections test kernel (build/linux-fs) against a
#     patched copy (the same .c with a blank first line, which moves every __LINE__, and
#     one new function), recompiled with the exact command from its .cmd file;
#  2. every object of that tree diffed against itself.
# Needs build/linux-fs (test/unit/diffgen/real-objects.sh) and build/bin/diffgen (make all).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
tree=$repo/build/linux-fs
diffgen=${DIFFGEN:-$repo/build/bin/diffgen}
runs=${RUNS:-11}
[ -x "$diffgen" ] || { echo "bench-diffgen: $diffgen not built (make all)" >&2; exit 1; }
[ -f "$tree/vmlinux" ] || { echo "bench-diffgen: $tree not built (test/unit/diffgen/real-objects.sh)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mapfile -t objects < <(cd "$tree" && find . -name '*.o' ! -name vmlinux.o ! -name '*.mod.o' \
	! -path './scripts/*' ! -path './tools/*' ! -path './Documentation/*' ! -path './usr/*' \
	! -path './arch/x86/realmode/rm/*' ! -path './arch/x86/boot/*' ! -path './arch/x86/entry/vdso/vdso32/*' \
	-printf '%s %P\n' | sort -rn | awk '{print $2}')
largest=${objects[0]}
rel=${largest%.o}
echo "bench-diffgen: largest object $largest ($(stat -c %s "$tree/$largest") bytes), ${#objects[@]} objects"

# Patched copy of the largest object.
dir=$(dirname "$rel"); base=$(basename "$rel")
{ echo; cat "$tree/$rel.c"; echo; echo "int kp_bench_added(int v) { return v * 3 + 1; }"; } > "$work/$base.c"
cmd=$(sed -n 's/^cmd_[^ ]* := //p' "$tree/$dir/.$base.o.cmd" | head -1)
cmd=${cmd//-Wp,-MMD,$dir\/.$base.o.d/-Wp,-MMD,$work/dep.d}
cmd=${cmd//$rel.o/$work/$base.o}
cmd=${cmd//$rel.c/$work/$base.c}
cmd=${cmd// -c / -I$tree/$dir -c }
(cd "$tree" && eval "$cmd") > "$work/cc.log" 2>&1 || { cat "$work/cc.log" >&2; exit 1; }

ms() { echo $(( ($2 - $1) / 1000000 )).$(( (($2 - $1) / 10000) % 100 )); }
# "median min" of the numbers on stdin.
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)] " (min " a[1] ")"}'; }
time_runs() {
	for _ in $(seq "$runs"); do
		s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N)
		echo $(( (e - s) / 1000 ))
	done | median
}
set +e
"$diffgen" "$tree/$largest" "$work/$base.o" -o "$work/out.o" 2> "$work/diffgen.log"; rc=$?
set -e
echo "exit $rc: $(tail -1 "$work/diffgen.log")"
us=$(time_runs "$diffgen" "$tree/$largest" "$work/$base.o" -o "$work/out.o")
us_sym=$(time_runs "$diffgen" "$tree/$largest" "$work/$base.o" -o "$work/out.o" --symbols "$repo/build/linux/vmlinux")
rss=$(/usr/bin/time -v "$diffgen" "$tree/$largest" "$work/$base.o" -o "$work/out.o" 2>&1 | sed -n 's/.*Maximum resident set size (kbytes): //p')
rss_sym=$(/usr/bin/time -v "$diffgen" "$tree/$largest" "$work/$base.o" -o "$work/out.o" --symbols "$repo/build/linux/vmlinux" 2>&1 | sed -n 's/.*Maximum resident set size (kbytes): //p')
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
echo "largest vs patched: median ${us} us, peak RSS ${rss} KiB (with --symbols vmlinux: ${us_sym} us, ${rss_sym} KiB)"

# Every object against itself.
s=$(date +%s%N)
bad=0
for o in "${objects[@]}"; do
	set +e; "$diffgen" "$tree/$o" "$tree/$o" -o "$work/self.o" 2>/dev/null; r=$?; set -e
	[ $r -eq 3 ] || { echo "  $o: exit $r (expected 3)"; bad=$((bad + 1)); }
done
e=$(date +%s%N)
echo "self-diff of ${#objects[@]} objects: $(ms "$s" "$e") ms wall, $bad not 'no change'"
