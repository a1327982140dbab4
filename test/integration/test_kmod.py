"""kp_core.ko and the patch-module template, exercised in QEMU (modules: see kmod_guest.py)."""
from __future__ import annotations

import re
import subprocess

import pytest

from kmod_guest import run
from paths import KDIR


def vmlinux_build_id() -> str:
    out = subprocess.run(["readelf", "-n", str(KDIR / "vmlinux")], capture_output=True,
                         text=True, check=True).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    assert m, f"no build ID in readelf -n vmlinux:\n{out}"
    return m.group(1)


def test_enable_disable_rmmod(vm, kmods):
    r = run(vm, kmods, r"""
insmod /kp/kp_test_cmdline.ko || fail "insmod patch"
cmdline_is "kp-patched-v1" "enabled"
[ "$(cat $K/kp_test_cmdline/enabled)" = 1 ] || fail "enabled != 1"
[ "$(cat $K/kp_test_cmdline/transition)" = idle ] || fail "transition"
# build_id must be the running kernel's: the GNU note (type 3, "GNU\0") in /sys/kernel/notes.
bid=$(cat $K/kp_test_cmdline/build_id)
notes=$(hexdump -v -e '/1 "%02x"' /sys/kernel/notes)
echo "BUILD-ID=$bid"
[ ${#bid} -ge 40 ] || fail "build_id '$bid' is not a build ID"
case "$notes" in *03000000474e5500"$bid"*) ;; *) fail "build_id $bid is not in /sys/kernel/notes: $notes";; esac
old=$(cat $K/kp_test_cmdline/vmlinux/cmdline_proc_show,0/old_addr)
want=0x$(grep ' cmdline_proc_show$' /proc/kallsyms | cut -d' ' -f1 | sed 's/^0*//')
[ "$old" = "$want" ] || fail "old_addr $old, kallsyms $want"
new=$(cat $K/kp_test_cmdline/vmlinux/cmdline_proc_show,0/new_addr)
grep -i "^0*${new#0x} t kp_cmdline_proc_show" /proc/kallsyms || fail "new_addr $new is not kp_cmdline_proc_show"
grep -q cmdline_proc_show /sys/kernel/tracing/enabled_functions || fail "no ftrace handler"
t=$(cat /proc/sys/kernel/tainted); [ $((t & 32768)) -ne 0 ] || fail "no TAINT_LIVEPATCH ($t)"
rmmod kp_test_cmdline 2>/dev/null && fail "rmmod of an enabled patch succeeded"
cmdline_is "kp-patched-v1" "after refused rmmod"
echo 0 > $K/kp_test_cmdline/enabled || fail "disable"
cmdline_is "$ORIG" "disabled"
echo 1 > $K/kp_test_cmdline/enabled || fail "re-enable"
cmdline_is "kp-patched-v1" "re-enabled"
echo 0 > $K/kp_test_cmdline/enabled || fail "disable 2"
rmmod kp_test_cmdline || fail "rmmod"
cmdline_is "$ORIG" "after rmmod"
[ -e $K/kp_test_cmdline ] && fail "sysfs left after rmmod"
[ -z "$(cat /sys/kernel/tracing/enabled_functions)" ] || fail "handler left after rmmod"
rmmod kp_core || fail "rmmod kp_core"
echo OK
""", "kp_test_cmdline")
    assert "OK" in r.output
    assert re.search(r"kp_test_cmdline: enabled in \d+ us", r.console)
    assert f"BUILD-ID={vmlinux_build_id()}" in r.output, r.output


