"""sympos: userspace and the core count one local name the same way.

kp_test_dup.ko has a static kp_dup() in each of its two files, arranged so that
symbol-table order (file a first) and address order (file b first) differ.  diffgen
builds a patch of file b's kp_dup() against the module, the kmod/patch template links
it (as kp-build's link stage does), `kpctl info` reads the record back (the contract:
diffgen's real output through the link and kpctl), and in QEMU the patch must change
file b's kp_dup() and leave file a's alone.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from paths import HERE, KDIR, KMOD, tool

SRC = HERE / "modules/sympos"
KCFLAGS = "KCFLAGS=-ffunction-sections -fdata-sections"  # as kp-build's builds


def symbols(ko: Path, name: str) -> list[tuple[int, str]]:
    """(symbol-table index, section) of each symbol @name."""
    out = subprocess.run(["readelf", "-sW", str(ko)], check=True, capture_output=True, text=True).stdout
    sections = subprocess.run(["readelf", "-SW", str(ko)], check=True, capture_output=True,
                              text=True).stdout
    names = {}
    for line in sections.splitlines():
        if line.strip().startswith("[") and "]" in line:
            idx, rest = line.strip()[1:].split("]", 1)
            if idx.strip().isdigit() and rest.split():
                names[idx.strip()] = rest.split()[0]
    found = []
    for line in out.splitlines():
        f = line.split()
        if len(f) == 8 and f[7] == name:
            found.append((int(f[0].rstrip(":")), names.get(f[6], f[6])))
    return found


def build_patch(build_module, kmods, tmp_path) -> tuple[Path, Path]:
    running = build_module(SRC)
    # Symbol-table order: file a's first; address order: .text (file b's) first.
    assert [s for _, s in symbols(running, "kp_dup")] == [".text.kp_late", ".text"]
    orig = build_module(SRC, [KCFLAGS]).parent
    patched = build_module(SRC, [KCFLAGS + " -DKP_PATCHED"]).parent
    out = tmp_path / "kp_test_dup_b.o"
    r = subprocess.run([str(tool("diffgen")), str(orig / "kp_test_dup_b.o"), str(patched / "kp_test_dup_b.o"),
                        "-o", str(out), "--target", "kp_test_dup", "--symbols", str(running)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    mod = tmp_path / "patch"
    r = subprocess.run(["make", "-C", str(KMOD / "patch"), "NAME=kp_test_dup_patch", f"OUT={mod}",
                        f"OBJS={out}", f"KDIR={KDIR}",
                        f"CORE_SYMVERS={kmods['kp_core'].parent / 'Module.symvers'}"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return running, mod / "kp_test_dup_patch.ko"


def test_duplicated_local_in_a_module_is_patched_by_address_order(vm, kmods, build_module, tmp_path):
    running, patch = build_patch(build_module, kmods, tmp_path)
    info = json.loads(subprocess.run([str(tool("kpctl")), "info", "--json", str(patch)], check=True,
                                     capture_output=True, text=True).stdout)
    funcs = [(f["object"], f["function"], f["sympos"]) for f in info["functions"]]
    assert funcs == [("kp_test_dup", "kp_dup", 1)], info
    r = vm.run(f"""
set -u
grep -q ' /sys/kernel/debug ' /proc/mounts || mount -t debugfs none /sys/kernel/debug
insmod /kp/kp_core.ko
insmod /kp/kp_test_dup.ko
echo "before $(cat /sys/kernel/debug/kp_test_dup)"
kpctl load /kp/kp_test_dup_patch.ko --timeout 30 || echo LOADFAIL
echo "loaded $(cat /sys/kernel/debug/kp_test_dup)"
kpctl unload /kp/kp_test_dup_patch.ko --timeout 30 || echo UNLOADFAIL
echo "unloaded $(cat /sys/kernel/debug/kp_test_dup)"
""", {"/kp/kp_core.ko": kmods["kp_core"], "/kp/kp_test_dup.ko": running,
      "/kp/kp_test_dup_patch.ko": patch, "/kp/bin/kpctl": tool("kpctl")}, timeout=300)
    out = r.output
    assert "before a=1 b=2" in out, out
    assert "loaded a=1 b=20" in out, "file b's kp_dup() must be replaced, file a's kept:\n" + out
    assert "unloaded a=1 b=2" in out, out
    assert "LOADFAIL" not in out and "UNLOADFAIL" not in out, out
