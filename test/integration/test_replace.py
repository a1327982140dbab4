"""Cumulative patches (issue 27): a replace patch replaces every enabled patch of its
set in one transition, in QEMU.

One boot (test_replace) runs the hand-written patches of
test/integration/modules/patches/replace.c (kp_test_rs1..3 stacked on four /proc show
functions, kp_test_rsr the replace patch of a subset plus one new, kp_test_rsother a
replace patch of another set), the states and callbacks of a replaced patch (state.c),
a replace while a kthread sleeps in a function only an old patch changed (mix.c on
kp_test_mix.ko), a replace patch built by kp-build --replace (patches/stacking), and a
replace patch rolled back by its probation (kp_test_rsnull: its /proc/cmdline handler
dereferences NULL), which returns every function to the replaced patches' versions, and
the incident: two kp-build --replace patches of do_exit (patches-replace/) replacing each
other 100 times, each removing the other's module, under a fork/exit storm.
"""
from __future__ import annotations

import json
import subprocess

import kpvm
import pytest

from kmod_guest import PRELUDE, files
from paths import HERE, kp_build_test_kernel

SCRIPT = r"""
is() { [ "$(cat $1)" = "$2" ] || fail "$3: $1 is '$(cat $1)', want '$2'"; }
ORIG_V=$(cat /proc/version)
log_since() { dmesg | tail -n +$(($1 + 1)); }
# Transitions that ended (completed or reversed).
transitions() { grep -cE "kp_core: kp_[a-z0-9_]+: ((enabled|disabled) in [0-9]+ us|transition reversed)"; }
handlers() { cat /sys/kernel/tracing/enabled_functions; }
faults_begin() { echo "@FAULTS_BEGIN@" > /dev/kmsg; }
faults_end() { echo "@FAULTS_END@" > /dev/kmsg; }
export KPCTL_STATE_DIR=/tmp/kpstate

# --- Three stacked patches, then a replace patch of two of their functions plus a new one.
stack3() {
	for p in rs1 rs2 rs3; do
		kpctl load /kp/kp_test_$p.ko --probation 0 >/dev/null || fail "load $p"
	done
	is /proc/cmdline rs3-cmdline "stacked"
	is /proc/version rs2-version "stacked"
	is /proc/loadavg rs2-loadavg "stacked"
}
stack3
kpctl load /kp/kp_test_rsother.ko --probation 0 >/dev/null || fail "load rsother"
is /proc/uptime rsother-uptime "set other"
[ "$(cat $K/kp_test_rsother/set)" = other ] || fail "set: $(cat $K/kp_test_rsother/set)"
# A fourth stacked patch of the set, with a kthread asleep in its version: it holds the
# replace transition, and meanwhile every other task runs the new state as a whole.
B=/sys/kernel/debug/kp_test_busy
insmod /kp/kp_test_busy.ko || fail "insmod busy"
kpctl load /kp/kp_test_busy_patch.ko --probation 0 >/dev/null || fail "load busy_patch"
echo 1 > $B/start; sleep 1
mark=$(dmesg | wc -l)
kpctl load --keep-replaced --probation 0 /kp/kp_test_rsr.ko > /tmp/out 2>&1 &
kpctl_pid=$!
wait_for $K/kp_test_rsr/transition enabling 20
is $K/kp_test_rsr/pending 1 "rsr held by kp_busy"
grep -q "kp_busy/0 kp_busy_wait_new+0x" $K/kp_test_rsr/pending_tasks || fail "pending: $(cat $K/kp_test_rsr/pending_tasks)"
is /proc/cmdline "$ORIG" "cmdline during the transition (a nop)"
is /proc/version "$ORIG_V" "version during the transition (a nop)"
is /proc/loadavg rsr-loadavg "loadavg during the transition"
is /proc/uptime rsr-uptime "uptime during the transition"
is $K/kp_test_rs1/enabled 1 "rs1 during the transition"
echo 1 > $B/release
wait $kpctl_pid || { cat /tmp/out; fail "load rsr"; }
cat /tmp/out
grep -q "kpctl: patch kp_test_rsr replaced kp_test_rs1, kp_test_rs2, kp_test_rs3, kp_test_busy_patch (disabled, kept loaded" /tmp/out || fail "kpctl did not say what was replaced"
is /proc/cmdline "$ORIG" "cmdline (rs1, rs3 only) is original again"
is /proc/version "$ORIG_V" "version (rs1, rs2 only) is original again"
is /proc/loadavg rsr-loadavg "loadavg"
is /proc/uptime rsr-uptime "uptime (new in rsr, on top of set other's)"
log_since $mark > /tmp/log
cat /tmp/log
[ "$(transitions < /tmp/log)" = 1 ] || fail "$(transitions < /tmp/log) transitions, want 1"
grep -q "kp_test_rsr: enabling in progress: 1 of [0-9]* task(s)" /tmp/log || fail "no pending line"
grep -q "kp_test_rsr: enabled in [0-9]* us: 1 of [0-9]* task(s) switched after the first pass" /tmp/log || fail "no enable line"
grep -q "kp_test_rsr: replace: 3 function(s) of the patches it replaces go back to the original code" /tmp/log || fail "no nop line"
[ "$(cat $B/last)" = 100 ] || fail "kp_busy/0 returned $(cat $B/last), want the old patch's 100"
is $K/kp_test_busy_patch/replaced_by kp_test_rsr "busy_patch"
for p in rs1 rs2 rs3; do
	grep -q "kp_test_$p: replaced by kp_test_rsr: disabled (its unpatch callbacks not run)" /tmp/log || fail "$p not replaced"
	grep -q "kp_test_$p: discarded: kp_test_rsr is in force for good; its module is removable" /tmp/log || fail "$p not discarded"
	is $K/kp_test_$p/enabled 0 "$p"
	is $K/kp_test_$p/replaced_by kp_test_rsr "$p"
	is $K/kp_test_$p/transition idle "$p"
done
is $K/kp_test_rsother/enabled 1 "another set's patch"
is $K/kp_test_rsother/replaced_by "" "another set's patch"
is $K/kp_test_rsr/replace 1 "rsr"
[ "$(cat $K/kp_test_rsr/replaced | tr '\n' ' ')" = "kp_test_rs1 kp_test_rs2 kp_test_rs3 kp_test_busy_patch " ] || fail "replaced: $(cat $K/kp_test_rsr/replaced)"
echo 1 > $K/kp_test_rs1/enabled 2>/dev/null && fail "a replaced patch was enabled again"
dmesg | grep -q "kp_test_rs1: cannot enable: it was replaced by kp_test_rsr" || fail "no reason for the refused enable"
echo STATUS-JSON; kpctl status --json || fail "status"; echo STATUS-END
kpctl status kp_test_rs1 | grep -q "REPLACED by kp_test_rsr" || fail "status text: $(kpctl status kp_test_rs1)"
kpctl list | grep "kp_test_rsr .*replaces the default set (replaced kp_test_rs1, kp_test_rs2, kp_test_rs3, kp_test_busy_patch)" || fail "list: $(kpctl list)"
kpctl list | grep -q "kp_test_rs2 .*REPLACED by kp_test_rsr" || fail "list: $(kpctl list)"
# Removable: kpctl unload just removes a replaced patch; so does rmmod.
kpctl unload kp_test_rs1 > /tmp/out || fail "unload rs1"
grep -q "kpctl: patch kp_test_rs1 (replaced by kp_test_rsr) removed" /tmp/out || fail "unload said: $(cat /tmp/out)"
rmmod kp_test_rs2 || fail "rmmod rs2"
kpctl unload kp_test_rs3 >/dev/null || fail "unload rs3"
rmmod kp_test_busy_patch kp_test_busy || fail "rmmod busy"
handlers | grep -qE "cmdline_proc_show|version_proc_show" && fail "handlers left: $(handlers)"
is /proc/cmdline "$ORIG" "after the removal"
kpctl unload kp_test_rsr >/dev/null || fail "unload rsr"
is /proc/uptime rsother-uptime "set other after rsr went"
grep -q "^[0-9.]* [0-9.]* [0-9.]* " /proc/loadavg || fail "loadavg: $(cat /proc/loadavg)"
kpctl unload kp_test_rsother >/dev/null || fail "unload rsother"
[ -z "$(handlers)" ] || fail "handlers left: $(handlers)"
echo REPLACE-OK

# --- The same stack replaced by a patch kp-build --replace built: kpctl load removes them.
stack3
kpctl load --probation 0 /kp/kp-stack-a.ko > /tmp/out 2>&1 || { cat /tmp/out; fail "load kp-stack-a"; }
cat /tmp/out
grep -q "kpctl: patch kp_stack_a replaced kp_test_rs1, kp_test_rs2, kp_test_rs3; removed kp_test_rs1, kp_test_rs2, kp_test_rs3" /tmp/out || fail "not removed"
for p in rs1 rs2 rs3; do [ -e /sys/module/kp_test_$p ] && fail "kp_test_$p still loaded"; done
is /proc/cmdline "$ORIG" "cmdline after kp-stack-a"
grep -q "^kp-stack-a$" /proc/version || fail "version: $(cat /proc/version)"
grep -q "^[0-9.]* [0-9.]* [0-9.]* " /proc/loadavg || fail "loadavg: $(cat /proc/loadavg)"
kpctl unload kp_stack_a >/dev/null || fail "unload kp-stack-a"
is /proc/version "$ORIG_V" "version after kp-stack-a"
echo KPBUILD-OK

# --- States and callbacks: a replace patch must know the states of the patches it replaces.
kpctl load --probation 0 /kp/kp_test_state1.ko >/dev/null || fail "load state1"
cat /proc/cmdline
is /proc/cmdline "kp-state-v1 reads=2" "state1"
kpctl load --probation 0 /kp/kp_test_state_repl_none.ko 2>/tmp/err && fail "a replace patch ignoring state 21 was loaded"
cat /tmp/err
dmesg | grep -q "kp_test_state_repl_none: refused: it would replace patch kp_test_state1, which created state 21 (version 1); a replace patch must declare every state of the patches it replaces" || fail "no reason for the refusal"
[ -e $K/kp_test_state_repl_none ] && fail "refused patch left in sysfs"
is $K/kp_test_state1/enabled 1 "state1 after the refusal"
is /proc/cmdline "kp-state-v1 reads=3" "state1 after the refusal"
kpctl load --probation 0 /kp/kp_test_state_repl.ko >/dev/null || fail "load state_repl"
is /proc/cmdline "kp-state-v6 reads=4" "the shadow count survives the replace"
[ -e /sys/module/kp_test_state1 ] && fail "state1 not removed"
dmesg | grep -q "kp-cb: kp_test_state1 pre_unpatch" && fail "the replaced patch's pre_unpatch ran"
dmesg | grep -q "kp-cb: kp_test_state1 post_unpatch" && fail "the replaced patch's post_unpatch ran"
dmesg | grep -q "kp-cb: kp_test_state_repl pre_patch vmlinux mod=0 prev=1" || fail "state_repl pre_patch did not see state 21 version 1"
dmesg | grep -q "kp-cb: kp_test_state_repl post_patch vmlinux mod=0" || fail "no post_patch"
is $K/shadow "21 1" "shadow variable kept: state_repl declares its id"
kpctl unload kp_test_state_repl >/dev/null || fail "unload state_repl"
[ -z "$(cat $K/shadow)" ] || fail "shadow left: $(cat $K/shadow)"
echo STATES-OK

# --- A replace while a kthread sleeps in a function only the old patch changed.
M=/sys/kernel/debug/kp_test_mix
insmod /kp/kp_test_mix.ko || fail "insmod mix"
kpctl load --probation 0 /kp/kp_test_mix_patch.ko >/dev/null || fail "load mix_patch"
is $M/call_b 2 "mix_patch"
echo a > $M/cmd; wait_for $M/state in-a 10
# Reversed at its timeout by the usual rules: the old patch stays in force.
kpctl load --probation 0 --timeout 3 --on-timeout reverse /kp/kp_test_rmix.ko > /tmp/out 2>&1 && fail "rmix loaded while kp_mix sleeps in the old A"
cat /tmp/out
dmesg | grep -q "kp_test_rmix: task [0-9]* (kp_mix) is inside kp_mix_a_new+0x" || fail "blocker not named"
dmesg | grep -q "kp_test_rmix: transition reversed: disabled again" || fail "not reversed"
[ -e /sys/module/kp_test_rmix ] && fail "rmix left loaded"
is $K/kp_test_mix_patch/enabled 1 "mix_patch after the reversal"
is $K/kp_test_mix_patch/replaced_by "" "mix_patch after the reversal"
is $M/call_b 2 "after the reversal"
# Waits (pending by default): new callers get the new state, kp_mix the old one whole.
insmod /kp/kp_test_rmix.ko || fail "insmod rmix"
is $K/kp_test_rmix/transition enabling "rmix"
is $K/kp_test_rmix/pending 1 "rmix"
is $M/call_b 4 "a switched task"
echo 1 > $M/release
wait_for $K/kp_test_rmix/transition idle 20
is $K/kp_test_mix_patch/replaced_by kp_test_rmix "mix_patch"
echo 0 > $K/kp_test_rmix/probation	# held until then: a rollback would return to it
echo a > $M/cmd; wait_for $M/state in-a 10; echo 1 > $M/release
wait_for $M/state idle 10
is $M/log "a=22 a=14" "kp_mix ran old/old, then the original A with the new B"
rmmod kp_test_mix_patch || fail "rmmod the replaced mix_patch"
kpctl unload kp_test_rmix >/dev/null || fail "unload rmix"
is $M/call_b 1 "after all"
rmmod kp_test_mix || fail "rmmod mix"
echo MIX-OK

# --- A rolled-back replace patch returns every function to the previous set's versions.
stack3
kpctl load --probation 60 /kp/kp_test_rsnull.ko > /tmp/out 2>&1 || { cat /tmp/out; fail "load rsnull"; }
cat /tmp/out
grep -q "kpctl: patch kp_test_rsnull replaced kp_test_rs1, kp_test_rs2, kp_test_rs3: disabled, kept loaded until its probation ends in" /tmp/out || fail "kpctl did not keep them"
is /proc/version "$ORIG_V" "version under rsnull"
grep -q "^[0-9.]* [0-9.]* [0-9.]* " /proc/loadavg || fail "loadavg under rsnull: $(cat /proc/loadavg)"
is /proc/uptime rsnull-uptime "uptime under rsnull"
for p in rs1 rs2 rs3; do
	is $K/kp_test_$p/enabled 0 "$p under rsnull"
	is $K/kp_test_$p/replaced_by kp_test_rsnull "$p under rsnull"
done
rmmod kp_test_rs1 2>/dev/null && fail "a patch held for a rollback was removed"
kpctl unload kp_test_rs2 2>/tmp/err && fail "kpctl unloaded a patch held for a rollback"
grep -q "patch kp_test_rs2 was replaced by kp_test_rsnull, which keeps it for a rollback until its probation ends" /tmp/err || fail "unload said: $(cat /tmp/err)"
faults_begin
cat /proc/cmdline && fail "the reader of the faulting /proc/cmdline survived"
i=0
until [ "$(cat $K/kp_test_rsnull/enabled)" = 0 ] && [ "$(cat $K/kp_test_rsnull/transition)" = idle ]; do
	i=$((i + 1)); [ $i -gt 200 ] && fail "kp_test_rsnull not rolled back after 20 s"
	sleep 0.1
done
faults_end
is /proc/cmdline rs3-cmdline "cmdline after the rollback"
is /proc/version rs2-version "version after the rollback"
is /proc/loadavg rs2-loadavg "loadavg after the rollback"
grep -q "^[0-9.]* [0-9.]*$" /proc/uptime || fail "uptime after the rollback: $(cat /proc/uptime)"
for p in rs1 rs2 rs3; do
	is $K/kp_test_$p/enabled 1 "$p after the rollback"
	is $K/kp_test_$p/replaced_by "" "$p after the rollback"
	dmesg | grep -q "kp_test_$p: in force again: kp_test_rsnull, which replaced it, was disabled" || fail "$p not back"
done
dmesg | grep -q "kp_test_rsnull: rolled back: reverted [0-9]* us after the page fault" || fail "no rollback line"
kpctl unload kp_test_rsnull >/dev/null || fail "unload rsnull"
for p in rs3 rs2 rs1; do kpctl unload kp_test_$p >/dev/null || fail "unload $p"; done
is /proc/cmdline "$ORIG" "at the end"
[ -z "$(handlers)" ] || fail "handlers left: $(handlers)"
echo ROLLBACK-OK

# --- The incident (6.1.52, 2025): a patch to do_exit replaced, its module removed, under a
# fork/exit storm; 100 replaces, each removing the module of the one before.
storm() { while [ ! -e /tmp/stop ]; do for i in 1 2 3 4 5 6 7 8; do /bin/true & done; wait; done; }
storm & storm_pid=$!
kpctl load --probation 0 /kp/kp-exit-a.ko >/dev/null || fail "load exit-a"
i=0
while [ $i -lt 50 ]; do
	i=$((i + 1))
	kpctl load --probation 0 /kp/kp-exit-b.ko > /tmp/out 2>&1 || { cat /tmp/out; fail "replace $i by exit-b"; }
	[ -e /sys/module/kp_exit_a ] && fail "replace $i: kp_exit_a not removed"
	kpctl load --probation 0 /kp/kp-exit-a.ko > /tmp/out 2>&1 || { cat /tmp/out; fail "replace $i by exit-a"; }
	[ -e /sys/module/kp_exit_b ] && fail "replace $i: kp_exit_b not removed"
done
touch /tmp/stop; wait $storm_pid
kpctl unload kp_exit_a >/dev/null || fail "unload exit-a"
[ -z "$(handlers)" ] || fail "handlers left: $(handlers)"
echo "EXIT-OK $((i * 2))"
"""


