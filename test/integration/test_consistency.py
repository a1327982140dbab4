"""The hybrid consistency model of kp_core (issue 5), exercised in QEMU.

A patch switches in one stop_machine pass when every stack is clean; otherwise
the tasks inside the code being replaced stay on the old version and switch one
by one (task passes, no machine stop, or on their way back to user space), the patch completes
by itself, and a transition that does not finish in time reverses when its
on_timeout says so (pending by default: test_veto.py).  Modules:
kmod_guest.py; the kthreads live in test/integration/modules/targets.
"""
from __future__ import annotations

import re

import pytest

from kmod_guest import PRELUDE, files, run

# Guest names (wait_for is kmod_guest's PRELUDE).
WAIT = r"""
M=/sys/kernel/debug/kp_test_mix
P=$K/kp_test_mix_patch
"""


def test_busy_task_no_longer_fails_the_load(vm, kmods):
    """A kthread asleep in the patched function: the load succeeds, the switch
    waits for it, and completes by itself once it leaves; the same for disabling."""
    r = run(vm, kmods, WAIT + r"""
D=/sys/kernel/debug/kp_test_busy
B=$K/kp_test_busy_patch
insmod /kp/kp_test_busy.ko || fail "insmod busy"
echo 1 > $D/start; sleep 1
insmod /kp/kp_test_busy_patch.ko || fail "load refused while kp_busy/0 sleeps in kp_busy_wait"
[ "$(cat $B/transition)" = enabling ] || fail "transition is $(cat $B/transition)"
[ "$(cat $B/enabled)" = 1 ] || fail "enabled is not the target"
[ "$(cat $B/pending)" = 1 ] || fail "pending is $(cat $B/pending)"
grep -q "^[0-9]* kp_busy/0 kp_busy_wait+0x" $B/pending_tasks || fail "pending_tasks: $(cat $B/pending_tasks)"
ms1=$(cat $B/transition_ms); sleep 0.5; ms2=$(cat $B/transition_ms)
[ $ms2 -gt $ms1 ] || fail "transition_ms does not advance ($ms1, $ms2)"
# Nobody else is held: a new sleeper enters the new version.
echo 1 > $D/start; sleep 1
echo 1 > $D/release
wait_for $B/transition idle 10
[ "$(cat $B/enabled)" = 1 ] || fail "not enabled after the sleeper left"
[ "$(cat $B/pending)" = 0 ] || fail "pending after completion"
dmesg | grep -q "kp_test_busy_patch: enabled in [0-9]* us: 1 of [0-9]* task(s) switched after the first pass" || fail "no completion line"
dmesg | grep -q "original kp_busy_wait returns" || fail "kp_busy/0 did not run the original to its end"
dmesg | grep -q "patched kp_busy_wait returns" || fail "kp_busy/1 did not run the new version"
# Disabling with a task inside the new version: same, in the other direction.
echo 1 > $D/start; sleep 1
echo 0 > $B/enabled || fail "disable refused"
[ "$(cat $B/transition)" = disabling ] || fail "not disabling: $(cat $B/transition)"
grep -q "kp_busy/2 kp_busy_wait_new+0x" $B/pending_tasks || fail "pending_tasks: $(cat $B/pending_tasks)"
rmmod kp_test_busy_patch 2>/dev/null && fail "patch module removed during its transition"
echo 1 > $D/release
wait_for $B/transition idle 10
[ "$(cat $B/enabled)" = 0 ] || fail "not disabled"
[ "$(cat $D/last)" = 100 ] || fail "kp_busy/2 returned $(cat $D/last), want the patched 100"
rmmod kp_test_busy_patch || fail "rmmod patch"
rmmod kp_test_busy || fail "rmmod busy"
echo OK
""", "kp_test_busy", "kp_test_busy_patch", timeout=240)
    assert "OK" in r.output


