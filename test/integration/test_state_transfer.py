"""State transfer (issue 15): shadow variables, callbacks and states, in QEMU.

One boot runs the hand-written patches (test/integration/modules/patches/state.c):
callback order for vmlinux and for a module target that loads after the patch and
unloads before it, a failing pre-patch callback, a patch that takes over the
first one's state and shadow variable, the refusal of patches that ignore the
state or know an older version of it, and a leak check of shadow variables.

A second boot runs two patches built by kp-build: the kpatch-style one
(patches-state/kpatch-shadow-newpid.patch), then KP_TRANSFER_VALUE
(patches-state/value-overflowuid.patch: overflowuid's new initial value is in
force while the patch is live and restored by the unload; a value changed at run
time before the load is kept, one changed while patched is left).
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from kmod_guest import PRELUDE, files
from paths import HERE, kp_build_test_kernel

STATE_SCRIPT = r"""
shadow_count() { cat $K/shadow; }
cb_lines() { dmesg | grep -o 'kp-cb: .*' ; }

# A failing pre-patch callback: refused, nothing patched, its shadow data freed.
insmod /kp/kp_test_prefail.ko 2>/dev/null && fail "a patch whose pre-patch fails was loaded"
nothing_patched kp_test_prefail
dmesg | grep -q "kp_test_prefail: pre-patch callback for vmlinux failed: -19" || fail "no reason shown"
dmesg | grep -q "post callback after a failed pre-patch" && fail "a post callback ran after the failed pre-patch"
[ -z "$(shadow_count)" ] || fail "shadow data left by the refused patch: $(shadow_count)"
echo PREFAIL-OK

# Patch 1: callbacks for vmlinux; kp_test_target loads after it and unloads before it.
insmod /kp/kp_test_state1.ko || fail "insmod state1"
cat /proc/cmdline; cat /proc/cmdline
cmdline_is "kp-state-v1 reads=3" "state1"
[ "$(shadow_count)" = "21 1" ] || fail "shadow after state1: '$(shadow_count)'"
grep -qx "21" $K/kp_test_state1/shadow_ids || fail "shadow_ids: $(cat $K/kp_test_state1/shadow_ids)"
grep -qx "21 1" $K/kp_test_state1/states || fail "states: $(cat $K/kp_test_state1/states)"
grep -qx "vmlinux pre_patch post_patch pre_unpatch post_unpatch" $K/kp_test_state1/callbacks || fail "callbacks: $(cat $K/kp_test_state1/callbacks)"
insmod /kp/kp_test_target.ko || fail "insmod target"
[ "$(cat /sys/kernel/debug/kp_test_target/value)" = 1 ] || fail "target value"
rmmod kp_test_target || fail "rmmod target"

# A patch that ignores state 21, and one that knows only an older version: refused.
insmod /kp/kp_test_state_none.ko 2>/dev/null && fail "a patch ignoring state 21 was loaded"
nothing_patched_but_state1() { grep -q "^$1 " /proc/modules && fail "$1 still loaded"; [ -e $K/$1 ] && fail "$K/$1 exists"; cmdline_is "kp-state-v1 reads=4" "after refusing $1"; }
nothing_patched_but_state1 kp_test_state_none
dmesg | grep -q "kp_test_state_none: refused: patch kp_test_state1 created state 21 (version 1), which this patch does not declare" || fail "no reason for state_none"

