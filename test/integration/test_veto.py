"""One task must not veto a fix for everyone (issue 25, item 6).

uid 65534 reads a 0444 proc file whose read sleeps (wait_event_killable) inside the
function a patch replaces (modules/targets/kp_test_veto.c, modules/patches/veto.c).  The
patch is loaded with a 2 s transition timeout and the core's fake signals every second.

One boot, steps in order (each a shell function of GUEST_STEPS):
  pending_default  by default the enable outlives its timeout pending: kpctl load exits 0
                   and says so, the new code is live for every other task (root reads 2),
                   sysfs (stalled, on_timeout, pending_tasks) and kpctl status, text and
                   JSON, show the pending transition and the straggler; nothing reverses;
                   the straggler is sent the fake signal (it wakes with a signal pending);
                   once it leaves the function the transition completes by itself (its
                   read restarts, in the new code);
  reverse_option   kpctl load --on-timeout reverse: the old behaviour, the transition
                   reverses at its timeout, kpctl removes the module and exits 12;
  reverse_record   the patch's kp_policy record asks for the reversal (KP_ON_TIMEOUT):
                   kpctl info shows it, the load reverses without the option; and
                   --on-timeout pending overrides the record for one load.
"""
from __future__ import annotations

from e2e import PROBATION_PRELUDE

BUSY = 12  # kpctl's exit status (docs/kpctl.md)

STEPS = ("pending_default", "reverse_option", "reverse_record")

