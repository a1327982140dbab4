#!/usr/bin/env bash
# Probation benchmarks (issue 16), in one QEMU (TCG, 2 vCPUs) run of the test kernel:
#  1. fault to "reverted": kp_test_pb_null.ko (its /proc/cmdline handler dereferences
#     NULL) is loaded, /proc/cmdline read (the reader oopses), and the core's log line
#     "rolled back: reverted N us after the page fault" gives the time from the fault
#     (taken in the die notifier) to the rollback transition settled; `runs` times, then
#     the median.  Between runs the core's memory is cleared so the module loads again.
#  2. cost per call of kp_bench_fn patched by kp_bench_patch.ko with probation on (a
#     600 s window) and off, measured in turn in 9 interleaved rounds of N calls, with
#     the unpatched kp_bench_plain as a baseline; medians.
# Usage: scripts/bench-probation.sh [runs] [calls]    (modules: make -C kmod)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-7}
calls=${2:-200000}
make -s -C "$top/kmod" -j2 >/dev/null
t="$top/test/integration/modules/targets"
b="$top/build/kmod"
script=$(mktemp)
trap 'rm -f "$script"' EXIT
cat > "$script" <<GUEST
set -e
K=/sys/kernel/kp
D=/sys/kernel/debug/kp_bench_target
median() { sort -n | awk '{ v[NR] = \$1 } END { print v[int((NR + 1) / 2)] }'; }
one() { echo "\$1 $calls" > \$D/run; cut -d' ' -f3 \$D/result; }
insmod /kp/kp_core.ko
echo "@FAULTS_BEGIN@" > /dev/kmsg
r=0
while [ \$r -lt $runs ]; do
	insmod /kp/kp_test_pb_null.ko
	cat /proc/cmdline > /dev/null 2>&1 || true
	i=0
	until [ "\$(cat \$K/kp_test_pb_null/enabled)" = 0 ] && [ "\$(cat \$K/kp_test_pb_null/transition)" = idle ]; do
		i=\$((i + 1)); [ \$i -lt 200 ] || { echo "not reverted"; exit 1; }; usleep 50000
	done
	rmmod kp_test_pb_null
	echo clear > \$K/rolled_back
	r=\$((r + 1))
done
echo "@FAULTS_END@" > /dev/kmsg
dmesg | grep -o "rolled back: reverted [0-9]* us" | awk '{ print \$4 }' > /tmp/rev
echo "REVERTED \$(wc -l < /tmp/rev) runs, median \$(median < /tmp/rev) us, all: \$(sort -n /tmp/rev | tr '\n' ' ')"
insmod /kp/kp_bench_target.ko
insmod /kp/kp_bench_patch.ko
r=0; : > /tmp/p; : > /tmp/on; : > /tmp/off
while [ \$r -lt 9 ]; do
	one 0 >> /tmp/p
	echo 600 > \$K/kp_bench_patch/probation; one 1 >> /tmp/on
	echo 0 > \$K/kp_bench_patch/probation; one 1 >> /tmp/off
	r=\$((r + 1))
done
echo "CALL unpatched \$(median < /tmp/p)"
echo "CALL probation-on \$(median < /tmp/on)"
echo "CALL probation-off \$(median < /tmp/off)"
GUEST
sed -i "s/@FAULTS_BEGIN@/$(python3 -c "import sys; sys.path.insert(0, '$top/vm-images'); import kpvm; print(kpvm.FAULTS_BEGIN)")/; s/@FAULTS_END@/$(python3 -c "import sys; sys.path.insert(0, '$top/vm-images'); import kpvm; print(kpvm.FAULTS_END)")/" "$script"
out=$(python3 "$top/vm-images/kpvm.py" --script "$script" --timeout 600 --expect-faults \
	--file /kp/kp_core.ko="$top/kmod/core/kp_core.ko" \
	--file /kp/kp_bench_target.ko="$t/kp_bench_target.ko" \
	--file /kp/kp_bench_patch.ko="$b/kp_bench_patch/kp_bench_patch.ko" \
	--file /kp/kp_test_pb_null.ko="$b/kp_test_pb_null/kp_test_pb_null.ko")
echo "$out" | grep -E '^(REVERTED|CALL) '
rev=$(echo "$out" | awk '$1 == "REVERTED" { print $5 }')
on=$(echo "$out" | awk '$1 == "CALL" && $2 == "probation-on" { print $3 }')
off=$(echo "$out" | awk '$1 == "CALL" && $2 == "probation-off" { print $3 }')
base=$(echo "$out" | awk '$1 == "CALL" && $2 == "unpatched" { print $3 }')
[ -n "$rev" ] && [ -n "$on" ] && [ -n "$off" ] || { echo "bench-probation: run failed" >&2; echo "$out" >&2; exit 1; }
echo "probation: fault to reverted, median of $runs runs: $rev us"
echo "probation: $calls calls (ps/call, median of 9 interleaved rounds): unpatched $base, probation on $on, off $off"
echo "command: scripts/bench-probation.sh $runs $calls"