def test_no_machine_stop_after_the_first_pass(vm, kmods):
    """Issue 28, item 2: after the first pass (stop_machine), a transition checks and
    switches its pending tasks one at a time, each in a fixed state (task_call_func), as
    livepatch does: while kp_busy/0 sleeps in the patched function for 3 s, some 30 task
    passes run and kp stops no machine (kp_core's stop_machine_count); once it leaves, a
    task pass switches it (a kthread: no self-switch) and the transition completes."""
    r = run(vm, kmods, WAIT + r"""
D=/sys/kernel/debug/kp_test_busy
B=$K/kp_test_busy_patch
S=/sys/module/kp_core/parameters/stop_machine_count
insmod /kp/kp_test_busy.ko || fail "insmod busy"
echo 1 > $D/start; sleep 1
s0=$(cat $S)
insmod /kp/kp_test_busy_patch.ko || fail "insmod patch"
[ "$(cat $B/transition)" = enabling ] || fail "transition is $(cat $B/transition)"
s1=$(cat $S)
[ $s1 -gt $s0 ] || fail "no stop_machine for the first pass ($s0, $s1)"
sleep 3
[ "$(cat $B/pending)" = 1 ] || fail "pending is $(cat $B/pending)"
[ "$(cat $S)" = $s1 ] || fail "stop_machine after the first pass: $s1, then $(cat $S)"
echo 1 > $D/release
wait_for $B/transition idle 10
[ "$(cat $S)" = $s1 ] || fail "stop_machine to complete: $s1, then $(cat $S)"
line=$(dmesg | grep "kp_test_busy_patch: enabled in")
echo "$line"
echo "$line" | grep -q ": 1 of [0-9]* task(s) switched after the first pass" || fail "completion: $line"
passes=$(echo "$line" | sed -n 's/.* \([0-9]*\) pass(es).*/\1/p')
[ "$passes" -ge 20 ] || fail "only $passes task passes in 3 s"
echo 0 > $B/enabled || fail "disable"
wait_for $B/transition idle 10
rmmod kp_test_busy_patch || fail "rmmod patch"
rmmod kp_test_busy || fail "rmmod busy"
echo NOSTOP-OK
""", "kp_test_busy", "kp_test_busy_patch", timeout=240)
    assert "NOSTOP-OK" in r.output, r.output


def test_idle_tasks_switch_from_their_cpus_stopper(vm, kmods):
    """An idle CPU's idle task is always on its CPU, so the task pass cannot take it in a
    fixed state: it stops that CPU alone and checks the idle task from its stopper.  The
    core's fault-injection build leaves every online CPU's idle task pending in the first
    pass (fi_idle_pending, as a patch of a function they sleep in would); the task passes
    must switch them all, with no machine-wide stop, and the transition complete."""
    script = PRELUDE + WAIT + r"""
B=$K/kp_test_busy_patch
P=/sys/module/kp_core/parameters
S=$P/stop_machine_count
cpus=$(grep -c ^processor /proc/cpuinfo)
insmod /kp/kp_test_busy.ko || fail "insmod busy"
echo 1 > $P/fi_idle_pending || fail "no fi_idle_pending parameter"
s0=$(cat $S)
insmod /kp/kp_test_busy_patch.ko || fail "insmod patch"
s1=$(cat $S)
echo 0 > $P/fi_idle_pending
wait_for $B/transition idle 10
[ "$(cat $S)" = $s1 ] || fail "stop_machine after the first pass: $s1, then $(cat $S)"
[ $s1 -gt $s0 ] || fail "no first pass ($s0, $s1)"
line=$(dmesg | grep "kp_test_busy_patch: enabled in")
echo "$line"
echo "$line" | grep -q ": $cpus of [0-9]* task(s) switched after the first pass" || fail "completion: $line (cpus $cpus)"
echo 0 > $B/enabled || fail "disable"
wait_for $B/transition idle 10
rmmod kp_test_busy_patch || fail "rmmod patch"
rmmod kp_test_busy || fail "rmmod busy"
echo IDLE-OK
"""
    files = {"/kp/kp_core.ko": kmods["core-fi"],
             "/kp/kp_test_busy.ko": kmods["kp_test_busy"],
             "/kp/kp_test_busy_patch.ko": kmods["kp_test_busy_patch"]}
    r = vm.run(script, files, timeout=120)
    assert "IDLE-OK" in r.output, r.output