# Patch 2 takes over state 21 (version 2) and the shadow variable.
insmod /kp/kp_test_state2.ko || fail "insmod state2"
cmdline_is "kp-state-v2 reads=5" "state2 takes over the count"
insmod /kp/kp_test_state_old.ko 2>/dev/null && fail "a patch knowing state 21 version 1 only was loaded"
dmesg | grep -q "kp_test_state_old: refused: patch kp_test_state2 has state 21 at version 2, this patch knows version 1 only" || fail "no reason for state_old"
echo STATUS-JSON; kpctl status kp_test_state2 --json || fail "kpctl status"; echo STATUS-END
grep -qx "21 declared" $K/kp_test_state2/shadow_ids || fail "state2 shadow_ids: $(cat $K/kp_test_state2/shadow_ids)"
echo 0 > $K/kp_test_state1/enabled || fail "disable state1"
rmmod kp_test_state1 || fail "rmmod state1"
cmdline_is "kp-state-v2 reads=6" "the count survives state1's removal"
[ "$(shadow_count)" = "21 1" ] || fail "shadow after state1 went: '$(shadow_count)'"
echo 0 > $K/kp_test_state2/enabled || fail "disable state2"
rmmod kp_test_state2 || fail "rmmod state2"
cmdline_is "$ORIG" "after both"
[ -z "$(shadow_count)" ] || fail "shadow data leaked: $(shadow_count)"
dmesg | grep -q "kp-dtor: id 21 reads=6" || fail "the declared dtor did not run"
dmesg | grep -q "kp_test_state2: freed 1 shadow variable(s) of id 21" || fail "no free message"
echo CALLBACK-ORDER
cb_lines
rmmod kp_core || fail "rmmod kp_core"
echo OK
"""

EXPECTED_ORDER = [
    "kp_test_state1 pre_patch vmlinux mod=0 prev=-2",
    "kp_test_state1 post_patch vmlinux mod=0 prev=-2",
    "kp_test_state1 pre_patch kp_test_target mod=1 prev=-2",
    "kp_test_state1 post_patch kp_test_target mod=1 prev=-2",
    "kp_test_state1 pre_unpatch kp_test_target mod=1 prev=-2",
    "kp_test_state1 post_unpatch kp_test_target mod=1 prev=-2",
    "kp_test_state2 pre_patch vmlinux mod=0 prev=1",
    "kp_test_state2 post_patch vmlinux mod=0 prev=1",
    "kp_test_state1 pre_unpatch vmlinux mod=0 prev=2",
    "kp_test_state1 post_unpatch vmlinux mod=0 prev=2",
    "kp_test_state2 pre_unpatch vmlinux mod=0 prev=-2",
    "kp_test_state2 post_unpatch vmlinux mod=0 prev=-2",
]


def test_callbacks_states_shadow(vm, kmods, kpctl_bin):
    info = json.loads(subprocess.run([str(kpctl_bin), "info", "--json",
                                      str(kmods["kp_test_state2"])],
                                     capture_output=True, text=True, check=True).stdout)
    assert info["states"] == [{"id": 21, "version": 2}], info["states"]
    assert [s["id"] for s in info["shadow_ids"]] == [21], info["shadow_ids"]
    assert info["shadow_ids"][0]["dtor"] == "kp_test_dtor", info["shadow_ids"]
    assert sorted((c["object"], c["pre_patch"], c["post_unpatch"])
                  for c in info["callbacks"]) == [("kp_test_target", "kp_pre_patch",
                                                   "kp_post_unpatch"),
                                                  ("vmlinux", "kp_pre_patch",
                                                   "kp_post_unpatch")], info["callbacks"]

    f = files(kmods, "kp_test_prefail", "kp_test_state1", "kp_test_state2",
              "kp_test_state_none", "kp_test_state_old", "kp_test_target")
    f["/kp/bin/kpctl"] = kpctl_bin
    r = vm.run(PRELUDE + STATE_SCRIPT, f, timeout=180)
    assert "PREFAIL-OK" in r.output and "OK" in r.output, r.output
    st = json.loads(r.output.split("STATUS-JSON", 1)[1].split("STATUS-END", 1)[0])
    p = st["patches"][0]
    assert p["states"] == ["21 2"] and p["shadow_ids"] == ["21 declared"], p
    assert sorted(p["callbacks"]) == [
        "kp_test_target pre_patch post_patch pre_unpatch post_unpatch",
        "vmlinux pre_patch post_patch pre_unpatch post_unpatch"], p
    order = r.output.split("CALLBACK-ORDER", 1)[1]
    got = [m.group(1) for m in re.finditer(r"kp-cb: (kp_test_state\d \S+ \S+ mod=\d prev=-?\d+)",
                                           order)]
    assert got == EXPECTED_ORDER, "\n".join(got)


KPATCH_SCRIPT = r"""
shadow_of() { sed -n "s/^$1 //p" $K/shadow; }
ID=5129559  # 0x4e4557, KPATCH_SHADOW_NEWPID
insmod /kp/kp_kpatch_newpid.ko || fail "insmod the kpatch-style patch"
dmesg | grep -q "kpatch-cb: pre_patch vmlinux" || fail "no pre_patch callback"
dmesg | grep -q "kpatch-cb: post_patch vmlinux" || fail "no post_patch callback"
# A shadow variable attached at fork, shown by the patched /proc/PID/status.
sleep 1000 &
pid=$!
grep -q "^newpid:	$pid$" /proc/$pid/status || fail "no newpid line for $pid: $(tail -3 /proc/$pid/status)"
grep -q "^newpid:" /proc/1/status && fail "init (forked before the patch) has a newpid"
# Freed at exit: 30 short-lived children leave no shadow variable behind. Any task the
# kernel forks meanwhile (a kworker) gets one too and may still live, so a few are allowed:
# a patch that frees nothing leaves 30.
before=$(shadow_of $ID)
i=0; while [ $i -lt 30 ]; do sleep 0 & wait $!; i=$((i + 1)); done
after=$(shadow_of $ID)
echo "SHADOW before=$before after=$after"
if [ $((after - before)) -gt 3 ]; then
	grep -l "^newpid:" /proc/[0-9]*/status
	fail "shadow variables of exited tasks not freed: $before -> $after"