@pytest.fixture(scope="module")
def kp_exit(tmp_path_factory, kernel_tree):
    """Two replace patches of do_exit (patches-replace/exit-{a,b}.patch) by kp-build."""
    out = tmp_path_factory.mktemp("exit")
    for v in ("a", "b"):
        r = kp_build_test_kernel([HERE / "patches-replace" / f"exit-{v}.patch"],
                                 out / f"kp-exit-{v}.ko", "--replace")
        if r.returncode != 0:
            pytest.fail(f"kp-build failed ({r.returncode}):\n{r.stdout}\n{r.stderr}",
                        pytrace=False)
    return out


@pytest.fixture(scope="module")
def kp_stack_a(tmp_path_factory, kernel_tree):
    """patches/stacking/stack-a.patch built by kp-build --replace --set (default set)."""
    out = tmp_path_factory.mktemp("replace") / "kp-stack-a.ko"
    r = kp_build_test_kernel([HERE / "patches" / "stacking" / "stack-a.patch"], out,
                             "--replace")
    if r.returncode != 0:
        pytest.fail(f"kp-build failed ({r.returncode}):\n{r.stdout}\n{r.stderr}", pytrace=False)
    return out


def kpctl_info(kpctl_bin, ko) -> dict:
    return json.loads(subprocess.run([str(kpctl_bin), "info", "--json", str(ko)],
                                     capture_output=True, text=True, check=True).stdout)