def test_taint_and_module_mark_at_load(vm, kmods):
    """issue 14, item 8: the kernel is tainted (TAINT_LIVEPATCH) and the patch
    module marked (K in /proc/modules, as livepatch does) as soon as the patch
    loads, not only once its transition completes."""
    r = run(vm, kmods, WAIT + r"""
D=/sys/kernel/debug/kp_test_busy
B=$K/kp_test_busy_patch
t=$(cat /proc/sys/kernel/tainted); [ $((t & 32768)) -eq 0 ] || fail "tainted before any patch ($t)"
insmod /kp/kp_test_busy.ko || fail "insmod busy"
echo 1 > $D/start; sleep 1
insmod /kp/kp_test_busy_patch.ko || fail "load"
[ "$(cat $B/transition)" = enabling ] || fail "transition is $(cat $B/transition)"
t=$(cat /proc/sys/kernel/tainted); [ $((t & 32768)) -ne 0 ] || fail "no TAINT_LIVEPATCH while enabling ($t)"
grep "^kp_test_busy_patch " /proc/modules
grep -q "^kp_test_busy_patch .*(.*K.*)" /proc/modules || fail "module not marked K: $(grep kp_test_busy_patch /proc/modules)"
echo 1 > $D/release
wait_for $B/transition idle 10
echo 0 > $B/enabled && rmmod kp_test_busy_patch kp_test_busy || fail "unload"
echo OK
""", "kp_test_busy", "kp_test_busy_patch", timeout=180)
    assert "OK" in r.output


def test_task_lists_are_root_only(vm, kmods):
    """issue 14, item 5: pending_tasks and blocked show kernel stacks of any task,
    like /proc/PID/stack: root only.  The counts stay world-readable."""
    r = run(vm, kmods, WAIT + r"""
D=/sys/kernel/debug/kp_test_busy
B=$K/kp_test_busy_patch
echo "nobody:x:65534:65534:nobody:/:/bin/sh" >> /etc/passwd
echo "nobody:x:65534:" >> /etc/group
as_nobody() { su nobody -s /bin/sh -c "$1"; }
as_nobody "id -u" | grep -qx 65534 || fail "cannot run as nobody"
insmod /kp/kp_test_busy.ko || fail "insmod busy"
echo 1 > $D/start; sleep 1
insmod /kp/kp_test_busy_patch.ko transition_timeout=3 || fail "load"
echo reverse > $B/on_timeout || fail "on_timeout"	# settles (reversed) at the timeout
grep -q "kp_busy/0 kp_busy_wait+0x" $B/pending_tasks || fail "root cannot read pending_tasks: $(cat $B/pending_tasks)"
as_nobody "cat $B/pending" | grep -qx 1 || fail "nobody cannot read the pending count"
as_nobody "cat $B/pending_tasks" 2>/dev/null && fail "nobody read pending_tasks"
wait_for $B/transition idle 15
grep -q "kp_busy_wait+0x" $B/blocked || fail "root cannot read blocked: $(cat $B/blocked)"
as_nobody "cat $B/blocked" 2>/dev/null && fail "nobody read blocked"
ls -l $B/pending_tasks $B/blocked $B/pending
echo 1 > $D/release
rmmod kp_test_busy_patch kp_test_busy || fail "unload"
echo OK
""", "kp_test_busy", "kp_test_busy_patch", timeout=180)
    assert "OK" in r.output


def test_pending_tasks_says_when_it_is_cut(vm, kmods):
    """issue 14, item 8: pending_tasks fits in one page; with more pending tasks
    than fit, its last line says how many were left out."""
    r = run(vm, kmods, WAIT + r"""
D=/sys/kernel/debug/kp_test_busy
B=$K/kp_test_busy_patch
insmod /kp/kp_test_busy.ko || fail "insmod busy"
i=0; while [ $i -lt 100 ]; do echo 1 > $D/start || fail "start $i"; i=$((i+1)); done
sleep 2
insmod /kp/kp_test_busy_patch.ko || fail "load"
[ "$(cat $B/pending)" = 100 ] || fail "pending is $(cat $B/pending)"
cat $B/pending_tasks > /tmp/pt
size=$(wc -c < /tmp/pt); shown=$(grep -c "^[0-9]* kp_busy/[0-9]* kp_busy_wait+0x.*\]$" /tmp/pt)
last=$(tail -n 1 /tmp/pt)
echo "size=$size shown=$shown last='$last'"
case "$last" in "... "*" more") ;; *) fail "pending_tasks ends with '$last' ($shown of 100 shown)";; esac
more=${last#... }; more=${more% more}
[ $((shown + more)) = 100 ] || fail "$shown shown + $more more != 100"
[ $(wc -l < /tmp/pt) = $((shown + 1)) ] || fail "a line that is neither a task nor the last: $(cat /tmp/pt)"
echo 1 > $D/release
wait_for $B/transition idle 30
echo 0 > $B/enabled && rmmod kp_test_busy_patch || fail "unload"
echo OK
""", "kp_test_busy", "kp_test_busy_patch", timeout=300)
    assert "OK" in r.output


