#!/usr/bin/env bash
# kp_core benchmarks, in one QEMU (TCG, 2 vCPUs) run of the test kernel:
#  1. cost per call of three identical functions of kp_bench_target.ko: one unpatched,
#     one patched by kp (kp_bench_patch.ko), one by the kernel's livepatch (klp_bench.ko),
#     timed in turn (irqs off) in 9 interleaved rounds of N calls; medians.
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
one() { echo "\$1 $calls" > \$D/run; cut -d' ' -f3 \$D/result; }
insmod /kp/kp_core.ko
insmod /kp/kp_bench_target.ko
insmod /kp/kp_bench_patch.ko
insmod /kp/klp_bench.ko
L=/sys/kernel/livepatch/klp_bench
i=0; while [ "\$(cat \$L/transition)" != 0 ] && [ \$i -lt 100 ]; do sleep 0.2; i=\$((i+1)); done
echo 1 $calls > \$D/run; echo "SUM kp \$(cut -d' ' -f4 \$D/result)"
echo 2 $calls > \$D/run; echo "SUM livepatch \$(cut -d' ' -f4 \$D/result)"
echo 0 $calls > \$D/run; echo "SUM unpatched \$(cut -d' ' -f4 \$D/result)"
# Interleaved rounds: host noise hits the three alike.
r=0; : > /tmp/p; : > /tmp/k; : > /tmp/l
while [ \$r -lt 9 ]; do
	one 0 >> /tmp/p; one 1 >> /tmp/k; one 2 >> /tmp/l
	r=\$((r+1))
done
echo "CALL unpatched \$(median < /tmp/p)"
echo "CALL kp \$(median < /tmp/k)"
echo "CALL livepatch \$(median < /tmp/l)"
awk 'NR == FNR { k[FNR] = \$1; next } { print k[FNR] * 1000 / \$1 }' /tmp/k /tmp/l | median > /tmp/r
echo "RATIO \$(cat /tmp/r)"
echo 0 > /sys/kernel/kp/kp_bench_patch/enabled
echo 0 > \$L/enabled
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
echo "$out" | grep -E '^(SUM|CALL|RATIO|ENABLE) '
base=$(echo "$out" | awk '$1 == "CALL" && $2 == "unpatched" { print $3 }')
kp=$(echo "$out" | awk '$1 == "CALL" && $2 == "kp" { print $3 }')
klp=$(echo "$out" | awk '$1 == "CALL" && $2 == "livepatch" { print $3 }')
ratio=$(echo "$out" | awk '$1 == "RATIO" { print $2 / 1000 }')
[ -n "$base" ] && [ -n "$kp" ] && [ -n "$klp" ] && [ -n "$ratio" ] || { echo "bench-kmod: run failed" >&2; echo "$out" >&2; exit 1; }
echo "kmod: $calls calls (ps/call, median of 9 interleaved rounds): unpatched $base, kp $kp, livepatch $klp"
echo "kmod: kp/livepatch call cost ratio $ratio (median of per-round ratios; target <= 1.0)"
echo "command: scripts/bench-kmod.sh $calls"
