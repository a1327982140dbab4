#!/usr/bin/env bash
# kp_core benchmarks, in one QEMU (TCG, 2 vCPUs) run of the test kernel:
#  1. cost per call of kp_bench_fn() (kp_bench_target.ko): unpatched, patched by kp,
#     patched by the kernel's livepatch (klp_bench.ko); median of 5 runs of N calls.
#  2. enable latency and stop_machine pause of a kp patch with 0/100/500 extra
#     sleeping tasks (median of 5 enable/disable cycles each).
# Usage: scripts/bench-kmod.sh [calls]    (modules: make -C kmod)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
calls=${1:-200000}
make -s -C "$top/kmod" -j2 >/dev/null
t="$top/test/integration/modules/targets"
b="$top/build/kmod"
script=$(mktemp)
trap 'rm -f "$script"' EXIT
cat > "$script" <<GUEST
set -e
D=/sys/kernel/debug/kp_bench_target
median() { sort -n | awk '{ v[NR] = \$1 } END { print v[int((NR + 1) / 2)] }'; }
percall() {	# label: ps per call, median of 5
	for i in 1 2 3 4 5; do echo $calls > \$D/run; cut -d' ' -f3 \$D/result; done | median > /tmp/m
	echo "CALL \$1 \$(cat /tmp/m) sum=\$(cut -d' ' -f4 \$D/result)"
}
insmod /kp/kp_core.ko
insmod /kp/kp_bench_target.ko
percall unpatched
insmod /kp/kp_bench_patch.ko
percall kp
echo 0 > /sys/kernel/kp/kp_bench_patch/enabled
rmmod kp_bench_patch
insmod /kp/klp_bench.ko
L=/sys/kernel/livepatch/klp_bench
i=0; while [ "\$(cat \$L/transition)" != 0 ] && [ \$i -lt 100 ]; do sleep 0.2; i=\$((i+1)); done
percall livepatch
echo 0 > \$L/enabled
i=0; while [ -e \$L ] && [ "\$(cat \$L/transition 2>/dev/null)" != 0 ] && [ \$i -lt 100 ]; do sleep 0.2; i=\$((i+1)); done
percall unpatched-again
insmod /kp/kp_test_cmdline.ko
echo 0 > /sys/kernel/kp/kp_test_cmdline/enabled
for n in 0 100 500; do
	pids=""; j=0; while [ \$j -lt \$n ]; do sleep 1000 & pids="\$pids \$!"; j=\$((j+1)); done
	sleep 1
	dmesg -c > /dev/null
	for i in 1 2 3 4 5; do
		echo 1 > /sys/kernel/kp/kp_test_cmdline/enabled
		echo 0 > /sys/kernel/kp/kp_test_cmdline/enabled
	done
	dmesg | grep 'kp_test_cmdline: enabled in' | sed 's/.*enabled in \([0-9]*\) us.*pause \([0-9]*\) us, \([0-9]*\) tasks.*/\1 \2 \3/' > /tmp/e
	echo "ENABLE sleepers=\$n tasks=\$(cut -d' ' -f3 /tmp/e | median) enable_us=\$(cut -d' ' -f1 /tmp/e | median) pause_us=\$(cut -d' ' -f2 /tmp/e | median)"
	[ -z "\$pids" ] || kill \$pids; wait 2>/dev/null || true
done
GUEST
out=$(python3 "$top/vm-images/kpvm.py" --script "$script" --timeout 600 \
	--file /kp/kp_core.ko="$top/kmod/core/kp_core.ko" \
	--file /kp/kp_bench_target.ko="$t/kp_bench_target.ko" \
	--file /kp/klp_bench.ko="$t/klp_bench.ko" \
	--file /kp/kp_bench_patch.ko="$b/kp_bench_patch/kp_bench_patch.ko" \
	--file /kp/kp_test_cmdline.ko="$b/kp_test_cmdline/kp_test_cmdline.ko")
echo "$out" | grep -E '^(CALL|ENABLE) '
base=$(echo "$out" | awk '$1 == "CALL" && $2 == "unpatched" { print $3 }')
kp=$(echo "$out" | awk '$1 == "CALL" && $2 == "kp" { print $3 }')
klp=$(echo "$out" | awk '$1 == "CALL" && $2 == "livepatch" { print $3 }')
echo "kmod: $calls calls of kp_bench_fn (ps/call, median of 5): unpatched $base, kp $kp, livepatch $klp"
awk -v kp="$kp" -v klp="$klp" -v base="$base" 'BEGIN {
	printf "kmod: kp/livepatch call cost ratio %.3f (target <= 1.0); kp overhead over unpatched %.1f ns/call\n",
		kp / klp, (kp - base) / 1000 }'
echo "command: scripts/bench-kmod.sh $calls"