@pytest.mark.parametrize("patch,where,value", [
    ("kp_test_tail_patch", "kp_busy_tail_helper", 200),
    ("kp_test_cold_patch", r"kp_busy_wait_cold\.cold", 300),
])
def test_disable_waits_for_sleeper_anywhere_in_the_patch_module(vm, kmods, patch, where, value):
    """issue 14, item 2: a task asleep in patch-module code that has no record of
    its own (a helper the replacement tail-called, the replacement's .cold part)
    holds the disable; rmmod is refused until it left, and nothing oopses."""
    r = run(vm, kmods, WAIT + r"""
D=/sys/kernel/debug/kp_test_busy
B=$K/PATCH
insmod /kp/kp_test_busy.ko || fail "insmod busy"
insmod /kp/PATCH.ko || fail "load"
wait_for $B/transition idle 10
echo 1 > $D/start; sleep 1
echo 0 > $B/enabled || fail "disable refused"
[ "$(cat $B/transition)" = disabling ] || fail "disable completed while kp_busy/0 sleeps in the patch module: transition $(cat $B/transition)"
grep -q "kp_busy/0 WHERE+0x" $B/pending_tasks || fail "pending_tasks: $(cat $B/pending_tasks)"
rmmod PATCH 2>/dev/null && fail "patch module removed under a sleeper"
echo 1 > $D/release
wait_for $B/transition idle 10
[ "$(cat $D/last)" = VALUE ] || fail "kp_busy/0 returned $(cat $D/last)"
rmmod PATCH || fail "rmmod patch"
rmmod kp_test_busy || fail "rmmod busy"
echo OK
""".replace("PATCH", patch).replace("WHERE", where).replace("VALUE", str(value)),
        "kp_test_busy", patch, timeout=180)
    assert "OK" in r.output


def test_no_mixing_of_versions(vm, kmods):
    """A task asleep in the old A calls B: it gets the old B while other tasks get
    the new B; after it switched it gets the new A and B."""
    r = run(vm, kmods, WAIT + r"""
insmod /kp/kp_test_mix.ko || fail "insmod mix"
echo a > $M/cmd; wait_for $M/state in-a 5
insmod /kp/kp_test_mix_patch.ko || fail "load"
[ "$(cat $P/transition)" = enabling ] || fail "transition is $(cat $P/transition)"
grep -q " kp_mix kp_mix_a+0x" $P/pending_tasks || fail "pending_tasks: $(cat $P/pending_tasks)"
echo "shell-b=$(cat $M/call_b)"
echo 1 > $M/release
wait_for $P/transition idle 10
echo b > $M/cmd; wait_for $M/state idle 5
echo a > $M/cmd; wait_for $M/state in-a 5
echo 1 > $M/release; wait_for $M/state idle 5
echo "log=$(cat $M/log)"
echo 0 > $P/enabled || fail "disable"
wait_for $P/transition idle 10
echo "after-b=$(cat $M/call_b)"
rmmod kp_test_mix_patch || fail "rmmod patch"
echo OK
""", "kp_test_mix", "kp_test_mix_patch", timeout=240)
    assert "OK" in r.output
    # A task outside the old code runs the new B during the transition.
    assert "shell-b=2" in r.output
    # The task that slept in the old A ran the old B (11, not 12); after it
    # switched, the new B (2) and the new A with the new B (22).
    assert "log=a=11 b=2 a=22" in r.output, r.output
    assert "after-b=1" in r.output


