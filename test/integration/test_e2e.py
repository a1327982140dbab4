"""End to end: real patches against the test kernel built with kp-build, loaded with
kpctl into the test kernel in QEMU, each proven to take effect and to go away again.

Catalogue: patches/NAME.patch + NAME.test (guest check: passes only while patched),
patches/NAME-FAIL.patch + NAME-FAIL.expect (kp-build must refuse: exit code + message),
patches/stacking/ (two patches on one function).
"""
from __future__ import annotations

import re

import pytest

from e2e import CHECK_FN, PATCHES, Patch, failing_patches, good_patches, parse_checks
from paths import KDIR, kp_build_test_kernel

FUSE_KO = KDIR / "fs/fuse/fuse.ko"
MODULE_PATCHES = {"module-fuse-param": "fuse"}  # patch -> module it targets


@pytest.fixture(scope="session")
def e2e_dir(tmp_path_factory):
    """Where this worker's kp-build writes its modules."""
    return tmp_path_factory.mktemp("e2e")


def build_one(e2e_dir, patches: list, name: str):
    out = e2e_dir / f"{name}.ko"
    out.unlink(missing_ok=True)
    r = kp_build_test_kernel(patches, out, "-n", name)
    return r, out


@pytest.fixture(scope="session")
def modules(e2e_dir) -> dict[str, object]:
    """kp-build every good patch once (one cached original build serves all)."""
    built = {}
    for p in good_patches():
        r, out = build_one(e2e_dir, [p.patch], p.module_name)
        built[p.name] = (r, out)
    return built


@pytest.fixture(scope="session")
def guest_files(guest_tools, kpctl_bin) -> dict[str, object]:
    files = dict(guest_tools)
    files["/kp/bin/kpctl"] = kpctl_bin
    files["/kp/fuse.ko"] = FUSE_KO
    for p in PATCHES.glob("**/*.test"):
        files[f"/kp/tests/{p.name}"] = p
    return files


def core_module(ko) -> object:
    core = ko.parent / "kp_core.ko"
    assert core.exists(), f"kp-build did not put kp_core.ko beside {ko}"
    return core


@pytest.mark.parametrize("patch", failing_patches(), ids=lambda p: p.name)
def test_refused_patch(e2e_dir, patch: Patch):
    r, out = build_one(e2e_dir, [patch.patch], patch.module_name)
    assert r.returncode == patch.expect["exit"], r.stdout + r.stderr
    assert re.search(patch.expect["message"], r.stdout + r.stderr, re.I), r.stdout + r.stderr
    assert not out.exists(), "a refused build must not write a module"


@pytest.mark.parametrize("patch", good_patches(), ids=lambda p: p.name)
def test_patch_builds(modules, patch: Patch):
    r, out = modules[patch.name]
    assert r.returncode == 0, f"kp-build failed for {patch.name}:\n{r.stdout}\n{r.stderr}"
    assert out.exists()


def lifecycle_script(patches: list[Patch], ko_of) -> str:
    """Guest script: for each patch, check before (must fail), load, check (must pass),
    unload, check (must fail).  Module patches have their target loaded first."""
    s = ["set -u", CHECK_FN, "insmod /kp/fuse.ko"]
    for p in patches:
        ko = f"/kp/{ko_of(p).name}"
        t = f"/kp/tests/{p.test.name}"
        if p.name == "static-local-syslog":
            s.append("kp-syslog off >/dev/null")        # saves the console level in a static local
        s.append(f"kp_check {p.name} before {t}")
        s.append(f"kpctl load {ko} --timeout 30 || echo 'LOADFAIL {p.name}'")
        s.append(f"kp_check {p.name} loaded {t}")
        if p.name == "static-local-syslog":
            # The patched do_syslog must restore the level the original saved.
            s.append("kp-syslog on >/dev/null")
            s.append("lvl=$(cut -f1 /proc/sys/kernel/printk)")
            s.append(f"[ \"$lvl\" -gt 1 ] && echo 'CHECK {p.name} static-local pass' "
                     f"|| echo 'CHECK {p.name} static-local fail'")
        s.append(f"kpctl unload {ko} --timeout 30 || echo 'UNLOADFAIL {p.name}'")
        s.append(f"kp_check {p.name} unloaded {t}")
    s.append("kpctl list")
    return "\n".join(s) + "\n"


