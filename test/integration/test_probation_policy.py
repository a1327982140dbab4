"""Probation's policy (issue 25, item 2): who and what may roll a patch back.

By default only evidence that the new code itself is broken rolls a patch back (an Oops
whose faulting IP is in the patch's code; a lockup at the top of the stuck stack): a WARN
and the patch's code anywhere on the stack count only when the load (kpctl load
--rollback-on) or the patch's kp_policy record (KP_ROLLBACK_ON) asks.  A rollback that a
task other than root triggered is logged with its uid and remembered unconfirmed: neither
the core nor kpctl refuse the module until root runs `kpctl confirm`.

One boot, steps in order (each a shell function of GUEST_STEPS; the faults are bracketed
for the VM runner):
  warn_default   a WARN in the new code, raised by uid 65534 and by root: no rollback;
  stack_default  an Oops in vmlinux (strlen) under the new code: no rollback;
  stack_asked    the same with --rollback-on stack: rolled back "(on the stack)", by root,
                 so remembered confirmed: the next load is refused (exit 16);
  warn_nobody    --rollback-on warn, the WARN raised by uid 65534: rolled back, uid in the
                 log and sysfs, unconfirmed: a fresh kpctl load of the same module works;
  comm_escaped   a task named "\\nab p confirmed" faults: its name is escaped (\\xHH) in
                 rolled_back and the log, forges no line; rolled_back and canary are
                 root's only (0400, 0600);
  null_nobody    a NULL dereference in the new code (default policy) raised by uid 65534:
                 rolled back, a fresh load works; after a second rollback root confirms
                 (kpctl confirm): the next load is refused by kpctl and by the core;
  warn_record    a patch whose kp_policy record asks for WARNs: rolled back on a WARN
                 with no load option; kpctl info shows the record;
  rollback_held  (item 5) a rollback held by a kthread asleep in the new code outlives
                 the 2 s transition timeout without reversing: it reports the kthread,
                 refuses a re-enable, and completes once the kthread leaves.
"""
from __future__ import annotations

import kpvm
from e2e import PROBATION_PRELUDE

ROLLED_BACK = 16  # kpctl's exit status (docs/kpctl.md)

STEPS = ("warn_default", "stack_default", "stack_asked", "warn_nobody", "comm_escaped",
         "null_nobody", "warn_record", "rollback_held")

