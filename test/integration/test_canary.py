"""Canary (issue 16, item 3): a patch runs for a few processes first.

One boot runs every check in order, on kp_test_pb_ok (its /proc/cmdline reads
"kp-probation-ok") and kp_test_pb_null (its /proc/cmdline handler dereferences NULL):
  1. `kpctl load --canary pid:C`: the canary process C reads the new /proc/cmdline, itself
     (the shell's builtin read) and through its children (a subshell running cat, created
     after the canary started); every other process reads the old one; kpctl status and
     <patch>/canary show C;
  2. a second load while the canary is open is refused, by kpctl (saying so) and by the
     core (insmod);
  3. `kpctl abort`: nobody reads the new code, the module is gone; writing 1 to `enabled`
     does not promote, and `kpctl unload` of a patch in canary aborts it;
  4. a canary of two processes, one of which exits: the canary shows the one left, and
     `kpctl promote` switches every task;
  5. a fault in a canary task's child while in the new code (probation): the canary is
     aborted and rolled back, and no other task ran the new code (one Oops only, their
     reads all original).
Modules come from `make -C kmod`; kpctl is build/bin/kpctl or $KPCTL_BIN.
"""
from __future__ import annotations

import kpvm
from e2e import PROBATION_PRELUDE

BUSY = 12  # kpctl's exit status (docs/kpctl.md)

