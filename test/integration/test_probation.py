"""Probation (issue 16): a patch that faults after it switched on rolls itself back.

One boot runs every check in order (the VM runner allows the faults the script provokes,
and only between the kpvm.FAULTS_BEGIN / FAULTS_END lines it writes to the kernel log):
  1. a fault in code no patch replaces while a patch is on probation: no rollback;
  2. a patch whose /proc/cmdline handler dereferences NULL (panic_on_oops=0): the reader
     is killed, the patch is reverted within a second, /proc/cmdline reads the original,
     no second fault follows, kpctl status/list show why, and the next load is refused by
     kpctl and by the core (insmod), unless forced (--force);
  3. a patch that hits a WARN_ON, loaded with --rollback-on warn (WARNs are not evidence by
     default: test_probation_policy.py): reverted, the reader goes on;
  4. `kpctl load --check CMD`: reverted once CMD starts failing;
  5. soft lockups (the detector turned on, threshold 2 s): one in code no patch replaces
     (kp_test_oops's /proc/kp_test_spin) rolls nothing back; a patched /proc/cmdline that
     spins with preemption disabled is reverted, its lockup recorded in sysfs and the log;
  6. RCU stalls (timeout 3 s): the same spin on CPU 1 with preemption disabled (the CPU
     reports itself, as a rule), then with interrupts disabled (CPU 0 reports it and
     reads CPU 1's stack through an NMI): reverted both times;
  7. `kpctl load --check CMD --check-timeout 2` with a CMD that hangs: reverted after 2 s.
A second boot (test_rcu_stall_int3_one_cpu, issue 25 item 7): one vCPU, kprobes not
optimized (debug.kprobes-optimization=0, so lockup.c's show_regs probe is an int3, whose
handler runs in NMI context), an RCU stall in the new code, which the only CPU reports
and dumps itself (dump_cpu_task() -> show_regs(get_irq_regs()) in its tick): reverted.
Modules come from `make -C kmod` (test/integration/modules/patches/probation.c,
modules/targets/kp_test_oops.c); kpctl is build/bin/kpctl or $KPCTL_BIN.
"""
from __future__ import annotations

import re

import kpvm
from e2e import PROBATION_PRELUDE


ROLLED_BACK = 16  # kpctl's exit status (docs/kpctl.md)