GUEST_STEPS = PROBATION_PRELUDE + r"""
echo 'root:x:0:0:root:/:/bin/sh' > /etc/passwd
echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >> /etc/passwd
echo 'root:x:0:' > /etc/group
echo 'nogroup:x:65534:' >> /etc/group
# Runs "$@" as uid 65534 (busybox su, as root: no password).
as_nobody() { busybox su nobody -s /bin/sh -c "$*"; }
# Runs the shell command $2, which faults in patch $1, and waits until $1 is rolled back;
# its rolled_back must match the extended regex $3.
rollback_by() {
	faults_begin
	eval "$2"
	wait_reverted $1 20
	faults_end
	why=$(cat $K/$1/rolled_back)
	echo "rolled_back: $why"
	echo "$why" | grep -Eq "$3" || fail "rolled_back of $1: $why"
}
# Patch $1 is still in force after a fault it was not blamed for.
not_rolled_back() {
	sleep 1
	[ "$(cat $K/$1/enabled)" = 1 ] || fail "$1 was rolled back: $(cat $K/$1/rolled_back)"
	[ -z "$(cat $K/$1/rolled_back)" ] || fail "$1 rolled_back: $(cat $K/$1/rolled_back)"
	grep -q " $1 " $K/rolled_back && fail "the core remembers $1: $(cat $K/rolled_back)"
	return 0
}
# A fresh kpctl load of patch $1 works (its rollback is not confirmed), then unload it.
fresh_load() {
	kpctl load --probation 60 /kp/$1.ko > /tmp/err 2>&1 || fail "fresh load of $1: $(cat /tmp/err)"
	cat /tmp/err
	[ "$(cat $K/$1/enabled)" = 1 ] || fail "fresh load of $1 not enabled"
	grep -q "not confirmed" /tmp/err || fail "kpctl did not say the rollback is unconfirmed"
}

step_warn_default() {
	kpctl load --probation 60 /kp/kp_test_pb_warn.ko || fail "load kp_test_pb_warn"
	[ -z "$(cat $K/kp_test_pb_warn/rollback_on)" ] || fail "rollback_on: $(cat $K/kp_test_pb_warn/rollback_on)"
	faults_begin
	out=$(as_nobody cat /proc/cmdline) || fail "nobody's reader of a WARN died"
	out2=$(cat /proc/cmdline) || fail "root's reader of a WARN died"
	faults_end
	[ "$out" = kp-warned ] && [ "$out2" = kp-warned ] || fail "reads: $out $out2"
	[ "$(dmesg | grep -c 'WARNING:.*kp_cmdline_proc_show')" -ge 1 ] || fail "no WARN"
	not_rolled_back kp_test_pb_warn
	kpctl unload kp_test_pb_warn || fail "unload kp_test_pb_warn"
	echo "STEP warn_default ok"
}

step_stack_default() {
	n=$(oopses)
	kpctl load --probation 60 /kp/kp_test_pb_stack.ko || fail "load kp_test_pb_stack"
	faults_begin
	cat /proc/cmdline && fail "the reader of the faulting /proc/cmdline survived"
	faults_end
	[ "$(oopses)" = $((n + 1)) ] || fail "$(oopses) Oopses, want $((n + 1))"
	not_rolled_back kp_test_pb_stack
	kpctl unload kp_test_pb_stack || fail "unload kp_test_pb_stack"
	echo "STEP stack_default ok"
}

step_stack_asked() {
	kpctl load --probation 60 --rollback-on stack /kp/kp_test_pb_stack.ko || fail "load --rollback-on stack"
	[ "$(cat $K/kp_test_pb_stack/rollback_on)" = stack ] || fail "rollback_on: $(cat $K/kp_test_pb_stack/rollback_on)"
	kpctl status kp_test_pb_stack | grep -q "rolled back on: the fault in its code, and stack" \
		|| fail "kpctl status: $(kpctl status kp_test_pb_stack)"
	rollback_by kp_test_pb_stack "cat /proc/cmdline" \
		"^page fault at kp_cmdline_proc_show\+0x[0-9a-f]+/0x[0-9a-f]+ \[kp_test_pb_stack\] \(on the stack\), task [0-9]+ cat uid 0, 20"
	grep -q " kp_test_pb_stack confirmed page fault" $K/rolled_back || fail "core: $(cat $K/rolled_back)"
	kpctl unload kp_test_pb_stack || fail "unload kp_test_pb_stack"
	kpctl status > /dev/null	# copies the core's confirmed memory to disk
	grep -q " kp_test_pb_stack page fault at" $KPCTL_STATE_DIR/rolled-back || fail "not on disk"
	kpctl load --probation 60 /kp/kp_test_pb_stack.ko 2> /tmp/err
	rc=$?
	[ $rc = @ROLLED_BACK@ ] || fail "load after a root rollback: exit $rc: $(cat /tmp/err)"
	echo "STEP stack_asked ok"
}

step_warn_nobody() {
	kpctl load --probation 60 --rollback-on warn /kp/kp_test_pb_warn.ko || fail "load --rollback-on warn"
	[ "$(cat $K/kp_test_pb_warn/rollback_on)" = warn ] || fail "rollback_on: $(cat $K/kp_test_pb_warn/rollback_on)"
	rollback_by kp_test_pb_warn "as_nobody cat /proc/cmdline" \
		"^WARN at kp_cmdline_proc_show\+.*, task [0-9]+ cat uid 65534, 20.*, unconfirmed$"
	grep -q " kp_test_pb_warn unconfirmed WARN at" $K/rolled_back || fail "core: $(cat $K/rolled_back)"
	dmesg | grep -q "kp_test_pb_warn: the rollback was triggered by uid 65534, not root" || fail "no uid line"
	kpctl status | grep -q "kp_test_pb_warn .*unconfirmed: not refused" || fail "kpctl status: $(kpctl status)"
	kpctl unload kp_test_pb_warn || fail "unload kp_test_pb_warn"
	kpctl status > /dev/null
	grep -q kp_test_pb_warn $KPCTL_STATE_DIR/rolled-back 2> /dev/null && fail "an unconfirmed rollback is on disk"
	fresh_load kp_test_pb_warn
	kpctl unload kp_test_pb_warn || fail "unload the fresh kp_test_pb_warn"
	echo "STEP warn_nobody ok"
}

# A task whose name ends a line and writes a "confirmed" one (15 bytes, /proc/self/comm)
# faults: its name stays one escaped field in sysfs and in the log.
step_comm_escaped() {
	kpctl load --probation 60 --rollback-on warn /kp/kp_test_pb_warn.ko > /dev/null 2>&1 \
		|| fail "load kp_test_pb_warn"
	faults_begin
	as_nobody "printf '\nab p confirmed' > /proc/self/comm; read l < /proc/cmdline"
	wait_reverted kp_test_pb_warn 20
	faults_end
	cat $K/kp_test_pb_warn/rolled_back
	[ "$(grep -c . $K/kp_test_pb_warn/rolled_back)" = 1 ] || fail "rolled_back is not one line"
	grep -qF 'task' $K/kp_test_pb_warn/rolled_back || fail "no task in rolled_back"
	grep -qF '\x0aab\x20p\x20confirmed uid 65534' $K/kp_test_pb_warn/rolled_back \
		|| fail "the task name is not escaped: $(cat $K/kp_test_pb_warn/rolled_back)"
	grep -q "^ab p" $K/rolled_back && fail "a task name forged a line: $(cat $K/rolled_back)"
	dmesg | grep -q "] ab p confirmed" && fail "a task name forged a log line"
	[ "$(stat -c %a $K/rolled_back $K/kp_test_pb_warn/rolled_back $K/kp_test_pb_warn/canary | tr '\n' ' ')" = "600 400 600 " ] \
		|| fail "modes: $(stat -c '%n %a' $K/rolled_back $K/kp_test_pb_warn/rolled_back $K/kp_test_pb_warn/canary)"
	as_nobody "cat $K/rolled_back" 2> /dev/null && fail "nobody read $K/rolled_back"
	kpctl unload kp_test_pb_warn || fail "unload kp_test_pb_warn"
	echo "STEP comm_escaped ok"
}

# nobody reads the NULL-dereferencing /proc/cmdline: rolled back, unconfirmed.
null_by_nobody() {
	rollback_by kp_test_pb_null "as_nobody cat /proc/cmdline" \
		"^page fault at kp_cmdline_proc_show\+0x[0-9a-f]+/0x[0-9a-f]+ \[kp_test_pb_null\], task [0-9]+ cat uid 65534, 20.*, unconfirmed$"
}

step_null_nobody() {
	kpctl load --probation 60 /kp/kp_test_pb_null.ko || fail "load kp_test_pb_null"
	null_by_nobody
	dmesg | grep -q "kp_test_pb_null: the rollback was triggered by uid 65534, not root" || fail "no uid line"
	kpctl unload kp_test_pb_null || fail "unload kp_test_pb_null"
	fresh_load kp_test_pb_null
	null_by_nobody
	kpctl confirm kp_test_pb_null || fail "kpctl confirm"
	grep -q " kp_test_pb_null confirmed page fault" $K/rolled_back || fail "core: $(cat $K/rolled_back)"
	grep -q " kp_test_pb_null page fault at" $KPCTL_STATE_DIR/rolled-back || fail "confirmed, not on disk"
	kpctl unload kp_test_pb_null || fail "unload kp_test_pb_null"
	kpctl load --probation 60 /kp/kp_test_pb_null.ko 2> /tmp/err
	rc=$?
	[ $rc = @ROLLED_BACK@ ] || fail "load after root confirmed: exit $rc: $(cat /tmp/err)"
	insmod /kp/kp_test_pb_null.ko 2> /dev/null && fail "the core accepted a confirmed rolled-back module"
	kpctl confirm kp_test_nothing 2> /dev/null && fail "kpctl confirm of nothing succeeded"
	echo "STEP null_nobody ok"
}

step_warn_record() {
	kpctl info /kp/kp_test_pb_warnrec.ko | grep -q "^rolled back on: the fault in its code, and warn$" \
		|| fail "kpctl info: $(kpctl info /kp/kp_test_pb_warnrec.ko)"
	kpctl load --probation 60 /kp/kp_test_pb_warnrec.ko || fail "load kp_test_pb_warnrec"
	[ "$(cat $K/kp_test_pb_warnrec/rollback_on)" = warn ] || fail "rollback_on: $(cat $K/kp_test_pb_warnrec/rollback_on)"
	rollback_by kp_test_pb_warnrec "cat /proc/cmdline > /dev/null" \
		"^WARN at kp_cmdline_proc_show\+.* uid 0, "
	kpctl unload kp_test_pb_warnrec || fail "unload kp_test_pb_warnrec"
	echo "STEP warn_record ok"
}

step_rollback_held() {
	D=/sys/kernel/debug/kp_test_busy
	B=$K/kp_test_busy_patch
	insmod /kp/kp_test_busy.ko || fail "insmod kp_test_busy"
	kpctl load --probation 60 --timeout 2 /kp/kp_test_busy_patch.ko || fail "load kp_test_busy_patch"
	echo 1 > $D/start; sleep 1	# a kthread asleep in the new kp_busy_wait
	echo "held rollback" > $B/rollback || fail "ask for the rollback"
	sleep 6		# three timeouts
	[ "$(cat $B/transition)" = disabling ] || fail "the rollback is $(cat $B/transition), enabled $(cat $B/enabled)"
	[ "$(cat $B/enabled)" = 0 ] || fail "the rollback reversed"
	dmesg | grep -q "kp_test_busy_patch: transition reversed" && fail "the rollback reversed: $(dmesg | grep kp_test_busy_patch)"
	dmesg | grep -q "kp_test_busy_patch: a rollback is never reversed" || fail "no never-reversed line"
	grep -q "kp_busy/0 kp_busy_wait_new+0x" $B/blocked || fail "blocked: $(cat $B/blocked)"
	echo 1 > $B/enabled 2> /dev/null && fail "a rollback was turned back by writing 1 to enabled"
	echo 1 > $D/release
	i=0
	until [ "$(cat $B/transition)" = idle ]; do
		i=$((i + 1)); [ $i -gt 100 ] && fail "the rollback did not complete"; usleep 100000
	done
	[ "$(cat $B/enabled)" = 0 ] || fail "enabled after the rollback"
	dmesg | grep -q "kp_test_busy_patch: rolled back: reverted [0-9]* us after the check" || fail "no 'reverted' line"
	kpctl unload kp_test_busy_patch || fail "unload kp_test_busy_patch"
	rmmod kp_test_busy || fail "rmmod kp_test_busy"
	echo "STEP rollback_held ok"
}

[ "$(cat /proc/sys/kernel/panic_on_oops)" = 0 ] || fail "panic_on_oops is set"
insmod /kp/kp_core.ko || fail "insmod kp_core"
"""