def test_stacking(vm, kmods):
    r = run(vm, kmods, r"""
insmod /kp/kp_test_cmdline.ko || fail "insmod v1"
insmod /kp/kp_test_cmdline2.ko || fail "insmod v2"
cmdline_is "kp-patched-v2" "v2 on top of v1"
[ "$(grep -c cmdline_proc_show /sys/kernel/tracing/enabled_functions)" = 1 ] || fail "one handler per function"
echo 0 > $K/kp_test_cmdline2/enabled || fail "disable v2"
cmdline_is "kp-patched-v1" "v2 disabled: back to v1"
echo 1 > $K/kp_test_cmdline2/enabled || fail "enable v2"
cmdline_is "kp-patched-v2" "v2 again"
echo 0 > $K/kp_test_cmdline/enabled || fail "disable v1 under v2"
cmdline_is "kp-patched-v2" "v1 removed from under v2"
echo 1 > $K/kp_test_cmdline/enabled || fail "enable v1 over v2"
cmdline_is "kp-patched-v1" "v1 now newest"
echo 0 > $K/kp_test_cmdline/enabled || fail "disable v1"
cmdline_is "kp-patched-v2" "v1 gone: v2"
echo 0 > $K/kp_test_cmdline2/enabled || fail "disable v2"
cmdline_is "$ORIG" "all disabled"
rmmod kp_test_cmdline kp_test_cmdline2 || fail rmmod
nothing_patched kp_test_cmdline
echo OK
""", "kp_test_cmdline", "kp_test_cmdline2")
    assert "OK" in r.output


REFUSALS = [
    # module, guest setup, dmesg pattern naming the symbol and the reason
    ("kp_test_badname", "", r"cannot find function kp_no_such_function,0 in vmlinux"),
    ("kp_test_badpos", "", r"symbol cmdline_proc_show,2 not found in vmlinux: only 1 instance"),
    ("kp_test_badsize", "", r"function cmdline_proc_show,0 in vmlinux has size \d+, the patch was built for size \d+"),
    ("kp_test_badksym", "", r"symbol seq_puts,0 \(vmlinux\) is at \S+, the patch expects"),
    ("kp_test_badbid", "", r"kp_test_badbid: refused: built for kernel build ID 0+deadbeef, the running kernel is [0-9a-f]{40}"),
    # issue 14, item 8: records of an object the patch replaces nothing in, and
    # a replacement in .init.text (freed once the init returned).
    ("kp_test_orphansym", "",
     r"kp_test_orphansym: kp_syms record of kp_test_target, an object the patch replaces no function in"),
    ("kp_test_orphanreloc", "",
     r"kp_test_orphanreloc: kp_relocs record of kp_test_target, an object the patch replaces no function in"),
    ("kp_test_initfn", "",
     r"kp_test_initfn: the replacement of cmdline_proc_show is not in the patch module's core text"),
    # issue 25, item 9: a callback, a shadow destructor or a record string in an init
    # section (freed once the init returned) is refused at register, naming the record.
    ("kp_test_initcb", "",
     r"kp_test_initcb: kp_callbacks record 0 \(vmlinux\): its pre_unpatch callback "
     r"kp_init_cb\+0x0/0x\w+ \[kp_test_initcb\] is not in the patch module's core text"),
    ("kp_test_initdtor", "",
     r"kp_test_initdtor: kp_shadows record 0 \(id 7\): its destructor "
     r"kp_init_dtor\+0x0/0x\w+ \[kp_test_initdtor\] is not in the patch module's core text"),
    ("kp_test_initstr", "",
     r"kp_test_initstr: kp_syms record 0: its name \(at kp_init_name\+0x0/0x\w+ "
     r"\[kp_test_initstr\]\) is not a string in the patch "
     r"module's core text or read-only data"),
    # issue 24, item 2: the core's check of the sealed-ENDBR gate: a function whose
    # address the patch takes must start with ENDBR64 in the running kernel.
    ("kp_test_noendbr", "",
     r"kp_test_noendbr: kp_cmdline_proc_show takes the address of seq_printf\+0x0/0x\w+, "
     r"which starts with [0-9a-f ]{11}, not ENDBR64, in the running kernel .*#CP: refused"),
    ("kp_test_orphanaddr", "",
     r"kp_test_orphanaddr: kp_addrs record of kp_test_target, an object the patch replaces no function in"),
    ("kp_test_cmdline", "echo 0 > /proc/sys/kernel/ftrace_enabled",
     r"cannot register the ftrace handler on cmdline_proc_show \(vmlinux\): -16"),
]