GUEST_STEPS = PROBATION_PRELUDE + r"""
echo 'root:x:0:0:root:/:/bin/sh' > /etc/passwd
echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >> /etc/passwd
echo 'root:x:0:' > /etc/group
echo 'nogroup:x:65534:' >> /etc/group
as_nobody() { busybox su nobody -s /bin/sh -c "$*"; }
state() { cat /proc/kp_test_veto_state; }
# Waits (bounded) until /proc/kp_test_veto_state matches the extended regex $1.
wait_state() {
	i=0
	until state | grep -Eq "$1"; do
		i=$((i + 1)); [ $i -gt 100 ] && fail "state is '$(state)', want /$1/"
		usleep 100000
	done
}
# uid 65534 holds the old kp_veto_value asleep (killable); its output goes to /tmp/held.
hold() {
	as_nobody cat /proc/kp_test_veto > /tmp/held &
	wait_state "sleepers=1 "
	[ "$(stat -c %a /proc/kp_test_veto)" = 444 ] || fail "mode of /proc/kp_test_veto"
}
# Wakes the sleepers until none is left: a read woken with a fake signal pending restarts
# (splice_from_pipe_next() returns -ERESTARTSYS) and sleeps again.
release() {
	i=0
	while state | grep -q " sleepers=[1-9]"; do
		i=$((i + 1)); [ $i -gt 30 ] && fail "sleepers left: $(state)"
		echo 1 > /proc/kp_test_veto_release
		usleep 200000
	done
}
wait_idle() {
	i=0
	until [ "$(cat $K/$1/transition)" = idle ]; do
		i=$((i + 1)); [ $i -gt 100 ] && fail "$1 still $(cat $K/$1/transition)"
		usleep 100000
	done
}
# kpctl load $2... of patch $1 reverses at its timeout: exit 12, module removed.
reverses() {
	p=$1; shift
	hold
	kpctl load --timeout 2 "$@" /kp/$p.ko > /tmp/load.out 2>&1
	rc=$?
	cat /tmp/load.out
	[ $rc = @BUSY@ ] || fail "kpctl load $* of $p: exit $rc, want @BUSY@"
	grep -q "the transition reversed" /tmp/load.out || fail "no 'reversed' in kpctl's output"
	grep -q "^$p " /proc/modules && fail "$p still loaded after the reversal"
	dmesg | grep -q "$p: reversing the enable transition (timeout)" || fail "no reversal line"
	state | grep -q "^value=1 " || fail "after the reversal: $(state)"
	release
}

step_pending_default() {
	P=kp_test_veto_patch
	hold
	kpctl load --timeout 2 /kp/$P.ko > /tmp/load.out 2>&1
	rc=$?
	cat /tmp/load.out
	[ $rc = 0 ] || fail "kpctl load with a straggler: exit $rc"
	grep -q "pending" /tmp/load.out || fail "kpctl load did not say the transition is pending"
	grep -q " cat kp_veto_value+0x" /tmp/load.out || fail "kpctl load did not name the straggler"
	# Live for every other task: root's read runs the new code.
	state | grep -q "^value=2 sleepers=1 " || fail "not live for everyone else: $(state)"
	[ "$(cat $K/$P/enabled)" = 1 ] || fail "enabled: $(cat $K/$P/enabled)"
	[ "$(cat $K/$P/transition)" = enabling ] || fail "transition: $(cat $K/$P/transition)"
	[ "$(cat $K/$P/on_timeout)" = pending ] || fail "on_timeout: $(cat $K/$P/on_timeout)"
	[ "$(cat $K/$P/stalled)" = 1 ] || fail "stalled: $(cat $K/$P/stalled)"
	grep -q " cat kp_veto_value+0x" $K/$P/pending_tasks || fail "pending_tasks: $(cat $K/$P/pending_tasks)"
	kpctl status $P > /tmp/st.out || fail "kpctl status"
	cat /tmp/st.out
	grep -q "pending past its 2 s timeout" /tmp/st.out || fail "kpctl status: no pending"
	grep -q "cat [0-9]* in kp_veto_value" /tmp/st.out || fail "kpctl status: no straggler"
	kpctl status --json $P > /tmp/st.json || fail "kpctl status --json"
	grep -q '"stalled": *true' /tmp/st.json || fail "JSON: $(cat /tmp/st.json)"
	grep -q '"on_timeout": *"pending"' /tmp/st.json || fail "JSON: $(cat /tmp/st.json)"
	tr -d ' \n' < /tmp/st.json | grep -q '"pending":\["[0-9]*catkp_veto_value' \
		|| fail "JSON pending: $(cat /tmp/st.json)"
	sleep 3		# more timeouts: still pending, never reversed
	[ "$(cat $K/$P/transition)" = enabling ] || fail "after 5 s: $(cat $K/$P/transition)"
	dmesg | grep -q "$P: reversing" && fail "reversed: $(dmesg | grep $P)"
	dmesg | grep -q "$P: the enable stays pending" || fail "no 'stays pending' line"
	dmesg | grep -q "$P: kicked 1 pending task(s)" || fail "no fake signal sent"
	echo 1 > /proc/kp_test_veto_release	# the straggler leaves the old code
	wait_idle $P
	[ "$(cat $K/$P/enabled)" = 1 ] || fail "enabled after completion"
	[ "$(cat $K/$P/stalled)" = 0 ] || fail "stalled after completion"
	dmesg | grep -q "$P: enabled in" || fail "no completion line"
	# It woke with the fake signal pending: its sendfile returned to user space, where
	# it switched, and restarted: the new code now holds it, as any other reader.
	wait_state "^value=2 sleepers=1 signalled=1$"
	[ -s /tmp/held ] && fail "the straggler's first read returned: $(cat /tmp/held)"
	release
	[ "$(cat /tmp/held)" = 2 ] || fail "the straggler read $(cat /tmp/held), want the new 2"
	kpctl unload $P || fail "unload $P"
	echo "STEP pending_default ok"
}

step_reverse_option() {
	reverses kp_test_veto_patch --on-timeout reverse
	echo "STEP reverse_option ok"
}

step_reverse_record() {
	P=kp_test_veto_revrec
	kpctl info /kp/$P.ko | grep -q "^on timeout: reverse" || fail "kpctl info: $(kpctl info /kp/$P.ko)"
	reverses $P
	hold
	kpctl load --timeout 2 --on-timeout pending /kp/$P.ko || fail "load --on-timeout pending"
	[ "$(cat $K/$P/stalled)" = 1 ] || fail "stalled with --on-timeout pending: $(cat $K/$P/stalled)"
	release
	wait_idle $P
	kpctl unload $P || fail "unload $P"
	echo "STEP reverse_record ok"
}

insmod /kp/kp_core.ko || fail "insmod kp_core"
echo 1 > /sys/module/kp_core/parameters/signal_after
insmod /kp/kp_test_veto.ko || fail "insmod kp_test_veto"
"""

MODULES = ("kp_core", "kp_test_veto", "kp_test_veto_patch", "kp_test_veto_revrec")


def guest_script(steps=STEPS) -> str:
    body = "".join(f"step_{s}\n" for s in steps) + 'echo "ALL OK"\n'
    return (GUEST_STEPS + body).replace("@BUSY@", str(BUSY))


def test_veto(vm, kmods, kpctl_bin):
    files = {f"/kp/{n}.ko": kmods[n] for n in MODULES}
    files["/kp/kpctl"] = kpctl_bin
    r = vm.run(guest_script(), files, timeout=300)
    assert "ALL OK" in r.output, r.describe()
    for step in STEPS:
        assert f"STEP {step} ok" in r.output, r.describe()
