"""Debian's own kernel patched live (issues 13, 23): `kp-build --kernel RELEASE` builds patch
modules from Debian's source for Debian's cloud kernel (its config, Module.symvers and -dbg
vmlinux, fetched into an empty kp-build cache), and in QEMU, on Debian's own vmlinuz, each
patch takes effect and goes away again with kpctl. The source is what a user has: the demo
fix is built with no --src (kp-build fetches Debian's source itself), the others from the
linux-source tarball extracted with tar (no marker: kp-build compares its files).

One module per feature the kernel's build makes special: the demo fix, a function with a
paravirt call (PARAVIRT_XXL: real .parainstructions), a user copy (__ex_table), a static key
(__jump_table), a function of a Debian module (fuse, loaded before the patch and again after
it), and two patches stacked on one function. Refusals: a Module.symvers that is not the
kernel's (kp-build), and the module loaded on Debian's kernel of another ABI (kpctl and
kp_core).
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from e2e import CHECK_FN, parse_checks
from other_kernel import assert_refused_on_other_kernel
from paths import HERE, PATCHES, tool

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "vm-images"))
import debian_kernel as dk  # noqa: E402
import kpvm  # noqa: E402

DEMO_FIX = REPO / "docs/examples/fix-uname-machine.patch"
# name -> (patch, guest check that passes only while the patch is in force)
FEATURES = {
    "demo": (DEMO_FIX, None),
    "paravirt": (PATCHES / "paravirt-irqsave.patch", PATCHES / "paravirt-irqsave.test"),
    "extable": (PATCHES / "syscall-sethostname-extable.patch",
                PATCHES / "syscall-sethostname-extable.test"),
    "static-key": (PATCHES / "jump-label-stat.patch", PATCHES / "jump-label-stat.test"),
    "fuse": (PATCHES / "module-fuse-param.patch", PATCHES / "module-fuse-param.test"),
    "stack-a": (PATCHES / "stacking/stack-a.patch", PATCHES / "stacking/stack-a.test"),
    "stack-b": (PATCHES / "stacking/stack-b.patch", PATCHES / "stacking/stack-b.test"),
    # Calls fat's exports: depends=fat, loaded by kpctl as modprobe would (issue 23).
    "vfat": (HERE / "patches-debian/module-vfat-depends.patch", None),
}
DEMO_TEST = "#!/bin/sh\ntest \"$(uname -m)\" = kp-demo-fixed\n"


@pytest.fixture(scope="module")
def kp_build(kp_build_cache):
    """kp-build with this run's kp-build cache (empty at the start of the run)."""
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(tool("kp-build")), "--cache-dir", str(kp_build_cache),
                               *args], capture_output=True, text=True, timeout=1800)
    return run


@pytest.fixture(scope="module")
def built(debian, debian_source, kp_build, tmp_path_factory) -> dict[str, Path]:
    """Each feature's module for Debian's kernel, with kp_core.ko beside them."""
    out = tmp_path_factory.mktemp("debian-modules")
    kos = {}
    for name, (patch, _) in FEATURES.items():
        ko = out / f"kp_{name.replace('-', '_')}.ko"
        src = [] if name == "demo" else ["--src", str(debian_source)]
        r = kp_build(*src, "--kernel", debian.release.release,
                     "--patch", str(patch), "-o", str(ko), "-j2")
        assert r.returncode == 0, f"kp-build --kernel failed for {name}:\n{r.stderr}"
        if name == "demo":   # no --src: Debian's source of the release, fetched by kp-build
            assert re.search(r"kernel \S+: .*source \S+/sources/linux-source-"
                             + re.escape(debian.release.series) + "_"
                             + re.escape(debian.release.version), r.stderr), r.stderr
        # The module's CRCs are the kernel's: kp-build compared them with vmlinux's.
        assert re.search(r"module check: .*vermagic '" + re.escape(debian.release.release) +
                         r" SMP .*modversions.*, \d+ symbol CRC\(s\) equal to the kernel's",
                         r.stderr), r.stderr
        assert re.search(r"run-pre: the [1-9]\d* function\(s\) the patch changes are the "
                         r"kernel's code", r.stderr), r.stderr
        kos[name] = ko
    assert (out / "kp_core.ko").exists(), "kp-build did not put kp_core.ko beside the modules"
    return kos


