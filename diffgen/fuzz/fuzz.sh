#!/usr/bin/env bash
# Build and run diffgen's libFuzzer target (clang, ASan+UBSan) on ELF input.
# Usage: diffgen/fuzz/fuzz.sh [SECONDS]   (default 300; corpus in build/diffgen-fuzz/corpus)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
repo=$(cd "$src/.." && pwd)
out=$repo/build/diffgen-fuzz
secs=${1:-300}
cxx=${CXX_FUZZ:-$(command -v clang++-14 || command -v clang++)}
mkdir -p "$out/corpus"

flags="-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I$src -I$repo/include"
objs=()
for f in elf/object.cpp elf/writer.cpp names.cpp references.cpp correlate.cpp compare.cpp line_only.cpp \
	 target_symbols.cpp entry_sizes.cpp select.cpp special_sections.cpp; do
	o=$out/$(echo "$f" | tr / _).o
	if [ ! -f "$o" ] || [ "$src/$f" -nt "$o" ]; then
		$cxx $flags -fsanitize=fuzzer-no-link -c "$src/$f" -o "$o"
	fi
	objs+=("$o")
done
$cxx $flags "$here/fuzz_elf.cpp" "${objs[@]}" -o "$out/fuzz_elf" $(pkg-config --libs libelf libdw capstone)

# Seeds: small kernel-flag objects (and real kernel objects when build/linux-fs exists).
cflags="-O2 -g -ffunction-sections -fdata-sections -pg -mfentry -mrecord-mcount -mcmodel=kernel -fno-pic -mno-red-zone"
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
echo "fuzz: running $out/fuzz_elf for $secs s"
KP_FUZZ_BASE=$out/base.o "$out/fuzz_elf" -max_total_time="$secs" -max_len=300000 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$out/" "$out/corpus" 2>&1 | tail -25