def test_timeout_reverses_and_names_the_blocker(vm, kmods):
    """A kthread that never leaves the old A: the transition (on_timeout reverse)
    times out, reverses cleanly, names the kthread, and nothing stays patched."""
    r = run(vm, kmods, WAIT + r"""
insmod /kp/kp_test_mix.ko || fail "insmod mix"
echo a > $M/cmd; wait_for $M/state in-a 5
dmesg -c > /dev/null
insmod /kp/kp_test_mix_patch.ko transition_timeout=3 || fail "load"
[ "$(cat $P/on_timeout)" = pending ] || fail "default on_timeout $(cat $P/on_timeout)"
echo reverse > $P/on_timeout || fail "write on_timeout"
[ "$(cat $P/timeout)" = 3 ] || fail "timeout is $(cat $P/timeout)"
[ "$(cat $P/transition)" = enabling ] || fail "transition is $(cat $P/transition)"
wait_for $P/transition idle 15
[ "$(cat $P/enabled)" = 0 ] || fail "still enabled after the timeout"
dmesg > /tmp/log
grep -q "kp_test_mix_patch: cannot enable: 1 task(s) still inside the code being replaced after 3 s" /tmp/log || fail "no timeout line"
grep -q "kp_test_mix_patch: task [0-9]* (kp_mix) is inside kp_mix_a+0x" /tmp/log || fail "blocker not named in the log"
grep -q "reversing the enable transition (timeout)" /tmp/log || fail "no reversal line"
grep -q "^[0-9]* kp_mix kp_mix_a+0x" $P/blocked || fail "blocked: $(cat $P/blocked)"
grep -q "kp_mix_a+0x" $P/blocked || fail "no stack in blocked"
[ "$(cat $M/call_b)" = 1 ] || fail "B still patched after the reversal"
rmmod kp_test_mix_patch || fail "rmmod after reversal"
[ -z "$(cat /sys/kernel/tracing/enabled_functions)" ] || fail "ftrace handlers left"
echo 1 > $M/release; wait_for $M/state idle 5
[ "$(cat $M/log)" = "a=11" ] || fail "log $(cat $M/log)"
echo OK
""", "kp_test_mix", "kp_test_mix_patch", timeout=240)
    assert "OK" in r.output


def test_writing_0_reverses_at_once_and_one_transition_at_a_time(vm, kmods):
    """Writing 0 to enabled mid-transition reverses it; while a transition is in
    progress another patch is refused, clearly."""
    r = run(vm, kmods, WAIT + r"""
insmod /kp/kp_test_mix.ko || fail "insmod mix"
echo a > $M/cmd; wait_for $M/state in-a 5
insmod /kp/kp_test_mix_patch.ko || fail "load"
[ "$(cat $P/transition)" = enabling ] || fail "transition is $(cat $P/transition)"
dmesg -c > /dev/null
insmod /kp/kp_test_cmdline.ko 2>/dev/null && fail "second patch loaded during a transition"
dmesg | grep -q "kp_test_cmdline: cannot enable: patch kp_test_mix_patch is in transition" || fail "refusal not explained"
grep -q "^kp_test_cmdline " /proc/modules && fail "kp_test_cmdline loaded"
[ -e $K/kp_test_cmdline ] && fail "$K/kp_test_cmdline exists"
cmdline_is "$ORIG" "refused cmdline patch"
echo 0 > $P/enabled || fail "write 0"
wait_for $P/transition idle 2
[ "$(cat $P/enabled)" = 0 ] || fail "not reversed"
dmesg | grep -q "reversing the enable transition (requested)" || fail "no reversal line"
[ "$(cat $M/call_b)" = 1 ] || fail "B patched after the reversal"
rmmod kp_test_mix_patch || fail "rmmod"
insmod /kp/kp_test_cmdline.ko || fail "second patch refused after the transition"
cmdline_is kp-patched-v1 "cmdline patch"
echo 1 > $M/release; wait_for $M/state idle 5
[ "$(cat $M/log)" = "a=11" ] || fail "log $(cat $M/log)"
echo OK
""", "kp_test_mix", "kp_test_mix_patch", "kp_test_cmdline", timeout=240)
    assert "OK" in r.output


def test_force_completes_and_pins_the_module(vm, kmods):
    r = run(vm, kmods, WAIT + r"""
insmod /kp/kp_test_mix.ko || fail "insmod mix"
echo a > $M/cmd; wait_for $M/state in-a 5
insmod /kp/kp_test_mix_patch.ko || fail "load"
[ "$(cat $P/force)" = 0 ] || fail "force reads $(cat $P/force)"
echo 1 > $P/force || fail "force"
[ "$(cat $P/transition)" = idle ] || fail "still in transition"
[ "$(cat $P/enabled)" = 1 ] && [ "$(cat $P/force)" = 1 ] || fail "not forced on"
dmesg | grep -q "FORCING the enable transition: 1 task(s) switched without a stack check" || fail "no loud warning"
[ "$(cat $M/call_b)" = 2 ] || fail "B not patched"
# The forced task still runs the old A and now calls the new B: what force risks.
echo 1 > $M/release; wait_for $M/state idle 5
[ "$(cat $M/log)" = "a=12" ] || fail "log $(cat $M/log)"
echo 0 > $P/enabled || fail "disable"
wait_for $P/transition idle 5
rmmod kp_test_mix_patch 2>/dev/null && fail "a forced patch module was removed"
echo OK
""", "kp_test_mix", "kp_test_mix_patch", timeout=180)
    assert "OK" in r.output