def test_refusals_leave_nothing_patched(vm, kmods):
    script = ""
    for name, setup, _ in REFUSALS:
        script += f"""
{setup}
dmesg -c > /dev/null
insmod /kp/{name}.ko 2>/dev/null && fail "{name} was accepted"
echo "== {name}"; dmesg
nothing_patched {name}
echo 1 > /proc/sys/kernel/ftrace_enabled
"""
    # The same good patch loads once ftrace is back: the refusal was for that reason.
    script += r"""
insmod /kp/kp_test_cmdline.ko || fail "good patch refused"
cmdline_is kp-patched-v1 "good patch"
echo 0 > /proc/sys/kernel/ftrace_enabled 2>/dev/null && fail "ftrace_enabled=0 allowed under a patch"
echo 0 > $K/kp_test_cmdline/enabled && rmmod kp_test_cmdline || fail "unload"
echo OK
"""
    r = run(vm, kmods, script, *sorted({n for n, _, _ in REFUSALS}))
    assert "OK" in r.output
    sections = r.output.split("== ")
    for name, _, pattern in REFUSALS:
        sec = next(s for s in sections if s.startswith(name + "\n"))
        assert re.search(pattern, sec), f"{name}: no '{pattern}' in:\n{sec}"


def test_enable_disable_under_load(vm, kmods):
    r = run(vm, kmods, r"""
insmod /kp/kp_test_cmdline.ko || fail insmod
echo 0 > $K/kp_test_cmdline/enabled
reader() {
	n=0; bad=0
	while [ ! -e /tmp/stop ]; do
		read -r v < /proc/cmdline	# a shell builtin: no fork per call
		case "$v" in "$ORIG"|kp-patched-v1) ;; *) bad=$((bad+1)); echo "BAD: '$v'";; esac
		n=$((n+1))
	done
	echo "reader $1: $n calls $bad bad" > /tmp/reader$1
}
reader 1 & reader 2 &
i=0; fails=0
while [ $i -lt 200 ]; do
	echo 1 > $K/kp_test_cmdline/enabled || fails=$((fails+1))
	echo 0 > $K/kp_test_cmdline/enabled || fails=$((fails+1))
	i=$((i+1))
done
touch /tmp/stop; wait
cat /tmp/reader1 /tmp/reader2
echo "cycles $i failed writes $fails"
grep -q " 0 bad" /tmp/reader1 && grep -q " 0 bad" /tmp/reader2 || fail "a call returned neither version"
[ "$(dmesg | grep -c 'kp_test_cmdline: enabled in')" -ge 200 ] || fail "fewer than 200 enables"
cmdline_is "$ORIG" "after the loop"
rmmod kp_test_cmdline || fail rmmod
echo OK
""", "kp_test_cmdline", timeout=600)
    assert "OK" in r.output
    calls = [int(m) for m in re.findall(r"reader \d: (\d+) calls", r.output)]
    assert len(calls) == 2 and min(calls) >= 200, r.output


def test_module_target_before_and_after(vm, kmods):
    r = run(vm, kmods, r"""
V=/sys/kernel/debug/kp_test_target/value
P=$K/kp_test_target_patch
# Target loaded before the patch.
insmod /kp/kp_test_target.ko || fail "insmod target"
[ "$(cat $V)" = 1 ] || fail "unpatched value $(cat $V)"
insmod /kp/kp_test_target_patch.ko || fail "insmod patch"
[ "$(cat $V)" = 42 ] || fail "patched value $(cat $V) (relocation to kp_target_secret?)"
echo 0 > $P/enabled || fail disable
[ "$(cat $V)" = 1 ] || fail "disabled value $(cat $V)"
echo 1 > $P/enabled || fail enable
[ "$(cat $V)" = 42 ] || fail "re-enabled value $(cat $V)"
# Target unloaded and loaded again while the patch is in force.
rmmod kp_test_target || fail "rmmod target"
[ "$(cat $P/kp_test_target/kp_target_value,0/old_addr)" = 0x0 ] || fail "old_addr kept after unload"
[ -z "$(cat /sys/kernel/tracing/enabled_functions)" ] || fail "handler left on an unloaded module"
insmod /kp/kp_test_target.ko || fail "reinsmod target"
[ "$(cat $V)" = 42 ] || fail "value after reload $(cat $V)"
echo 0 > $P/enabled && rmmod kp_test_target_patch kp_test_target || fail "unload"
# Patch loaded before the target.
insmod /kp/kp_test_target_patch.ko || fail "insmod patch without target"
[ "$(cat $P/enabled)" = 1 ] || fail "not enabled"
[ "$(cat $P/kp_test_target/kp_target_value,0/old_addr)" = 0x0 ] || fail "old_addr set without target"
cmdline_is "$ORIG" "unrelated function"
insmod /kp/kp_test_target.ko || fail "insmod target after patch"
[ "$(cat $V)" = 42 ] || fail "value of a target loaded after the patch: $(cat $V)"
echo 0 > $P/enabled || fail disable
[ "$(cat $V)" = 1 ] || fail "disabled value $(cat $V)"
rmmod kp_test_target_patch kp_test_target || fail unload
echo OK
""", "kp_test_target", "kp_test_target_patch")
    assert "OK" in r.output
    assert "kp_test_target_patch: applied to kp_test_target" in r.console