GUEST = PROBATION_PRELUDE + r"""
[ "$(cat /proc/sys/kernel/panic_on_oops)" = 0 ] || fail "panic_on_oops is set"
insmod /kp/kp_core.ko || fail "insmod kp_core"
insmod /kp/kp_test_oops.ko || fail "insmod kp_test_oops"
[ "$(cat /sys/module/kp_core/parameters/probation)" = 30 ] || fail "default probation"

echo "== 1. unrelated fault"
kpctl load --probation 60 /kp/kp_test_pb_ok.ko || fail "load kp_test_pb_ok"
[ "$(cat /proc/cmdline)" = kp-probation-ok ] || fail "kp_test_pb_ok not in force"
left=$(cat $K/kp_test_pb_ok/probation)
[ "$left" -gt 50 ] && [ "$left" -le 60 ] || fail "probation left: $left"
faults_begin
cat /proc/kp_test_oops && fail "the reader of /proc/kp_test_oops survived"
faults_end
[ "$(oopses)" = 1 ] || fail "$(oopses) Oopses, want 1"
sleep 1
[ "$(cat $K/kp_test_pb_ok/enabled)" = 1 ] || fail "an unrelated fault rolled the patch back"
[ -z "$(cat $K/kp_test_pb_ok/rolled_back)" ] || fail "rolled_back: $(cat $K/kp_test_pb_ok/rolled_back)"
[ "$(cat /proc/cmdline)" = kp-probation-ok ] || fail "kp_test_pb_ok no longer in force"
kpctl unload kp_test_pb_ok || fail "unload kp_test_pb_ok"
echo "STEP unrelated ok"

echo "== 2. NULL dereference in the new code"
kpctl load --probation 60 /kp/kp_test_pb_null.ko || fail "load kp_test_pb_null"
faults_begin
cat /proc/cmdline && fail "the reader of the faulting /proc/cmdline survived"
wait_reverted kp_test_pb_null 20
faults_end
[ "$(cat /proc/cmdline)" = "$ORIG" ] || fail "/proc/cmdline after the rollback: $(cat /proc/cmdline)"
for i in 1 2 3; do cat /proc/cmdline > /dev/null || fail "read $i after the rollback"; done
[ "$(oopses)" = 2 ] || fail "$(oopses) Oopses, want 2 (no second fault)"
why=$(cat $K/kp_test_pb_null/rolled_back)
echo "rolled_back: $why"
echo "$why" | grep -q "^page fault at kp_cmdline_proc_show+0x[0-9a-f]*/0x[0-9a-f]* \[kp_test_pb_null\], task [0-9]* cat uid 0, 20" \
	|| fail "rolled_back: $why"
dmesg | grep "kp_test_pb_null: rolled back: reverted [0-9]* us after the page fault" \
	|| fail "no 'reverted' line"
kpctl status kp_test_pb_null | grep -q "ROLLED BACK by probation: page fault at kp_cmdline_proc_show" \
	|| fail "kpctl status: $(kpctl status kp_test_pb_null)"
kpctl list --dir /kp | grep -q "kp_test_pb_null .*ROLLED BACK before" || fail "kpctl list: $(kpctl list --dir /kp)"
kpctl unload kp_test_pb_null || fail "unload kp_test_pb_null"
grep -q " kp_test_pb_null page fault at" $KPCTL_STATE_DIR/rolled-back || fail "not on disk"
kpctl load --probation 60 /kp/kp_test_pb_null.ko 2> /tmp/err
rc=$?
cat /tmp/err
[ $rc = @ROLLED_BACK@ ] || fail "second load: exit $rc"
grep -q "was rolled back before: page fault at kp_cmdline_proc_show" /tmp/err || fail "second load: $(cat /tmp/err)"
grep -q "^kp_test_pb_null " /proc/modules && fail "refused module loaded"
insmod /kp/kp_test_pb_null.ko 2> /dev/null && fail "the core accepted a rolled-back module"
dmesg | grep -q "kp_test_pb_null: refused: this module was rolled back" || fail "no core refusal"
[ "$(cat /proc/cmdline)" = "$ORIG" ] || fail "/proc/cmdline after the refusals"
kpctl status | grep -A1 "rolled back (refused" | grep -q "kp_test_pb_null" || fail "kpctl status: $(kpctl status)"
# --force forgets the rollback (core and disk) and loads it; --probation 0: no window.
kpctl load --force --probation 0 /kp/kp_test_pb_null.ko || fail "load --force"
[ "$(cat $K/kp_test_pb_null/enabled)" = 1 ] || fail "forced load not enabled"
[ "$(cat $K/kp_test_pb_null/probation)" = 0 ] || fail "--probation 0: $(cat $K/kp_test_pb_null/probation)"
grep -q kp_test_pb_null $K/rolled_back && fail "the core still remembers kp_test_pb_null"
grep -q kp_test_pb_null $KPCTL_STATE_DIR/rolled-back && fail "the disk still remembers kp_test_pb_null"
kpctl unload kp_test_pb_null || fail "unload the forced kp_test_pb_null"
echo "STEP null ok"

echo "== 3. WARN_ON in the new code"
kpctl load --probation 60 --rollback-on warn /kp/kp_test_pb_warn.ko || fail "load kp_test_pb_warn"
faults_begin
out=$(cat /proc/cmdline) || fail "the reader of a WARN died"
wait_reverted kp_test_pb_warn 20
faults_end
[ "$out" = kp-warned ] || fail "read during the WARN: $out"
[ "$(cat /proc/cmdline)" = "$ORIG" ] || fail "/proc/cmdline after the WARN rollback"
cat $K/kp_test_pb_warn/rolled_back | grep -q "^WARN at kp_cmdline_proc_show+" \
	|| fail "rolled_back: $(cat $K/kp_test_pb_warn/rolled_back)"
kpctl unload kp_test_pb_warn || fail "unload kp_test_pb_warn"
echo "STEP warn ok"

echo "== 4. a failing --check"
kpctl load --probation 30 --check 'test ! -e /tmp/bad' /kp/kp_test_pb_ok.ko > /tmp/check.out 2>&1 &
pid=$!
i=0
until [ "$(cat /proc/cmdline)" = kp-probation-ok ]; do
	i=$((i + 1)); [ $i -gt 600 ] && fail "kp_test_pb_ok never in force"; usleep 50000
done
sleep 3
[ "$(cat $K/kp_test_pb_ok/enabled)" = 1 ] || fail "rolled back while the check passed"
touch /tmp/bad
wait $pid
rc=$?
cat /tmp/check.out
[ $rc = @ROLLED_BACK@ ] || fail "kpctl load --check: exit $rc"
[ "$(cat $K/kp_test_pb_ok/enabled)" = 0 ] || fail "still enabled after the check failed"
[ "$(cat /proc/cmdline)" = "$ORIG" ] || fail "/proc/cmdline after the check rollback"
cat $K/kp_test_pb_ok/rolled_back | grep -q '^check failed: `test ! -e /tmp/bad` exit status 1' \
	|| fail "rolled_back: $(cat $K/kp_test_pb_ok/rolled_back)"
echo "STEP check ok"
kpctl unload kp_test_pb_ok || fail "unload kp_test_pb_ok"

# kp_test_pb_spin was reverted for a $2 (rolled_back matches the regex $1; $3: which
# one): /proc/cmdline is the original again, sysfs and the log say why; unloads it.
spin_reverted() {
	[ "$(cat /proc/cmdline)" = "$ORIG" ] || fail "/proc/cmdline after the $2 rollback $3"
	why=$(cat $K/kp_test_pb_spin/rolled_back)
	echo "rolled_back: $why"
	echo "$why" | grep -Eq "$1" || fail "rolled_back ($2 $3): $why"
	dmesg | grep -q "kp_test_pb_spin: rolled back: reverted [0-9]* us after the $2" \
		|| fail "no 'reverted' line ($2 $3)"
	kpctl unload kp_test_pb_spin || fail "unload kp_test_pb_spin ($2 $3)"
}

echo "== 5. soft lockups (the detector on, 2 s)"
lockups() { dmesg | grep -c "BUG: soft lockup"; }
echo 1 > /proc/sys/kernel/watchdog_thresh
echo 1 > /proc/sys/kernel/watchdog
[ "$(cat /proc/sys/kernel/soft_watchdog)" = 1 ] || fail "the soft lockup detector is off"
kpctl load --probation 120 /kp/kp_test_pb_spin.ko || fail "load kp_test_pb_spin"
[ "$(cat /proc/cmdline)" = kp-spun ] || fail "kp_test_pb_spin not in force"
faults_begin
cat /proc/kp_test_spin > /dev/null || fail "read /proc/kp_test_spin"
faults_end
[ "$(lockups)" -ge 1 ] || fail "no soft lockup in kp_test_oops"
sleep 1
[ "$(cat $K/kp_test_pb_spin/enabled)" = 1 ] || fail "an unrelated soft lockup rolled the patch back"
[ -z "$(cat $K/kp_test_pb_spin/rolled_back)" ] || fail "rolled_back: $(cat $K/kp_test_pb_spin/rolled_back)"
n=$(lockups)
echo 4000 > /sys/module/kp_test_pb_spin/parameters/spin_ms
faults_begin
out=$(cat /proc/cmdline) || fail "the reader of a soft lockup died"
wait_reverted kp_test_pb_spin 40
faults_end
echo 0 > /proc/sys/kernel/watchdog
[ "$(lockups)" -gt $n ] || fail "no soft lockup in kp_test_pb_spin"
[ "$out" = kp-spun ] || fail "read during the soft lockup: $out"
dmesg | grep -q "kp_test_pb_spin: rolling back: soft lockup at kp_cmdline_proc_show+" || fail "no 'rolling back' line"
spin_reverted "@WHY_SOFT@" "soft lockup"
echo "STEP soft lockup ok"

echo "== 6. RCU stalls (3 s): the new code spins on CPU 1 with preemption, then interrupts, disabled"
stalls() { dmesg | grep -Ec "rcu_preempt (self-)?detected stall"; }
# $1: preemption or interrupts
rcu_stall() {
	n=$(stalls)
	kpctl load --force --probation 120 /kp/kp_test_pb_spin.ko || fail "load kp_test_pb_spin ($1)"
	[ $1 = interrupts ] && echo 1 > /sys/module/kp_test_pb_spin/parameters/spin_irqs_off
	echo 6000 > /sys/module/kp_test_pb_spin/parameters/spin_ms
	faults_begin
	taskset 2 cat /proc/cmdline > /tmp/spun &
	pid=$!
	# A grace period starts once a callback waits: every exiting task queues one.
	i=0
	while [ $i -lt 100 ] && kill -0 $pid 2> /dev/null; do /bin/true; usleep 100000; i=$((i + 1)); done
	wait $pid || fail "the reader of an RCU stall ($1) died"
	wait_reverted kp_test_pb_spin 40
	faults_end
	[ "$(stalls)" -gt $n ] || fail "no RCU stall ($1)"
	dmesg | grep -E "rcu_preempt (self-)?detected stall" | tail -1
	[ "$(cat /tmp/spun)" = kp-spun ] || fail "read during the RCU stall ($1): $(cat /tmp/spun)"
	spin_reverted "@WHY_RCU@" "RCU stall" "$1"
	echo "STEP RCU stall ($1) ok"
}
echo 3 > /sys/module/rcupdate/parameters/rcu_cpu_stall_timeout
rcu_stall preemption
rcu_stall interrupts
echo 21 > /sys/module/rcupdate/parameters/rcu_cpu_stall_timeout

echo "== 7. a --check that hangs"
start=$(date +%s)
kpctl load --force --probation 60 --check 'sleep 1000' --check-timeout 2 /kp/kp_test_pb_ok.ko > /tmp/hang.out 2>&1
rc=$?
took=$(($(date +%s) - start))
cat /tmp/hang.out
[ $rc = @ROLLED_BACK@ ] || fail "kpctl load with a hung --check: exit $rc"
[ $took -ge 2 ] && [ $took -le 20 ] || fail "kpctl load with a hung --check took $took s"
[ "$(cat /proc/cmdline)" = "$ORIG" ] || fail "/proc/cmdline after the hung check"
cat $K/kp_test_pb_ok/rolled_back | grep -q '^check failed: `sleep 1000` timed out after 2 s' \
	|| fail "rolled_back: $(cat $K/kp_test_pb_ok/rolled_back)"
ps | grep -v grep | grep -q "sleep 1000" && fail "the hung check outlived its timeout"
echo "STEP check timeout ok"
dmesg | grep "rolled back: reverted"
echo "ALL OK"
"""