def test_replace(vm, kmods, kpctl_bin, kp_stack_a, kp_exit):
    assert kpctl_info(kpctl_bin, kp_stack_a)["replace"] is True
    assert kpctl_info(kpctl_bin, kmods["kp_test_rs1"])["replace"] is False
    other = kpctl_info(kpctl_bin, kmods["kp_test_rsother"])
    assert (other["replace"], other["set"]) == (True, "other"), other

    f = files(kmods, "kp_test_busy", "kp_test_busy_patch",
              "kp_test_rs1", "kp_test_rs2", "kp_test_rs3", "kp_test_rsr",
              "kp_test_rsother", "kp_test_state1", "kp_test_state_repl",
              "kp_test_state_repl_none", "kp_test_mix", "kp_test_mix_patch", "kp_test_rmix",
              "kp_test_rsnull")
    f["/kp/kp-stack-a.ko"] = kp_stack_a
    for v in ("a", "b"):
        f[f"/kp/kp-exit-{v}.ko"] = kp_exit / f"kp-exit-{v}.ko"
    f["/kp/bin/kpctl"] = kpctl_bin
    script = (SCRIPT.replace("@FAULTS_BEGIN@", kpvm.FAULTS_BEGIN)
              .replace("@FAULTS_END@", kpvm.FAULTS_END))
    r = vm.run(PRELUDE + script, f, timeout=900, expect_faults=True)
    for step in ("REPLACE-OK", "KPBUILD-OK", "STATES-OK", "MIX-OK", "ROLLBACK-OK",
                 "EXIT-OK 100"):
        assert step in r.output, r.describe()
    assert sum("Oops" in x for x in r.expected_faults) == 1, r.expected_faults
    st = json.loads(r.output.split("STATUS-JSON", 1)[1].split("STATUS-END", 1)[0])
    by = {p["name"]: p for p in st["patches"]}
    assert by["kp_test_rsr"]["replace"] is True
    assert by["kp_test_rsr"]["replaced"] == ["kp_test_rs1", "kp_test_rs2", "kp_test_rs3",
                                             "kp_test_busy_patch"]
    assert by["kp_test_rsr"]["replaced_by"] is None
    for p in ("kp_test_rs1", "kp_test_rs2", "kp_test_rs3"):
        assert by[p]["replaced_by"] == "kp_test_rsr" and by[p]["enabled"] is False, by[p]
    assert by["kp_test_rsother"]["set"] == "other" and by["kp_test_rsother"]["enabled"]


def test_kp_build_set_name_refused(tmp_path):
    """--set takes 1-64 characters of A-Z a-z 0-9 _ . -: anything else is refused before
    anything is built, and no module is written."""
    out = tmp_path / "kp-x.ko"
    r = kp_build_test_kernel([HERE / "patches" / "stacking" / "stack-a.patch"], out,
                             "--replace", "--set", "bad set/name", timeout=60)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "a set name is 1 to 64 characters of A-Z a-z 0-9 _ . -" in r.stderr, r.stderr
    assert not out.exists()