def test_module_target_reload_loop(vm, kmods):
    """The target comes and goes 50 times under readers: patched at every load."""
    r = run(vm, kmods, r"""
V=/sys/kernel/debug/kp_test_target/value
insmod /kp/kp_test_target_patch.ko || fail "insmod patch"
reader() {
	n=0; bad=0
	while [ ! -e /tmp/stop ]; do
		if read -r v < $V 2>/dev/null; then
			n=$((n+1)); [ "$v" = 42 ] || { bad=$((bad+1)); echo "BAD: '$v'"; }
		fi
	done
	echo "reader $1: $n calls $bad bad"
}
reader 1 > /tmp/r1 & reader 2 > /tmp/r2 &
i=0
while [ $i -lt 50 ]; do
	insmod /kp/kp_test_target.ko || fail "insmod target $i"
	rmmod kp_test_target || fail "rmmod target $i"
	i=$((i+1))
done
touch /tmp/stop; wait
cat /tmp/r1 /tmp/r2
grep -q " 0 bad" /tmp/r1 && grep -q " 0 bad" /tmp/r2 || fail "unpatched value seen"
[ "$(dmesg | grep -c 'kp_test_target_patch: applied to kp_test_target')" = 50 ] || fail "not applied at every load"
[ -z "$(cat /sys/kernel/tracing/enabled_functions)" ] || fail "handler left on the unloaded target"
echo 0 > $K/kp_test_target_patch/enabled && rmmod kp_test_target_patch || fail unload
echo OK
""", "kp_test_target", "kp_test_target_patch", timeout=400)
    assert "OK" in r.output
    calls = [int(m) for m in re.findall(r"reader \d: (\d+) calls", r.output)]
    assert len(calls) == 2 and min(calls) > 0, r.output


def test_core_parameters_refuse_meaningless_values(vm, kmods):
    """issue 14, item 8: retry_interval_ms=0 (a busy loop of stop_machine passes)
    and transition_timeout=0 (every transition reverses at once) are refused, at
    load and at run time; signal_after=0 (never kick) stays allowed."""
    r = run(vm, kmods, r"""
P=/sys/module/kp_core/parameters
for p in retry_interval_ms transition_timeout; do
	echo 0 > $P/$p 2>/dev/null && fail "$p=0 accepted at run time"
done
[ "$(cat $P/retry_interval_ms)" = 100 ] || fail "retry_interval_ms is $(cat $P/retry_interval_ms)"
[ "$(cat $P/transition_timeout)" = 60 ] || fail "transition_timeout is $(cat $P/transition_timeout)"
echo 0 > $P/signal_after || fail "signal_after=0 (never) refused"
echo 250 > $P/retry_interval_ms || fail "retry_interval_ms=250 refused"
rmmod kp_core || fail "rmmod kp_core"
insmod /kp/kp_core.ko retry_interval_ms=0 2>/dev/null && fail "insmod retry_interval_ms=0 accepted"
insmod /kp/kp_core.ko transition_timeout=0 2>/dev/null && fail "insmod transition_timeout=0 accepted"
insmod /kp/kp_core.ko retry_interval_ms=50 transition_timeout=5 || fail "valid parameters refused"
echo "PARAMS $(cat $P/retry_interval_ms) $(cat $P/transition_timeout)"
insmod /kp/kp_test_cmdline.ko || fail "patch under the new parameters"
cmdline_is kp-patched-v1 "patched"
echo 0 > $K/kp_test_cmdline/enabled && rmmod kp_test_cmdline || fail "unload"
echo OK
""", "kp_test_cmdline")
    assert "OK" in r.output
    assert "PARAMS 50 5" in r.output