def assert_lifecycle(output: str, patches: list[Patch]):
    checks = parse_checks(output)
    problems = []
    for p in patches:
        want = {"before": "fail", "loaded": "pass", "unloaded": "fail"}
        if p.name == "static-local-syslog":
            want["static-local"] = "pass"
        for stage, expected in want.items():
            got = checks.get((p.name, stage))
            if got != expected:
                problems.append(f"{p.name} {stage}: expected {expected}, got {got}")
    assert not problems, "\n".join(problems) + "\n--- guest output ---\n" + output


def test_every_patch_takes_effect_and_goes_away(vm, modules, guest_files):
    patches = [p for p in good_patches() if modules[p.name][0].returncode == 0]
    assert patches
    files = dict(guest_files)
    for p in patches:
        ko = modules[p.name][1]
        files[f"/kp/{ko.name}"] = ko
        files["/kp/kp_core.ko"] = core_module(ko)
    r = vm.run(lifecycle_script(patches, lambda p: modules[p.name][1]), files, timeout=900)
    assert_lifecycle(r.output, patches)
    missing = {p.name for p in good_patches()} - {p.name for p in patches}
    assert not missing, f"patches that did not build: {sorted(missing)}"


def test_module_patch_applies_when_target_loads_later(vm, modules, guest_files):
    r0, ko = modules["module-fuse-param"]
    assert r0.returncode == 0, r0.stderr
    files = dict(guest_files, **{f"/kp/{ko.name}": ko, "/kp/kp_core.ko": core_module(ko)})
    r = vm.run(CHECK_FN + f"""
set -u
! grep -q '^fuse ' /proc/modules
kpctl load /kp/{ko.name} --timeout 30
insmod /kp/fuse.ko
kp_check fuse after-target-load /kp/tests/module-fuse-param.test
rmmod fuse
insmod /kp/fuse.ko
kp_check fuse target-reloaded /kp/tests/module-fuse-param.test
kpctl unload /kp/{ko.name} --timeout 30
kp_check fuse unloaded /kp/tests/module-fuse-param.test
rmmod fuse
""", files, timeout=300)
    checks = parse_checks(r.output)
    assert checks[("fuse", "after-target-load")] == "pass", r.output
    assert checks[("fuse", "target-reloaded")] == "pass", r.output
    assert checks[("fuse", "unloaded")] == "fail", r.output


def test_combined_module(vm, e2e_dir, guest_files):
    patches = good_patches()
    r, ko = build_one(e2e_dir, [p.patch for p in patches], "kp_combined")
    assert r.returncode == 0, r.stdout + r.stderr
    files = dict(guest_files, **{f"/kp/{ko.name}": ko, "/kp/kp_core.ko": core_module(ko)})
    s = ["set -u", CHECK_FN, "insmod /kp/fuse.ko"]
    s += [f"kp_check {p.name} before /kp/tests/{p.test.name}" for p in patches]
    s.append(f"kpctl load /kp/{ko.name} --timeout 60")
    s += [f"kp_check {p.name} loaded /kp/tests/{p.test.name}" for p in patches]
    s.append(f"kpctl unload /kp/{ko.name} --timeout 60")
    s += [f"kp_check {p.name} unloaded /kp/tests/{p.test.name}" for p in patches]
    out = vm.run("\n".join(s) + "\n", files, timeout=600).output
    checks = parse_checks(out)
    for p in patches:
        assert checks.get((p.name, "before")) == "fail", out
        assert checks.get((p.name, "loaded")) == "pass", out
        assert checks.get((p.name, "unloaded")) == "fail", out