fi
# kpatch-syscall.h
umask 0123; [ "$(umask)" = 0321 ] || fail "umask patch not in force: $(umask)"
umask 022
# Unload with the sleeper alive: kp frees what the patch left behind.
echo 0 > $K/kp_kpatch_newpid/enabled || fail "disable"
rmmod kp_kpatch_newpid || fail "rmmod"
[ -z "$(cat $K/shadow)" ] || fail "shadow data leaked: $(cat $K/shadow)"
dmesg | grep -q "kp_kpatch_newpid: freed [0-9]* shadow variable(s) of id $ID" || fail "no free message"
grep -q "^newpid:" /proc/$pid/status && fail "newpid still shown after the unload"
umask 0123; [ "$(umask)" = 0123 ] || fail "umask patch still in force"
kill $pid
echo KPATCH-ORDER
dmesg | grep -o 'kpatch-cb: .*'
echo OK
"""


def kp_build_patch(tmp_path_factory, kernel_tree, name: str, patch_file: str) -> Path:
    """@patch_file (patches-state/) built by kp-build as NAME.ko (shares test_kp_build's cache)."""
    out = tmp_path_factory.mktemp(name) / f"{name}.ko"
    r = kp_build_test_kernel([HERE / "patches-state" / patch_file], out)
    if r.returncode != 0:
        pytest.fail(f"kp-build failed ({r.returncode}):\n{r.stdout}\n{r.stderr}", pytrace=False)
    return out


@pytest.fixture(scope="module")
def kpatch_module(tmp_path_factory, kernel_tree):
    """The kpatch-style patch, built by kp-build unchanged."""
    return kp_build_patch(tmp_path_factory, kernel_tree, "kp_kpatch_newpid",
                          "kpatch-shadow-newpid.patch")


@pytest.fixture(scope="module")
def value_module(tmp_path_factory, kernel_tree):
    """KP_TRANSFER_VALUE(overflowuid): a patch that only changes a global's initial value."""
    return kp_build_patch(tmp_path_factory, kernel_tree, "kp_value_overflowuid",
                          "value-overflowuid.patch")


VALUE_SCRIPT = r"""
OU=/proc/sys/kernel/overflowuid
P=kp_value_overflowuid
V=$K/$P/values
ou_is() { [ "$(cat $OU)" = "$1" ] || fail "$2: overflowuid is $(cat $OU), expected $1"; }
ou_is 65534 "before the load"
# The new initial value is in force while the patch is live, the old one after the unload.
insmod /kp/$P.ko || fail "insmod $P"
ou_is 65533 "patch live"
grep -qx "vmlinux overflowuid,0 4 transferred 0xfffe -> 0xfffd" $V || fail "values: $(cat $V)"
echo VALUE-STATUS; kpctl status $P --json || fail "kpctl status"; echo VALUE-STATUS-END
echo 0 > $K/$P/enabled || fail "disable $P"
ou_is 65534 "disabled"
grep -q "^vmlinux overflowuid,0 4 restored " $V || fail "values after disable: $(cat $V)"
rmmod $P || fail "rmmod $P"
ou_is 65534 "after the unload"
dmesg | grep -q "$P: overflowuid in vmlinux: new value transferred" || fail "no transfer line"
dmesg | grep -q "$P: overflowuid in vmlinux: old value restored" || fail "no restore line"
# Changed at run time before the load: the live value is kept, and the unload leaves it.
echo 1000 > $OU
insmod /kp/$P.ko || fail "insmod $P (changed value)"
ou_is 1000 "changed before the load"
grep -q "^vmlinux overflowuid,0 4 kept " $V || fail "values (kept): $(cat $V)"
dmesg | grep -q "$P: overflowuid in vmlinux was changed at run time (not its old initial value): kept, not transferred" || fail "no kept line"
echo 0 > $K/$P/enabled || fail "disable $P (kept)"
ou_is 1000 "unload of a kept value"
rmmod $P || fail "rmmod $P (kept)"
# Changed while patched: the unload leaves the live value.
echo 65534 > $OU
insmod /kp/$P.ko || fail "insmod $P (third)"
ou_is 65533 "third load"
echo 2000 > $OU
echo 0 > $K/$P/enabled || fail "disable $P (left)"
ou_is 2000 "unload after a change while patched"
grep -q "^vmlinux overflowuid,0 4 left " $V || fail "values (left): $(cat $V)"
dmesg | grep -q "$P: overflowuid in vmlinux was changed while patched (not the transferred value): left, not restored" || fail "no left line"
rmmod $P || fail "rmmod $P (left)"
echo 65534 > $OU
echo VALUE-OK
"""


def test_kpatch_style_patch_and_value_transfer(vm, kmods, kpatch_module, value_module,
                                              kpctl_bin):
    info = json.loads(subprocess.run([str(kpctl_bin), "info", "--json", str(kpatch_module)],
                                     capture_output=True, text=True, check=True).stdout)
    kinds = sorted(k for c in info["callbacks"] for k in
                   ("pre_patch", "post_patch", "pre_unpatch", "post_unpatch") if c[k])
    assert kinds == ["post_patch", "post_unpatch", "pre_patch", "pre_unpatch"], info
    assert {c["object"] for c in info["callbacks"]} == {"vmlinux"}, info["callbacks"]
    assert sorted(f["function"] for f in info["functions"]) == [
        "__x64_sys_umask", "kernel_clone", "proc_pid_status", "release_task"], info  # __sys_setfsuid: KPATCH_IGNORE_FUNCTION
    assert not any(u.startswith("klp_shadow") for u in info["undefined"]), info["undefined"]

    vinfo = json.loads(subprocess.run([str(kpctl_bin), "info", "--json", str(value_module)],
                                      capture_output=True, text=True, check=True).stdout)
    assert vinfo["values"] == [{"object": "vmlinux", "variable": "overflowuid", "sympos": 0,
                                "size": 4, "old": "0xfffe", "new": "0xfffd"}], vinfo["values"]
    assert vinfo["functions"] == [], vinfo["functions"]

    f = files(kmods)
    f["/kp/kp_kpatch_newpid.ko"] = kpatch_module
    f["/kp/kp_value_overflowuid.ko"] = value_module
    f["/kp/bin/kpctl"] = kpctl_bin
    r = vm.run(PRELUDE + KPATCH_SCRIPT + VALUE_SCRIPT, f, timeout=240)
    assert "OK" in r.output and "VALUE-OK" in r.output, r.output
    order = r.output.split("KPATCH-ORDER", 1)[1].split("VALUE-STATUS", 1)[0]
    assert re.findall(r"kpatch-cb: (\S+ \S+)", order) == [
        "pre_patch vmlinux", "post_patch vmlinux", "pre_unpatch vmlinux",
        "post_unpatch vmlinux"], order
    st = json.loads(r.output.split("VALUE-STATUS", 1)[1].split("VALUE-STATUS-END", 1)[0])
    assert st["patches"][0]["values"] == [
        "vmlinux overflowuid,0 4 transferred 0xfffe -> 0xfffd"], st["patches"][0]


# Shadow lookups take no lock and allocate nothing (issue 25, item 4): a constructor for
# id 1, which runs under kp_shadow_lock with interrupts off, gets id 2; the destructor of
# id 1 gets id 3.  Before the fix each get registered its caller as a user of the id
# under that same lock: the CPU deadlocked with interrupts off.
NEST_SCRIPT = r"""
insmod /kp/kp_test_shadow_nest.ko || fail "insmod kp_test_shadow_nest"
cmdline_is "kp-shadow-nest 42 0" "the constructor's work"
[ "$(cat $K/shadow)" = "1 1" ] || fail "shadow: $(cat $K/shadow)"
ids=$(cat $K/kp_test_shadow_nest/shadow_ids | tr '\n' ' ')
echo "shadow_ids: $ids"
[ "$ids" = "1 declared 2 " ] || fail "shadow_ids: $ids"
echo 0 > $K/kp_test_shadow_nest/enabled || fail "disable"
wait_for $K/kp_test_shadow_nest/transition idle 20
rmmod kp_test_shadow_nest || fail "rmmod kp_test_shadow_nest"
dmesg | grep "kp_test_shadow_nest: dtor:"
dmesg | grep -q "kp_test_shadow_nest: dtor: id 3 is absent" || fail "the destructor did not run"
dmesg | grep -q "kp_test_shadow_nest: dtor: id 3 is absent, interrupts on" || fail "the destructor ran with interrupts off"
[ -z "$(cat $K/shadow)" ] || fail "shadow data left: $(cat $K/shadow)"
cmdline_is "$ORIG" "after the unload"
echo "NEST OK"
"""


PREV_SCRIPT = r"""
insmod /kp/kp_test_state1.ko || fail "insmod state1"
insmod /kp/kp_test_state_prev.ko || fail "insmod state_prev"
out=$(cat /proc/cmdline)
echo "read: $out"
echo "$out" | grep -q "^kp-state-v6 reads=[0-9]* prev=-1$" || fail "kp_state_prev_version outside a callback: $out"
dmesg | grep -q "kp_test_state_prev: kp_state_prev_version() outside a callback: refused" || fail "no refusal line"
echo 0 > $K/kp_test_state_prev/enabled && echo 0 > $K/kp_test_state1/enabled || fail "disable"
rmmod kp_test_state_prev kp_test_state1 || fail "rmmod"
echo PREV OK
"""


def test_state_prev_version_only_in_callbacks(vm, kmods):
    """kp_state_prev_version() walks the patches under kp_mutex, which only a callback
    holds: from a replacement it is refused (-EPERM, a log line), on every kernel, not
    only under lockdep (issue 25)."""
    r = vm.run(PRELUDE + PREV_SCRIPT, files(kmods, "kp_test_state1", "kp_test_state_prev"),
               timeout=120)
    assert "PREV OK" in r.output, r.describe()


def test_shadow_get_in_ctor_and_dtor(vm, kmods):
    r = vm.run(PRELUDE + NEST_SCRIPT, files(kmods, "kp_test_shadow_nest"), timeout=120)
    assert "NEST OK" in r.output, r.describe()