def guest_files(kos: dict[str, Path], tmp: Path) -> dict[str, Path]:
    demo_test = tmp / "demo.test"
    demo_test.write_text(DEMO_TEST)
    files = {"/kp/bin/kpctl": tool("kpctl"), "/kp/tests/demo.test": demo_test,
             "/kp/kp_core.ko": next(iter(kos.values())).parent / "kp_core.ko"}
    for name, ko in kos.items():
        files[f"/kp/{ko.name}"] = ko
        if FEATURES[name][1]:
            files[f"/kp/tests/{name}.test"] = FEATURES[name][1]
    return files


def test_patches_work_on_debians_own_kernel(debian, built, tmp_path):
    ko = {name: f"/kp/{path.name}" for name, path in built.items()}
    singles = ["demo", "paravirt", "extable", "static-key"]
    s = [CHECK_FN, "set -u", "export PATH=/kp/bin:$PATH",
         "fuse=$(find /lib/modules/$(uname -r) -name fuse.ko)",
         "insmod $fuse"]
    s += [f"kp_check {n} before /kp/tests/{n}.test" for n in singles + ["fuse"]]
    # All at once: vmlinux patches and the module patch (its target is loaded).
    s += [f"kpctl load {ko[n]} --timeout 30 || echo 'LOADFAIL {n}'" for n in singles + ["fuse"]]
    s += [f"kp_check {n} loaded /kp/tests/{n}.test" for n in singles + ["fuse"]]
    s += ["echo TAINT $(cat /proc/sys/kernel/tainted)"]
    # The module patch follows its target out and back in.
    s += ["rmmod fuse", "insmod $fuse", "kp_check fuse reloaded /kp/tests/fuse.test"]
    # Two patches stacked on one function: the newest is in force, the older comes back.
    s += [f"kpctl load {ko['stack-a']} --timeout 30",
          "kp_check stack-a a-loaded /kp/tests/stack-a.test",
          f"kpctl load {ko['stack-b']} --timeout 30",
          "kp_check stack-a both-loaded /kp/tests/stack-a.test",
          "kp_check stack-b both-loaded /kp/tests/stack-b.test",
          f"kpctl unload {ko['stack-b']} --timeout 30",
          "kp_check stack-a b-unloaded /kp/tests/stack-a.test",
          f"kpctl unload {ko['stack-a']} --timeout 30",
          "kp_check stack-a all-unloaded /kp/tests/stack-a.test"]
    s += [f"kpctl unload {ko[n]} --timeout 30 || echo 'UNLOADFAIL {n}'"
          for n in reversed(singles + ["fuse"])]
    s += [f"kp_check {n} unloaded /kp/tests/{n}.test" for n in singles + ["fuse"]]
    # A patch whose code calls another module's exports (depends=fat): kpctl loads fat
    # first; the patch waits for its target, vfat, which is not loaded.
    s += ["grep -q '^fat ' /proc/modules && echo FAT-ALREADY",
          f"kpctl load {ko['vfat']} --timeout 30 || echo 'LOADFAIL vfat'",
          "grep -q '^fat ' /proc/modules && echo FAT-LOADED",
          "modprobe vfat && grep -q '^vfat ' /proc/modules && echo VFAT-LOADED",
          "kpctl status --json",
          f"kpctl unload {ko['vfat']} --timeout 30 || echo 'UNLOADFAIL vfat'"]
    s += ["kpctl list", "rmmod kp_core && echo CORE-REMOVED"]
    r = kpvm.run("\n".join(s) + "\n", guest_files(built, tmp_path), timeout=400,
                 kernel="debian-cloud", modules=["fuse", "vfat"],
                 log_dir=kpvm.BUILD / "test-logs" / "debian_patches")
    assert r.ok, r.describe()
    out = r.output
    assert f"Linux version {debian.release.release}" in r.console
    assert "LOADFAIL" not in out and "UNLOADFAIL" not in out, out
    c = parse_checks(out)
    for n in singles + ["fuse"]:
        assert (c.get((n, "before")), c.get((n, "loaded")), c.get((n, "unloaded"))) == \
            ("fail", "pass", "fail"), f"{n}:\n{out}"
    assert c.get(("fuse", "reloaded")) == "pass", out
    assert c.get(("stack-a", "a-loaded")) == "pass", out
    assert (c.get(("stack-a", "both-loaded")), c.get(("stack-b", "both-loaded"))) == \
        ("fail", "pass"), out
    assert c.get(("stack-a", "b-unloaded")) == "pass", out
    assert c.get(("stack-a", "all-unloaded")) == "fail", out
    assert "CORE-REMOVED" in out, out
    assert "FAT-ALREADY" not in out and "FAT-LOADED" in out and "VFAT-LOADED" in out, out
    assert re.search(r"loaded module fat, which patch kp_vfat needs", out), out
    taint = int(re.search(r"^TAINT (\d+)$", out, re.M).group(1))
    assert taint & (1 << 15), f"TAINT_LIVEPATCH not set while patched: {taint:#x}"