def test_module_loaded_during_a_transition_joins_it(vm, kmods):
    """A target module that comes while its patch is enabling or disabling is
    patched as part of that transition, and follows it when it reverses."""
    r = run(vm, kmods, WAIT + r"""
J=$K/kp_test_join_patch
V=/sys/kernel/debug/kp_test_target/value
insmod /kp/kp_test_mix.ko || fail "insmod mix"
echo a > $M/cmd; wait_for $M/state in-a 5
insmod /kp/kp_test_join_patch.ko || fail "load"
[ "$(cat $J/transition)" = enabling ] || fail "not enabling: $(cat $J/transition)"
insmod /kp/kp_test_target.ko || fail "insmod target during enabling"
[ "$(cat $V)" = 42 ] || fail "module that came during enabling: value $(cat $V), want 42"
echo 0 > $J/enabled || fail "write 0"
wait_for $J/transition idle 5
[ "$(cat $V)" = 1 ] || fail "after the reversal: value $(cat $V), want 1"
echo 1 > $M/release; wait_for $M/state idle 5
echo 1 > $J/enabled || fail "enable"
wait_for $J/transition idle 10
[ "$(cat $V)" = 42 ] || fail "enabled: value $(cat $V)"
# Disabling, held by a task inside the new kp_mix_a; the module comes meanwhile.
echo a > $M/cmd; wait_for $M/state in-a 5
rmmod kp_test_target || fail "rmmod target"
echo 0 > $J/enabled || fail "disable"
[ "$(cat $J/transition)" = disabling ] || fail "not disabling: $(cat $J/transition)"
insmod /kp/kp_test_target.ko || fail "insmod target during disabling"
[ "$(cat $V)" = 1 ] || fail "module that came during disabling: value $(cat $V), want 1"
echo 1 > $J/enabled || fail "reverse to enabled"
wait_for $J/transition idle 5
[ "$(cat $J/enabled)" = 1 ] || fail "not enabled after the reversal"
[ "$(cat $V)" = 42 ] || fail "module that joined a reversed disable: value $(cat $V), want 42"
echo 1 > $M/release; wait_for $M/state idle 5
echo "log=$(cat $M/log)"
echo OK
""", "kp_test_mix", "kp_test_join_patch", "kp_test_target", timeout=240)
    assert "OK" in r.output
    assert "log=a=11 a=21" in r.output, r.output


def test_500_threads_through_the_patched_path(vm, kmods, guest_tools):
    """500 threads loop through a patched syscall path (a read that sleeps in the
    patched function) while the patch loads: the transition completes, and every
    thread ends up on the new version.  (The same change as a livepatch, timed against
    kp in the same VM run, is `make bench`'s: scripts/bench-kmod.sh.)"""
    fl = dict(files(kmods, "kp_bench_target", "kp_sleep_patch"),
              **{"/kp/bin/kp-threads": guest_tools["/kp/bin/kp-threads"]})
    r = vm.run(PRELUDE + r"""
insmod /kp/kp_bench_target.ko || fail "insmod target"
S=/sys/kernel/debug/kp_bench_target/sleep
[ "$(cat $S)" = 1 ] || fail "unpatched value"
dmesg -c > /dev/null
/kp/bin/kp-threads 500 $S $K/kp_sleep_patch/transition idle 2 120 -- insmod /kp/kp_sleep_patch.ko > /tmp/kp.out || fail "kp: $(cat /tmp/kp.out)"
echo "KP $(cat /tmp/kp.out)"
dmesg | grep "kp_sleep_patch:" | sed 's/^/KPLOG /'
echo OK
""", fl, timeout=400)
    assert "OK" in r.output
    kp = re.search(r"^KP threads=500 calls=(\d+) transition_ms=([\d.]+) all_new=yes", r.output, re.M)
    assert kp, r.output
    assert re.search(r"KPLOG .*kp_sleep_patch: enabl", r.output), r.output