MODULES = ("kp_core", "kp_test_pb_warn", "kp_test_pb_null", "kp_test_pb_stack",
           "kp_test_pb_warnrec", "kp_test_busy", "kp_test_busy_patch")


def guest_script(steps=STEPS) -> str:
    """The guest script running @steps in order."""
    body = "".join(f"step_{s}\n" for s in steps) + 'echo "ALL OK"\n'
    return (GUEST_STEPS + body).replace("@FAULTS_BEGIN@", kpvm.FAULTS_BEGIN) \
        .replace("@FAULTS_END@", kpvm.FAULTS_END).replace("@ROLLED_BACK@", str(ROLLED_BACK))


def test_probation_policy(vm, kmods, kpctl_bin):
    files = {f"/kp/{n}.ko": kmods[n] for n in MODULES}
    files["/kp/kpctl"] = kpctl_bin
    r = vm.run(guest_script(), files, timeout=300, expect_faults=True)
    assert "ALL OK" in r.output, r.describe()
    for step in STEPS:
        assert f"STEP {step} ok" in r.output, r.describe()
    # The faults happened where the script said: two WARNs unblamed, two blamed by
    # option (one raised by the task with the forging name) and one by record; Oopses:
    # stack twice, NULL twice.
    warns = [f for f in r.expected_faults if "WARNING:" in f]
    assert len(warns) == 5, r.expected_faults
    assert sum("Oops" in f for f in r.expected_faults) == 4, r.expected_faults