def test_module_for_another_abi_is_refused(debian, built, tmp_path):
    """Debian's kernel of the ABI before, same upstream version: kpctl refuses the module
    (built for another kernel), and so does kp_core when the module is inserted directly
    (other_kernel.py)."""
    other, vmlinuz = dk.other_abi_vmlinuz(debian.release, log=print)
    assert_refused_on_other_kernel(debian.release.release, other.release, vmlinuz,
                                   f"/kp/{built['demo'].name}", guest_files(built, tmp_path),
                                   "debian_other_abi")


def test_symvers_of_another_kernel_is_refused(debian, debian_source, built, kp_build,
                                              tmp_path):
    """A Module.symvers whose CRCs are not the kernel's: the module would be refused by the
    loader ("disagrees about version of symbol"), so kp-build refuses it first, naming the
    symbol, and writes nothing."""
    resolved = kp_build("--src", str(debian_source), "--kernel", debian.release.release,
                        "--resolve-only")
    assert resolved.returncode == 0, resolved.stderr
    symvers = Path(dict(l.split(": ", 1) for l in resolved.stdout.splitlines()
                        if ": " in l)["Module.symvers"])
    bad = tmp_path / "Module.symvers"
    lines = []
    for line in symvers.read_text().splitlines():
        crc, rest = line.split("\t", 1)
        lines.append(f"0x{int(crc, 16) ^ 0x5a5a5a5a:08x}\t{rest}")
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "kp_bad.ko"
    r = kp_build("--src", str(debian_source), "--kernel", debian.release.release,
                 "--symvers", str(bad), "--patch", str(DEMO_FIX), "-o", str(out), "-j2")
    assert r.returncode == 1, r.stderr
    assert re.search(r"symbol \S+ has CRC 0x[0-9a-f]+ in __versions, the kernel's is 0x",
                     r.stderr), r.stderr
    assert not out.exists() and not (tmp_path / "kp_core.ko").exists()


def test_file_the_config_does_not_build_is_refused(debian, debian_source, kp_build, tmp_path):
    """Kbuild compiles any single object asked for, also one the config leaves out (sound/
    on the cloud flavour): none of its functions is the kernel's code, so kp-build refuses,
    naming the file, and writes nothing."""
    config = debian.config.read_text()
    assert "CONFIG_SOUND=" not in config and "CONFIG_SND=" not in config
    patch = tmp_path / "sound.patch"
    patch.write_text("--- a/sound/core/init.c\n+++ b/sound/core/init.c\n@@ -1,2 +1,3 @@\n"
                     " // SPDX-License-Identifier: GPL-2.0-or-later\n"
                     "+/* kp: a file this config does not build */\n /*\n")
    out = tmp_path / "kp_sound.ko"
    r = kp_build("--src", str(debian_source), "--kernel", debian.release.release,
                 "--patch", str(patch), "-o", str(out), "-j2")
    assert r.returncode == 2, r.stderr
    assert re.search(r"refused: the patch changes sound/core/init\.c, which this kernel's config "
                     r"does not build", r.stderr), r.stderr
    assert not out.exists() and not (tmp_path / "kp_core.ko").exists()