def test_concurrent_unload_and_toggle(vm, kmods):
    """issue 14, item 1: kp_unregister_patch() waits for the handlers (kp_synchronize)
    outside kp_mutex, so an rmmod overlaps the waits of another patch's switches.
    For a minute, one loop loads, disables and removes a patch while another
    toggles a second one; every step must work and the kernel must stay sound."""
    r = run(vm, kmods, r"""
V=/sys/kernel/debug/kp_test_target/value
insmod /kp/kp_test_target.ko && insmod /kp/kp_test_target_patch.ko || fail "setup"
end=$(( $(date +%s) + 60 ))
loader() {
	n=0; bad=0
	while [ $(date +%s) -lt $end ]; do
		insmod /kp/kp_test_cmdline.ko || bad=$((bad+1))
		echo 0 > $K/kp_test_cmdline/enabled || bad=$((bad+1))
		rmmod kp_test_cmdline || bad=$((bad+1))
		n=$((n+1))
	done
	echo "loader: $n cycles $bad failed" > /tmp/loader
}
toggler() {
	n=0; bad=0
	while [ $(date +%s) -lt $end ]; do
		echo 0 > $K/kp_test_target_patch/enabled || bad=$((bad+1))
		echo 1 > $K/kp_test_target_patch/enabled || bad=$((bad+1))
		n=$((n+1))
	done
	echo "toggler: $n cycles $bad failed" > /tmp/toggler
}
loader & toggler &
wait
cat /tmp/loader /tmp/toggler
grep -q " 0 failed" /tmp/loader && grep -q " 0 failed" /tmp/toggler || fail "a step failed"
cmdline_is "$ORIG" "after the loops"
[ "$(cat $V)" = 42 ] || fail "target value $(cat $V)"
echo 0 > $K/kp_test_target_patch/enabled && rmmod kp_test_target_patch kp_test_target || fail unload
rmmod kp_core || fail "rmmod kp_core"
echo OK
""", "kp_test_cmdline", "kp_test_target", "kp_test_target_patch", timeout=400)
    assert "OK" in r.output
    cycles = [int(m) for m in re.findall(r"(?:loader|toggler): (\d+) cycles", r.output)]
    assert len(cycles) == 2 and min(cycles) >= 20, r.output


def test_target_whose_load_fails_after_a_patch_found_it(vm, kmods):
    """issue 14, item 3: a patch loads while its target module is in COMING state
    and kp_core's notifier has not seen it yet; a notifier before kp's then fails
    the target's load.  Nothing of the failed module may stay in the patch, and
    its next load is patched as usual."""
    r = run(vm, kmods, r"""
V=/sys/kernel/debug/kp_test_target/value
P=$K/kp_test_target_patch
insmod /kp/kp_test_nbfail.ko || fail "insmod nbfail"
( insmod /kp/kp_test_target.ko 2>/dev/null && echo TARGET-LOADED > /tmp/t || echo TARGET-REFUSED > /tmp/t ) &
sleep 1
grep "^kp_test_target " /proc/modules | grep -q Loading || fail "target not coming: $(cat /proc/modules)"
insmod /kp/kp_test_target_patch.ko || fail "insmod patch"
wait
cat /tmp/t
grep -q TARGET-REFUSED /tmp/t || fail "the target's load did not fail"
grep -q "^kp_test_target " /proc/modules && fail "target loaded"
old=$(cat $P/kp_test_target/kp_target_value,0/old_addr)
[ "$old" = 0x0 ] || fail "old_addr $old kept for a module that never loaded"
echo 0 > /sys/module/kp_test_nbfail/parameters/fail
dmesg -c > /dev/null
insmod /kp/kp_test_target.ko || fail "insmod target again"
dmesg | grep -q "kp_test_target_patch: applied to kp_test_target" || fail "not patched at its next load: $(dmesg)"
[ "$(cat $V)" = 42 ] || fail "value $(cat $V)"
echo 0 > $P/enabled && rmmod kp_test_target_patch kp_test_target kp_test_nbfail || fail unload
echo OK
""", "kp_test_nbfail", "kp_test_target", "kp_test_target_patch", timeout=180)
    assert "OK" in r.output