GUEST = PROBATION_PRELUDE + r"""
NEW=kp-probation-ok
# A reader process: for each request on its fifo it reads /proc/cmdline itself (the
# builtin read runs in the shell's own task) and through children (a subshell running
# cat), and answers "self|child".
reader() {
	mkfifo /tmp/$1.req /tmp/$1.rep
	( while read cmd < /tmp/$1.req; do
		read -r self < /proc/cmdline
		child=$(cat /proc/cmdline)
		echo "$self|$child" > /tmp/$1.rep
	  done ) &
}
ask() { echo go > /tmp/$1.req; cat /tmp/$1.rep; }
mine() { read -r me < /proc/cmdline; echo "$me|$(cat /proc/cmdline)"; }
expect() { # who, got, want
	[ "$2" = "$3" ] || fail "$1 read '$2', want '$3'"
}
insmod /kp/kp_core.ko || fail "insmod kp_core"
reader C; C=$!
reader N; N=$!
expect C "$(ask C)" "$ORIG|$ORIG"

echo "== 1. canary: only the canary process and its children"
kpctl load --canary pid:$C --probation 0 /kp/kp_test_pb_ok.ko > /tmp/out || { cat /tmp/out; fail "load --canary"; }
cat /tmp/out
grep -q "patch kp_test_pb_ok in canary: 1 task(s) run its new code" /tmp/out || fail "load output"
[ "$(cat $K/kp_test_pb_ok/transition)" = canary ] || fail "transition: $(cat $K/kp_test_pb_ok/transition)"
for i in 1 2 3; do
	expect C "$(ask C)" "$NEW|$NEW"
	expect N "$(ask N)" "$ORIG|$ORIG"
	expect shell "$(mine)" "$ORIG|$ORIG"
done
[ "$(cat $K/kp_test_pb_ok/canary)" = "$C sh" ] || fail "canary file: $(cat $K/kp_test_pb_ok/canary)"
kpctl status kp_test_pb_ok | tee /tmp/st
grep -q "^kp_test_pb_ok: in canary: 1 task (sh $C) run the new code" /tmp/st || fail "status"
kpctl status --json | grep -q "\"transition\": \"canary\"" || fail "status --json"
kpctl list --dir /kp | grep -q "kp_test_pb_ok  enabled  transition canary (1 task(s))" || fail "list: $(kpctl list --dir /kp)"
echo "STEP canary ok"

echo "== 2. a second load while the canary is open"
kpctl load /kp/kp_test_pb_warn.ko 2> /tmp/err
rc=$?
cat /tmp/err
[ $rc = @BUSY@ ] || fail "second load: exit $rc"
grep -q "patch kp_test_pb_ok is in canary (1 task(s) run its new code) and no other patch may change meanwhile; nothing was done; end the canary first with kpctl promote kp_test_pb_ok or kpctl abort kp_test_pb_ok" /tmp/err || fail "second load message"
grep -q "^kp_test_pb_warn " /proc/modules && fail "kp_test_pb_warn loaded"
insmod /kp/kp_test_pb_warn.ko 2> /dev/null && fail "the core enabled a patch during a canary"
dmesg | grep -q "kp_test_pb_warn: cannot enable: patch kp_test_pb_ok is in canary; promote or abort it first" || fail "no core refusal"
expect C "$(ask C)" "$NEW|$NEW"
echo "STEP busy ok"

echo "== 3. abort"
kpctl abort kp_test_pb_ok || fail "abort"
grep -q "^kp_test_pb_ok " /proc/modules && fail "module still loaded after abort"
expect C "$(ask C)" "$ORIG|$ORIG"
expect N "$(ask N)" "$ORIG|$ORIG"
dmesg | grep -q "kp_test_pb_ok: canary aborted: its tasks are back on the old code" || fail "no abort line"
kpctl load --canary pid:$C --probation 0 /kp/kp_test_pb_ok.ko > /dev/null || fail "load --canary again"
echo 1 > $K/kp_test_pb_ok/enabled || fail "write 1 to enabled"
[ "$(cat $K/kp_test_pb_ok/transition)" = canary ] || fail "writing 1 to enabled promoted"
expect N "$(ask N)" "$ORIG|$ORIG"
kpctl unload kp_test_pb_ok || fail "unload of a patch in canary"
expect C "$(ask C)" "$ORIG|$ORIG"
grep -q "^kp_test_pb_ok " /proc/modules && fail "module still loaded after unload"
echo "STEP abort ok"

echo "== 4. promote, after a canary process exited"
mkfifo /tmp/gone.req
sh -c 'read x < /tmp/gone.req' &
G=$!
kpctl load --canary pid:$C,pid:$G --probation 0 /kp/kp_test_pb_ok.ko || fail "load --canary 2"
[ "$(wc -l < $K/kp_test_pb_ok/canary)" = 2 ] || fail "canary of 2: $(cat $K/kp_test_pb_ok/canary)"
echo bye > /tmp/gone.req
wait $G
[ "$(cat $K/kp_test_pb_ok/canary)" = "$C sh" ] || fail "after an exit: $(cat $K/kp_test_pb_ok/canary)"
expect C "$(ask C)" "$NEW|$NEW"
expect N "$(ask N)" "$ORIG|$ORIG"
kpctl promote kp_test_pb_ok || fail "promote"
[ "$(cat $K/kp_test_pb_ok/transition)" = idle ] && [ "$(cat $K/kp_test_pb_ok/enabled)" = 1 ] || fail "not enabled after promote"
expect C "$(ask C)" "$NEW|$NEW"
expect N "$(ask N)" "$NEW|$NEW"
expect shell "$(mine)" "$NEW|$NEW"
kpctl unload kp_test_pb_ok || fail "unload"
expect N "$(ask N)" "$ORIG|$ORIG"
echo "STEP promote ok"

echo "== 5. a fault in a canary task"
mkfifo /tmp/f.req
( read go < /tmp/f.req; cat /proc/cmdline; sleep 1000 ) &
F=$!
kpctl load --canary pid:$F --probation 60 /kp/kp_test_pb_null.ko || fail "load the faulting canary"
expect N "$(ask N)" "$ORIG|$ORIG"
expect shell "$(mine)" "$ORIG|$ORIG"
faults_begin
echo go > /tmp/f.req
i=0
until [ "$(cat $K/kp_test_pb_null/enabled)" = 0 ] && [ "$(cat $K/kp_test_pb_null/transition)" = idle ]; do
	i=$((i + 1)); [ $i -gt 40 ] && fail "canary not aborted after 2 s"; usleep 50000
done
faults_end
echo "aborted after $i polls"
[ "$(oopses)" = 1 ] || fail "$(oopses) Oopses, want 1"
expect N "$(ask N)" "$ORIG|$ORIG"
expect shell "$(mine)" "$ORIG|$ORIG"
[ "$(oopses)" = 1 ] || fail "another task ran the new code: $(oopses) Oopses"
cat $K/kp_test_pb_null/rolled_back | grep -q "^page fault at kp_cmdline_proc_show+.* task [0-9]* cat" \
	|| fail "rolled_back: $(cat $K/kp_test_pb_null/rolled_back)"
dmesg | grep -q "kp_test_pb_null: canary aborted" || fail "no abort line"
dmesg | grep -q "kp_test_pb_null: rolled back: reverted" || fail "no rollback line"
kill $F
echo "ALL OK"
"""


