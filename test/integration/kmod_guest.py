"""Helpers for QEMU tests of kp_core.ko and hand-written patch modules.

Modules: `make -C kmod` builds kp_core.ko, the test targets
(test/integration/modules/targets) and hand-written patch modules built with the
kmod/patch template (test/integration/modules/patches -> build/kmod/<name>/<name>.ko).
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from paths import KMOD, KMOD_OUT, TARGETS

# Helpers every guest script starts with.
PRELUDE = r"""
fail() { echo "FAIL: $*"; dmesg | tail -40; exit 1; }
K=/sys/kernel/kp
ORIG=$(cat /proc/cmdline)
cmdline_is() { [ "$(cat /proc/cmdline)" = "$1" ] || fail "$2: /proc/cmdline is '$(cat /proc/cmdline)', want '$1'"; }
# A refused patch leaves no module, no sysfs directory and no ftrace handler.
nothing_patched() {
	grep -q "^$1 " /proc/modules && fail "$1 still loaded"
	[ -e $K/$1 ] && fail "$K/$1 exists"
	[ -z "$(cat /sys/kernel/tracing/enabled_functions)" ] || fail "ftrace handlers left: $(cat /sys/kernel/tracing/enabled_functions)"
	cmdline_is "$ORIG" "after refusing $1"
}
wait_for() {  # wait_for FILE VALUE SECONDS: until FILE reads VALUE (bounded)
	i=0
	while [ "$(cat $1 2>/dev/null)" != "$2" ]; do
		i=$((i+1)); [ $i -gt $(($3 * 10)) ] && fail "$1 is '$(cat $1 2>/dev/null)' after $3 s, want '$2'"
		sleep 0.1
	done
}
insmod /kp/kp_core.ko || fail "insmod kp_core"
"""


def build_kmods(kernel_tree: Path) -> None:
    """make -C kmod: every kp kernel module (conftest's `kmods` runs it once per test run)."""
    proc = subprocess.run(["make", "-C", str(KMOD), f"KDIR={kernel_tree}", "-j2"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"make -C kmod failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}",
                    pytrace=False)


def built_kmods() -> dict[str, Path]:
    """Module name -> .ko path of what `make -C kmod` built."""
    mods = {"kp_core": KMOD / "core/kp_core.ko"}
    for ko in TARGETS.glob("*.ko"):
        mods[ko.stem] = ko
    for ko in KMOD_OUT.glob("*/*.ko"):  # <name>/<name>.ko; core-fi/kp_core.ko (test build)
        mods[ko.parent.name] = ko
    return mods


def files(kmods: dict[str, Path], *names: str) -> dict[str, Path]:
    return {f"/kp/{n}.ko": kmods[n] for n in ("kp_core",) + names}


def run(vm, kmods, script: str, *names: str, timeout: float = 180):
    return vm.run(PRELUDE + script, files(kmods, *names), timeout=timeout)