# What rolled_back says about a lockup or stall (TYPE) in the spinning /proc/cmdline.
WHY = (r"^TYPE at kp_cmdline_proc_show\+0x[0-9a-f]+/0x[0-9a-f]+ \[kp_test_pb_spin\]"
       r"( \(on the stack\))?, task [0-9]+ cat uid 0, 20[0-9-]+T[0-9:]+Z, [0-9]+ ms into probation$")


def test_expected_faults_are_bracketed_and_opt_in():
    """The runner forgives a failure marker only inside the brackets, and only when the
    test asked for it (no VM: the console parser alone)."""
    console = "\n".join([
        "WARNING: CPU: 0 PID: 1 at before+0x0/0x1",
        kpvm.FAULTS_BEGIN,
        "Oops: 0000 [#1] SMP",
        kpvm.FAULTS_END,
        "BUG: kernel NULL pointer dereference, address: 0000000000000000",
    ])
    failures, expected = kpvm.find_failures(console, expect_faults=True)
    assert expected == ["Oops: 0000 [#1] SMP"]
    assert failures == ["WARNING: CPU: 0 PID: 1 at before+0x0/0x1",
                        "BUG: kernel NULL pointer dereference, address: 0000000000000000"]
    failures, expected = kpvm.find_failures(console)
    assert expected == [] and len(failures) == 3
    failures, _ = kpvm.find_failures(kpvm.FAULTS_BEGIN + "\nOops: 0000", expect_faults=True)
    assert failures and "without" in failures[0]