def test_two_patches_on_one_function_stack(vm, e2e_dir, guest_files):
    stack = {p.name: p for p in good_patches(PATCHES / "stacking")}
    kos = {}
    for name, p in stack.items():
        r, ko = build_one(e2e_dir, [p.patch], p.module_name)
        assert r.returncode == 0, r.stdout + r.stderr
        kos[name] = ko
    files = dict(guest_files, **{f"/kp/{ko.name}": ko for ko in kos.values()})
    files["/kp/kp_core.ko"] = core_module(kos["stack-a"])
    a, b = (f"/kp/{kos[n].name}" for n in ("stack-a", "stack-b"))
    out = vm.run(CHECK_FN + f"""
set -eu
kpctl load {a} --timeout 30
kp_check a a-loaded /kp/tests/stack-a.test
kpctl load {b} --timeout 30
kp_check a both-loaded /kp/tests/stack-a.test
kp_check b both-loaded /kp/tests/stack-b.test
kpctl unload {b} --timeout 30
kp_check a b-unloaded /kp/tests/stack-a.test
kp_check b b-unloaded /kp/tests/stack-b.test
kpctl unload {a} --timeout 30
kp_check a all-unloaded /kp/tests/stack-a.test
""", files, timeout=300).output
    c = parse_checks(out)
    assert c[("a", "a-loaded")] == "pass", out
    assert (c[("a", "both-loaded")], c[("b", "both-loaded")]) == ("fail", "pass"), out
    assert (c[("a", "b-unloaded")], c[("b", "b-unloaded")]) == ("pass", "fail"), out
    assert c[("a", "all-unloaded")] == "fail", out


def test_task_asleep_in_patched_function_holds_the_switch(vm, modules, guest_files):
    """A reader blocked in pipe_read() holds the switch of the pipe-read patch: with a
    short --timeout and --on-timeout reverse the transition reverses and kpctl names
    the reader; with a long
    one, other tasks run the new pipe_read at once and the reader switches by itself
    on its way back to user space, which completes the load; a reader that stays
    asleep is kicked out of its sleep (fake signal) and switches."""
    r0, ko = modules["pipe-read"]
    assert r0.returncode == 0, r0.stderr
    files = dict(guest_files, **{f"/kp/{ko.name}": ko, "/kp/kp_core.ko": core_module(ko)})
    out = vm.run(CHECK_FN + f"""
set -u
mkfifo /tmp/fifo
sleep 1000 > /tmp/fifo &
holder=$!
cat /tmp/fifo > /tmp/reader.out &
reader=$!
sleep 1
echo "reader-pid=$reader"
grep -q pipe_read /proc/$reader/stack 2>/dev/null && echo reader-in-pipe_read
if kpctl load /kp/{ko.name} --timeout 3 --on-timeout reverse > /tmp/load1.out 2>&1; then echo LOAD1 ok; else echo LOAD1 refused; fi
cat /tmp/load1.out
echo "LOAD1 end"
kp_check pipe while-blocked /kp/tests/pipe-read.test
kpctl load /kp/{ko.name} --timeout 60 > /tmp/load2.out 2>&1 &
load2=$!
sleep 2
kp_check pipe during-transition /kp/tests/pipe-read.test
kill $holder; wait $reader
wait $load2 && echo LOAD2 ok
cat /tmp/load2.out
kp_check pipe after-release /kp/tests/pipe-read.test
kpctl unload /kp/{ko.name} --timeout 30
# A reader that never gets data: the core kicks it out of its sleep (a fake
# signal after signal_after seconds); its read restarts on the new pipe_read.
echo 2 > /sys/module/kp_core/parameters/signal_after
sleep 1000 > /tmp/fifo &
holder=$!
cat /tmp/fifo > /tmp/reader2.out &
reader=$!
sleep 1
kpctl load /kp/{ko.name} --timeout 60 > /tmp/load3.out 2>&1 && echo LOAD3 ok
cat /tmp/load3.out
dmesg | grep -q "kicked 1 pending task(s) out of their sleeps" && echo KICKED
kill -0 $reader && echo reader-alive
echo still-reading > /tmp/fifo
kill $holder; wait $reader
echo "reader2=$(cat /tmp/reader2.out)"
kpctl unload /kp/{ko.name} --timeout 30
""", files, timeout=300).output
    assert "LOAD1 refused" in out, out
    # kpctl's refusal itself (its output only) names the reader, by pid, in pipe_read.
    reader = re.search(r"^reader-pid=(\d+)$", out, re.M).group(1)
    load1 = out.split("LOAD1 refused\n", 1)[1].split("LOAD1 end\n", 1)[0]
    assert re.search(rf"tasks that kept patch {ko.stem} from switching:\n  {reader} cat "
                     r"pipe_read\+0x", load1), "kpctl must name the blocking task:\n" + load1
    checks = parse_checks(out)
    assert checks[("pipe", "while-blocked")] == "fail", out
    # New tasks run the target version while the reader still holds the old one.
    assert checks[("pipe", "during-transition")] == "pass", out
    assert re.search(r"transition enabling: 1 task\(s\) not switched yet \(\d+ cat pipe_read", out), out
    assert "LOAD2 ok" in out and checks[("pipe", "after-release")] == "pass", out
    # Without the reader's help: kicked after 2 s, switched, and its read goes on.
    assert "LOAD3 ok" in out and "KICKED" in out and "reader-alive" in out, out
    assert "reader2=still-reading" in out, out


