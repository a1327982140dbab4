"""The VM harness itself: boots, runs guest scripts, loads real modules, detects crashes."""
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def test_boot_smoke(vm):
    r = vm.run("""
set -e
uname -r
grep -q ' /sys/kernel/debug ' /proc/mounts
grep -q ' /sys/kernel/tracing ' /proc/mounts
test "$(grep -c processor /proc/cpuinfo)" = 2
grep -q ' cmdline_proc_show$' /proc/kallsyms
echo smoke-ok
""", timeout=60)
    assert r.status == 0
    assert "smoke-ok" in r.output
    assert r.output.splitlines()[0].startswith("6.1.")
    assert not r.failures


def test_guest_exit_status_is_reported(vm):
    r = vm.run("echo before; exit 7", timeout=60, check=False)
    assert r.status == 7
    assert r.output.strip() == "before"
    assert not r.ok


def test_failing_guest_fails_the_test(vm):
    with pytest.raises(pytest.fail.Exception) as e:
        vm.run("echo checking; false", timeout=60)
    assert "guest script exited 1" in str(e.value)
    assert "checking" in str(e.value)


def test_out_of_tree_module_load_and_unload(vm, build_module):
    ko = build_module(HERE / "harness/kp_hello")
    r = vm.run("""
set -e
test ! -e /proc/kp_hello
insmod /kp/kp_hello.ko greeting=kp-harness-greeting
grep -q '^kp_hello ' /proc/modules
cat /proc/kp_hello
rmmod kp_hello
test ! -e /proc/kp_hello
! grep -q '^kp_hello ' /proc/modules
echo unloaded
""", files={"/kp/kp_hello.ko": ko}, timeout=60)
    assert r.output.split() == ["kp-harness-greeting", "unloaded"]


def test_oops_is_detected(vm, build_module):
    ko = build_module(HERE / "harness/kp_oops")
    r = vm.run("insmod /kp/kp_oops.ko; echo insmod-returned-$?",
               files={"/kp/kp_oops.ko": ko}, timeout=60, check=False)
    # The guest script itself carries on (insmod is killed), but the harness must fail it.
    assert "insmod-returned-" in r.output
    assert any("Oops" in f or "BUG:" in f for f in r.failures), r.console[-2000:]
    assert not r.ok
    with pytest.raises(pytest.fail.Exception) as e:
        vm.run("insmod /kp/kp_oops.ko", files={"/kp/kp_oops.ko": ko}, timeout=60)
    assert "kernel failure markers" in str(e.value)


def qemu_alive(pid: int) -> bool:
    try:
        return "qemu-system" in Path(f"/proc/{pid}/cmdline").read_text()
    except FileNotFoundError:
        return False


def test_timeout_kills_qemu(vm):
    r = vm.run("sleep 600", timeout=8, check=False)
    assert r.timed_out and r.status is None
    assert 7 < r.seconds < 30
    assert not qemu_alive(r.qemu_pid), "the QEMU process was left behind"


def test_normal_run_leaves_no_qemu(vm):
    r = vm.run("true", timeout=60)
    assert not qemu_alive(r.qemu_pid)