def test_canary(vm, kmods, kpctl_bin):
    script = (GUEST.replace("@FAULTS_BEGIN@", kpvm.FAULTS_BEGIN)
              .replace("@FAULTS_END@", kpvm.FAULTS_END)
              .replace("@BUSY@", str(BUSY)))
    files = {f"/kp/{n}.ko": kmods[n] for n in (
        "kp_core", "kp_test_pb_ok", "kp_test_pb_null", "kp_test_pb_warn")}
    files["/kp/kpctl"] = kpctl_bin
    r = vm.run(script, files, timeout=150, expect_faults=True)
    assert "ALL OK" in r.output, r.describe()
    for step in ("canary", "busy", "abort", "promote"):
        assert f"STEP {step} ok" in r.output, r.describe()
    assert sum("Oops" in f for f in r.expected_faults) == 1, r.expected_faults


# issue 25, item 3: a transition work that waited for kp_mutex while its transition
# ended (forced here) must not act on the canary opened next.  The core's fault-injection
# build (make -C kmod core-fi) makes the work sleep 3 s before it takes the mutex.
STALE_WORK = PROBATION_PRELUDE + r"""
D=/sys/kernel/debug/kp_test_busy
B=$K/kp_test_busy_patch
C=$K/kp_test_pb_ok
insmod /kp/kp_core.ko fi_work_delay_ms=3000 || fail "insmod kp_core (fault injection)"
insmod /kp/kp_test_busy.ko || fail "insmod kp_test_busy"
echo 1 > $D/start; sleep 1	# a kthread asleep in the old kp_busy_wait
insmod /kp/kp_test_busy_patch.ko || fail "insmod kp_test_busy_patch"
[ "$(cat $B/transition)" = enabling ] || fail "no pending transition: $(cat $B/transition)"
usleep 500000			# a retry work is asleep before kp_mutex now
echo 1 > $B/force || fail "force"
[ "$(cat $B/transition)" = idle ] || fail "forced: $(cat $B/transition)"
kpctl load --canary pid:$$ /kp/kp_test_pb_ok.ko || fail "load the canary"
[ "$(cat $C/transition)" = canary ] || fail "no canary: $(cat $C/transition)"
sleep 5				# the stale work has run
[ "$(cat $C/transition)" = canary ] || fail "the stale work ended the canary: $(cat $C/transition)"
read -r self < /proc/cmdline
[ "$self" = kp-probation-ok ] || fail "the canary shell reads '$self'"
kpctl abort kp_test_pb_ok || fail "abort"
echo 1 > $D/release
echo "STALE OK"
"""


def test_stale_work_leaves_the_canary_alone(vm, kmods, kpctl_bin):
    files = {"/kp/kp_core.ko": kmods["core-fi"],
             "/kp/kp_test_busy.ko": kmods["kp_test_busy"],
             "/kp/kp_test_busy_patch.ko": kmods["kp_test_busy_patch"],
             "/kp/kp_test_pb_ok.ko": kmods["kp_test_pb_ok"],
             "/kp/kpctl": kpctl_bin}
    r = vm.run(STALE_WORK, files, timeout=120)
    assert "STALE OK" in r.output, r.describe()