def test_probation_rollbacks(vm, kmods, kpctl_bin):
    script = (GUEST.replace("@FAULTS_BEGIN@", kpvm.FAULTS_BEGIN)
              .replace("@FAULTS_END@", kpvm.FAULTS_END)
              .replace("@ROLLED_BACK@", str(ROLLED_BACK))
              .replace("@WHY_SOFT@", WHY.replace("TYPE", "soft lockup"))
              .replace("@WHY_RCU@", WHY.replace("TYPE", "RCU stall")))
    files = {f"/kp/{n}.ko": kmods[n] for n in (
        "kp_core", "kp_test_oops", "kp_test_pb_ok", "kp_test_pb_null", "kp_test_pb_warn",
        "kp_test_pb_spin")}
    files["/kp/kpctl"] = kpctl_bin
    r = vm.run(script, files, timeout=300, expect_faults=True)
    assert "ALL OK" in r.output, r.describe()
    # The faults happened, where the script said they would.
    assert sum("Oops" in f for f in r.expected_faults) == 2, r.expected_faults
    assert any("WARNING:" in f and "kp_cmdline_proc_show" in f for f in r.expected_faults), \
        r.expected_faults
    assert sum("BUG: soft lockup" in f for f in r.expected_faults) >= 2, r.expected_faults
    assert sum("detected stall" in f for f in r.expected_faults) >= 2, r.expected_faults
    reverted = [int(us) for us in re.findall(r"rolled back: reverted (\d+) us", r.console)]
    # null, WARN, check, soft lockup, two RCU stalls, hung check
    assert len(reverted) == 7, r.console
    assert max(reverted[:2]) < 1_000_000, reverted  # the faults: within a second


