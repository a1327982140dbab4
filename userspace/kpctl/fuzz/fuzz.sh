#!/usr/bin/env bash
# Build and run kpctl's read_module libFuzzer target (clang, ASan+UBSan): kpctl's module
# reader and, under it, kp's one ELF model and records reader (lib/elf, lib/records).
# Usage: userspace/kpctl/fuzz/fuzz.sh [SECONDS] [JOBS]   (default 300 s, 1 job;
# corpus in build/kpctl-fuzz/corpus).  Seeds: crafted modules from the unit tests'
# generator, and the kp modules already built (kmod/, build/kmod/, unit-test fixtures).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
repo=$(cd "$src/../.." && pwd)
out=$repo/build/kpctl-fuzz
secs=${1:-300}
jobs=${2:-1}
cxx=${CXX_FUZZ:-$(command -v clang++-14 || command -v clang++)}
mkdir -p "$out/corpus"

flags="-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I$src -I$repo/include -I$repo/lib"
objs=()
for f in "$src"/errors.cpp "$src"/module_fd.cpp "$src"/module_file.cpp \
	"$repo"/lib/support/error.cpp "$repo"/lib/elf/object.cpp "$repo"/lib/elf/notes.cpp \
	"$repo"/lib/records/modinfo.cpp "$repo"/lib/records/patch_records.cpp \
	"$repo"/lib/records/symbol_index.cpp; do
	o=$out/$(basename "$(dirname "$f")")-$(basename "${f%.cpp}").o
	if [ ! -f "$o" ] || [ "$f" -nt "$o" ]; then
		$cxx $flags -fsanitize=fuzzer-no-link -c "$f" -o "$o"
	fi
	objs+=("$o")
done
$cxx $flags "$here/fuzz_read_module.cpp" "${objs[@]}" -o "$out/fuzz_read_module" $(pkg-config --libs libelf)

# Seeds.
cat > "$out/seeds.cpp" <<'C'
#include "crafted_module.h"
#include <fstream>
int main(int, char **argv)
{
	kp::ctl::test::CraftedModule a, b;
	b.records = 3;
	b.symbols = 4;
	b.addend = -4;
	std::ofstream(std::string(argv[1]) + "/crafted1.ko") << kp::ctl::test::crafted_module(a);
	std::ofstream(std::string(argv[1]) + "/crafted3.ko") << kp::ctl::test::crafted_module(b);
}
C
$cxx -std=c++20 -O1 -I"$repo/test/unit/kpctl" -I"$repo/include" "$out/seeds.cpp" \
	"$repo/test/unit/kpctl/crafted_module.cpp" -o "$out/seeds"
"$out/seeds" "$out/corpus"
for f in "$repo"/kmod/core/kp_core.ko "$repo"/build/kmod/*/*.ko \
	"$repo"/build/userspace/test/unit/kpctl/scratch/*/*/*.ko; do
	[ -f "$f" ] && cp "$f" "$out/corpus/seed-$(basename "$f")"
done
par=()
[ "$jobs" -gt 1 ] && par=(-jobs="$jobs" -workers="$jobs")   # logs: build/kpctl-fuzz/fuzz-N.log
echo "fuzz: running $out/fuzz_read_module for $secs s with $jobs job(s)"
cd "$out"
"$out/fuzz_read_module" -max_total_time="$secs" -max_len=200000 -rss_limit_mb=2048 -timeout=10 \
	-print_final_stats=1 "${par[@]}" -artifact_prefix="$out/" "$out/corpus" 2>&1 | tail -25