# Enough cycles that leftovers of one (module, ftrace handler, sysfs directory, kp_core's
# state) fail a later load, each under calls on both vCPUs.
STRESS_CYCLES = 25


def test_stress_load_unload_under_calls(vm, modules, guest_files):
    """Load/unload cycles while two readers (one per vCPU) call the patched function
    (cmdline_proc_show) in loops that do not fork: every load takes effect, every unload
    goes away, the kernel warns of nothing, and each reader saw both versions (its calls
    did run through the transitions)."""
    r0, ko = modules["proc-cmdline-string"]
    assert r0.returncode == 0, r0.stderr
    files = dict(guest_files, **{f"/kp/{ko.name}": ko, "/kp/kp_core.ko": core_module(ko)})
    out = vm.run(f"""
set -u
reader() {{  # reader N: read /proc/cmdline until /tmp/stop exists, count each version
	new=0; old=0
	while [ ! -e /tmp/stop ]; do
		read -r line < /proc/cmdline
		case "$line" in *kp_e2e_cmdline) new=$((new + 1));; *) old=$((old + 1));; esac
	done
	echo "READER $1 new=$new old=$old"
}}
for n in 0 1; do reader $n & done
i=0
while [ $i -lt {STRESS_CYCLES} ]; do
	kpctl load /kp/{ko.name} --timeout 30 > /dev/null || {{ echo "load $i failed"; break; }}
	grep -q kp_e2e_cmdline /proc/cmdline || {{ echo "not patched at $i"; break; }}
	kpctl unload /kp/{ko.name} --timeout 30 > /dev/null || {{ echo "unload $i failed"; break; }}
	grep -q kp_e2e_cmdline /proc/cmdline && {{ echo "still patched at $i"; break; }}
	i=$((i + 1))
done
echo "cycles=$i"
touch /tmp/stop
wait
dmesg | grep -E 'Call Trace|WARNING|Oops' && exit 1
exit 0
""", files, timeout=600).output
    assert f"cycles={STRESS_CYCLES}" in out, out
    readers = re.findall(r"^READER (\d) new=(\d+) old=(\d+)$", out, re.M)
    assert len(readers) == 2 and all(int(new) and int(old) for _, new, old in readers), out