INT3_GUEST = PROBATION_PRELUDE + r"""
[ "$(grep -c ^processor /proc/cpuinfo)" = 1 ] || fail "want one vCPU"
echo 0 > /proc/sys/debug/kprobes-optimization || fail "cannot turn kprobe optimization off"
insmod /kp/kp_core.ko || fail "insmod kp_core"
mount -t debugfs none /sys/kernel/debug 2> /dev/null
grep "show_regs" /sys/kernel/debug/kprobes/list || fail "no kprobe on show_regs"
grep "show_regs" /sys/kernel/debug/kprobes/list | grep -q OPTIMIZED && fail "the probe is optimized"
echo 3 > /sys/module/rcupdate/parameters/rcu_cpu_stall_timeout
kpctl load --probation 120 /kp/kp_test_pb_spin.ko || fail "load kp_test_pb_spin"
echo 6000 > /sys/module/kp_test_pb_spin/parameters/spin_ms
# One CPU: no grace period can start during the spin (its kthread cannot run), so the
# new code waits until one is under way before it spins.
echo 1 > /sys/module/kp_test_pb_spin/parameters/spin_in_gp
faults_begin
cat /proc/cmdline > /tmp/spun || fail "the reader of the RCU stall died"
wait_reverted kp_test_pb_spin 40
faults_end
dmesg | grep -Eq "rcu_preempt (self-)?detected stall" || fail "no RCU stall"
why=$(cat $K/kp_test_pb_spin/rolled_back)
echo "rolled_back: $why"
echo "$why" | grep -Eq "@WHY_RCU@" || fail "rolled_back: $why"
echo "ALL OK"
"""


def test_rcu_stall_int3_one_cpu(vm, kmods, kpctl_bin):
    """An RCU stall the stuck CPU reports itself is pinned on the patch when lockup.c's
    kprobe is an int3 (its handler then runs in NMI context: issue 25 item 7)."""
    script = (INT3_GUEST.replace("@FAULTS_BEGIN@", kpvm.FAULTS_BEGIN)
              .replace("@FAULTS_END@", kpvm.FAULTS_END)
              .replace("@WHY_RCU@", WHY.replace("TYPE", "RCU stall")))
    files = {f"/kp/{n}.ko": kmods[n] for n in ("kp_core", "kp_test_pb_spin")}
    files["/kp/kpctl"] = kpctl_bin
    r = vm.run(script, files, timeout=240, expect_faults=True, smp=1)
    assert "ALL OK" in r.output, r.describe()
    assert any("detected stall" in f for f in r.expected_faults), r.expected_faults
