#!/usr/bin/env bash
# kp_core benchmarks, in one QEMU (TCG, 2 vCPUs) run of the test kernel:
#  1. cost per call of three identical functions of kp_bench_target.ko: one unpatched,
#     one patched by kp (kp_bench_patch.ko), one by the kernel's livepatch (klp_bench.ko),
#     timed in turn (irqs off) in 9 interleaved rounds of N calls; medians.
#  2. enable latency and stop_machine pause of a kp patch with 0/100/500 extra
#     sleeping tasks (median of 5 enable/disable cycles each).
#  3. transition time with 500 threads looping through the patched path (a read
#     that sleeps inside kp_bench_sleep): kp (kp_sleep_patch.ko) against the
#     kernel's livepatch (klp_sleep.ko), same change, same threads, same VM run.
#     "total" runs from the start of insmod until the patch's sysfs says it is
#     settled (guest-tools/kp-threads); "transition" is the part after the
#     module's init checks, from the kernel log's own timestamps.
# Usage: scripts/bench-kmod.sh [calls]    (modules: make -C kmod)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
calls=${1:-200000}
make -s -C "$top/kmod" -j2 >/dev/null
t="$top/test/integration/modules/targets"
b="$top/build/kmod"
script=$(mktemp)
threads=$(mktemp)
trap 'rm -f "$script" "$threads"' EXIT
gcc -O2 -Wall -Wextra -Werror -static -pthread -o "$threads" \
	"$top/test/integration/guest-tools/kp-threads.c"
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
echo 0 > /sys/kernel/kp/kp_test_cmdline/enabled
rmmod kp_test_cmdline kp_bench_patch
rmmod klp_bench 2>/dev/null || true
echo Y > /sys/module/printk/parameters/time
S=\$D/sleep
ts() { dmesg | grep "\$1" | tail -1 | sed 's/^\[ *\([0-9.]*\)\].*/\1/'; }
dmesg -c > /dev/null
/kp/kp-threads 500 \$S /sys/kernel/kp/kp_sleep_patch/transition idle 2 300 -- insmod /kp/kp_sleep_patch.ko > /tmp/kp
us=\$(dmesg | grep "kp_sleep_patch: enabled in" | sed 's/.*enabled in \([0-9]*\) us.*/\1/')
echo "TRANSITION kp \$(cat /tmp/kp) core_us=\$us"
dmesg | grep "kp_sleep_patch:" | sed 's/^/LOG /'
echo 0 > /sys/kernel/kp/kp_sleep_patch/enabled
i=0; while [ "\$(cat /sys/kernel/kp/kp_sleep_patch/transition)" != idle ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i+1)); done
rmmod kp_sleep_patch
dmesg -c > /dev/null
/kp/kp-threads 500 \$S /sys/kernel/livepatch/klp_sleep/transition 0 2 300 -- insmod /kp/klp_sleep.ko > /tmp/klp
t0=\$(ts "'klp_sleep': starting patching transition"); t1=\$(ts "'klp_sleep': patching complete")
echo "TRANSITION livepatch \$(cat /tmp/klp) klp_us=\$(awk -v a=\$t0 -v b=\$t1 'BEGIN { printf "%d", (b - a) * 1e6 }')"
dmesg | grep "klp_sleep" | sed 's/^/LOG /'
GUEST
out=$(python3 "$top/vm-images/kpvm.py" --script "$script" --timeout 600 \
	--file /kp/kp_core.ko="$top/kmod/core/kp_core.ko" \
	--file /kp/kp_bench_target.ko="$t/kp_bench_target.ko" \
	--file /kp/klp_bench.ko="$t/klp_bench.ko" \
	--file /kp/kp_bench_patch.ko="$b/kp_bench_patch/kp_bench_patch.ko" \
	--file /kp/kp_test_cmdline.ko="$b/kp_test_cmdline/kp_test_cmdline.ko" \
	--file /kp/kp_sleep_patch.ko="$b/kp_sleep_patch/kp_sleep_patch.ko" \
	--file /kp/klp_sleep.ko="$t/klp_sleep.ko" \
	--file /kp/kp-threads="$threads")
echo "$out" | grep -E '^(SUM|CALL|RATIO|ENABLE|TRANSITION|LOG) '
base=$(echo "$out" | awk '$1 == "CALL" && $2 == "unpatched" { print $3 }')
kp=$(echo "$out" | awk '$1 == "CALL" && $2 == "kp" { print $3 }')
klp=$(echo "$out" | awk '$1 == "CALL" && $2 == "livepatch" { print $3 }')
ratio=$(echo "$out" | awk '$1 == "RATIO" { print $2 / 1000 }')
[ -n "$base" ] && [ -n "$kp" ] && [ -n "$klp" ] && [ -n "$ratio" ] || { echo "bench-kmod: run failed" >&2; echo "$out" >&2; exit 1; }
echo "kmod: $calls calls (ps/call, median of 9 interleaved rounds): unpatched $base, kp $kp, livepatch $klp"
echo "kmod: kp/livepatch call cost ratio $ratio (median of per-round ratios; target <= 1.0)"
kpt=$(echo "$out" | awk '$1 == "TRANSITION" && $2 == "kp"')
klpt=$(echo "$out" | awk '$1 == "TRANSITION" && $2 == "livepatch"')
[ -n "$kpt" ] && [ -n "$klpt" ] || { echo "bench-kmod: transition run failed" >&2; echo "$out" >&2; exit 1; }
echo "kmod: 500 threads in the patched path: kp: $(echo "$kpt" | sed 's/TRANSITION kp //')"
echo "kmod: 500 threads in the patched path: livepatch: $(echo "$klpt" | sed 's/TRANSITION livepatch //')"
echo "command: scripts/bench-kmod.sh $calls"
