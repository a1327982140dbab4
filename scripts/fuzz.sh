#!/usr/bin/env bash
# libFuzzer + ASan + UBSan (clang) on kp's readers of untrusted bytes.
# Usage: scripts/fuzz.sh diffgen|kpctl [SECONDS] [JOBS]   (default 300 s, 1 job)
#   diffgen: any ELF object diffed against a fixed kernel-flag baseline (every stage short
#            of writing); kpctl: any file read as `kpctl info` reads a patch module.
# The targets are CMake's (-DKP_FUZZ=ON) in build/fuzz, so they compile exactly the
# sources the tools do; corpus and crash artifacts in build/fuzz/<target>/.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
what=${1:?usage: scripts/fuzz.sh diffgen|kpctl [SECONDS] [JOBS]}
secs=${2:-300}
jobs=${3:-1}
cxx=${CXX_FUZZ:-$(command -v clang++-14 || command -v clang++ || true)}
cc=${CC_FUZZ:-$(command -v clang-14 || command -v clang || true)}
[ -n "$cxx" ] && [ -n "$cc" ] || { echo "fuzz: clang not found (apt-get install clang)" >&2; exit 1; }
build=$repo/build/fuzz
out=$build/$what
mkdir -p "$out/corpus"
cmake -S "$repo" -B "$build" -DKP_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" -DKP_BIN_DIR="$build/bin" >/dev/null

# Seeds: small kernel-flag objects for diffgen, crafted and real modules for kpctl;
# real objects or modules already built here join them.
seed_diffgen() {
	local cflags="-O2 -g -ffunction-sections -fdata-sections -pg -mfentry -mrecord-mcount -mcmodel=kernel -fno-pic -mno-red-zone"
	cat > "$out/seed.c" <<'C'
extern int _printk(const char *, ...);
static int count;
int __attribute__((noinline)) helper(int v) { static int calls; return v + ++calls; }
int show(int v) { count++; _printk("v %d\n", v); asm volatile("1: ud2\n.pushsection __bug_table,\"aw\"\n.long 1b - .\n.long 0\n.word 1\n.word 0\n.popsection"); return helper(v) + count; }
C
	gcc $cflags -c "$out/seed.c" -o "$out/base.o"
	sed 's/v + ++calls/v + calls++/' "$out/seed.c" > "$out/seed2.c"
	gcc $cflags -c "$out/seed2.c" -o "$out/corpus/seed2.o"
	cp "$out/base.o" "$out/corpus/base.o"
	for f in fs/proc/cmdline.o kernel/sys.o; do
		[ -f "$repo/build/linux-fs/$f" ] && cp "$repo/build/linux-fs/$f" "$out/corpus/$(echo "$f" | tr / _)"
	done
	export KP_FUZZ_BASE=$out/base.o
}
seed_kpctl() {
	cmake --build "$build" --target kpctl_fuzz_seeds -j"$(nproc)" >/dev/null
	"$build/test/unit/kpctl/kpctl_fuzz_seeds" "$out/corpus"
	for f in "$repo"/kmod/core/kp_core.ko "$repo"/build/kmod/*/*.ko \
		"$repo"/build/userspace/test/unit/kpctl/scratch/*/*/*.ko; do
		[ -f "$f" ] && cp "$f" "$out/corpus/seed-$(basename "$f")"
	done
	return 0
}

case $what in
diffgen) target=fuzz_elf; bin=$build/diffgen/fuzz_elf; max_len=300000; seed_diffgen ;;
kpctl) target=fuzz_read_module; bin=$build/userspace/kpctl/fuzz_read_module; max_len=200000; seed_kpctl ;;
*) echo "fuzz: unknown target '$what' (diffgen or kpctl)" >&2; exit 2 ;;
esac
cmake --build "$build" --target "$target" -j"$(nproc)" >/dev/null
par=()
[ "$jobs" -gt 1 ] && par=(-jobs="$jobs" -workers="$jobs")   # logs: build/fuzz/<target>/fuzz-N.log
echo "fuzz: running $bin for $secs s with $jobs job(s)"
cd "$out"
"$bin" -max_total_time="$secs" -max_len="$max_len" -rss_limit_mb=2048 -timeout=10 \
	-print_final_stats=1 "${par[@]}" -artifact_prefix="$out/" "$out/corpus" 2>&1 | tail -25
