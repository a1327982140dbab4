"""What a patch leaves behind when a target module or the patch itself goes (issue 25,
item 11).

One boot, with the core's fault-injection build (make -C kmod core-fi; kmod/core/params.h)
and SLUB poisoning (slub_debug=FPZ: a write into freed memory is a "Poison overwritten"
report):
  1. stale ranges: a target module that goes while its patch is in transition takes its
     functions out of the code ranges the self-switch checks (fi_ranges lists them), so
     a module loaded later at the same address is not taken for the old code;
  2. a child kobject's release after its parent's: with fi_kobj_release_ms the last put
     of each object and function kobject of a patch comes 1.5 s after its sysfs
     directory went (as CONFIG_DEBUG_KOBJECT_RELEASE delays releases; the test kernel
     does not have it), while the patch is loaded and unloaded again and again with
     files of it held open; the arrays that hold those kobjects must live until the
     last of them is released.
Modules: kp_test_mix.ko and kp_test_target.ko (targets), kp_test_join_patch.ko (patches
kp_mix_a in one and kp_target_value in the other), kp_test_cmdline.ko.
"""
from __future__ import annotations

from kmod_guest import files

GUEST = r"""
fail() { echo "FAIL: $*"; dmesg | tail -60; exit 1; }
K=/sys/kernel/kp
P=/sys/module/kp_core/parameters
M=/sys/kernel/debug/kp_test_mix
J=$K/kp_test_join_patch
C=$K/kp_test_cmdline
wait_for() {  # wait_for FILE VALUE SECONDS
	i=0
	while [ "$(cat $1 2>/dev/null)" != "$2" ]; do
		i=$((i+1)); [ $i -gt $(($3 * 10)) ] && fail "$1 is '$(cat $1 2>/dev/null)' after $3 s, want '$2'"
		sleep 0.1
	done
}
insmod /kp/kp_core.ko || fail "insmod kp_core (fault injection)"
grep -q slub_debug /proc/cmdline || fail "no slub_debug"

echo "== 1. a target module that goes during a transition leaves no stale range"
insmod /kp/kp_test_mix.ko || fail "insmod kp_test_mix"
echo a > $M/cmd; wait_for $M/state in-a 5
insmod /kp/kp_test_join_patch.ko || fail "insmod kp_test_join_patch"
[ "$(cat $J/transition)" = enabling ] || fail "not enabling: $(cat $J/transition)"
insmod /kp/kp_test_target.ko || fail "insmod kp_test_target during the transition"
old=$(cat $J/kp_test_target/kp_target_value,*/old_addr)
[ "$old" != 0x0 ] || fail "kp_target_value not resolved"
echo "ranges with the module: $(cat $P/fi_ranges | tr '\n' ' ')"
grep -q "^${old#0x}-" $P/fi_ranges || fail "kp_target_value ($old) not among the ranges"
rmmod kp_test_target || fail "rmmod kp_test_target"
[ "$(cat $J/kp_test_target/kp_target_value,*/old_addr)" = 0x0 ] || fail "old_addr kept"
[ "$(cat $J/transition)" = enabling ] || fail "no longer enabling: $(cat $J/transition)"
echo "ranges without it: $(cat $P/fi_ranges | tr '\n' ' ')"
grep -q "^${old#0x}-" $P/fi_ranges && fail "the gone module's kp_target_value ($old) is still a range"
[ -n "$(cat $P/fi_ranges)" ] || fail "the other ranges went too"
echo 1 > $M/release; wait_for $M/state idle 5
wait_for $J/transition idle 10
echo 0 > $J/enabled || fail "disable"
wait_for $J/transition idle 10
rmmod kp_test_join_patch || fail "rmmod kp_test_join_patch"
echo "STEP ranges ok"

echo "== 2. child kobjects released after their patch's sysfs went"
echo 1500 > $P/fi_kobj_release_ms || fail "no fi_kobj_release_ms parameter"
insmod /kp/kp_test_target.ko || fail "insmod kp_test_target"
for n in 1 2 3 4 5 6; do
	insmod /kp/kp_test_join_patch.ko || fail "cycle $n: insmod kp_test_join_patch"
	wait_for $J/transition idle 10
	exec 3< $J/enabled 4< $(echo $J/kp_test_mix/kp_mix_a,*/new_addr) 5< $J/callbacks
	insmod /kp/kp_test_cmdline.ko || fail "cycle $n: insmod kp_test_cmdline"
	exec 6< $(echo $C/vmlinux/cmdline_proc_show,*/old_addr)
	echo 0 > $J/enabled && echo 0 > $C/enabled || fail "cycle $n: disable"
	wait_for $J/transition idle 10; wait_for $C/transition idle 10
	rmmod kp_test_join_patch kp_test_cmdline || fail "cycle $n: rmmod"
	cat <&3 2> /dev/null && fail "cycle $n: enabled of a gone patch read"
	cat <&4 2> /dev/null && fail "cycle $n: new_addr of a gone patch read"
	exec 3<&- 4<&- 5<&- 6<&-
done
sleep 2
for c in /sys/kernel/slab/kmalloc-*; do echo 1 > $c/validate; done 2> /dev/null
dmesg | grep -E "Poison overwritten|BUG kmalloc|refcount_t|kobject" && fail "memory of a freed patch was written"
echo "STEP kobjects ok"
rmmod kp_test_target kp_test_mix || fail "rmmod targets"
echo "ALL OK"
"""


def test_target_and_patch_leave_nothing_stale(vm, kmods):
    fl = files(kmods, "kp_test_mix", "kp_test_target", "kp_test_join_patch",
               "kp_test_cmdline")
    fl["/kp/kp_core.ko"] = kmods["core-fi"]
    r = vm.run(GUEST, fl, timeout=240, append="slub_debug=FPZ")
    assert "ALL OK" in r.output, r.describe()
    for step in ("ranges", "kobjects"):
        assert f"STEP {step} ok" in r.output, r.describe()
