"""Debian's own 6.12 cloud kernel patched live (issue 24): `kp-build --kernel RELEASE` with no
--src builds the patch module from Debian's linux-source-6.12 of the release's version (its
config, Module.symvers and -dbg vmlinux fetched into an empty kp-build cache), and in QEMU
(TCG), on Debian's own 6.12 vmlinuz, the patches take effect and go away again with kpctl:
the demo fix with a static-key, a paravirt-call and a user-copy fix (vmlinux, one module),
and a fix to binfmt_misc (a .ko.xz module target); an IBT fix with a new indirect call
works, and one that takes the address of a sealed function is refused at build; two
patches stacked on top of the demo's; the module refused on the 6.12 kernel of the sublevel
before; a source edited before the build refused by run-pre.

The release is the newest 6.12 cloud image in the archive whose version is also a
linux-source-6.12 version (vm-images/debian_kernel.py): no version, ABI or sublevel is
written here. 6.12's cloud kernel has IBT, call padding (PREFIX_SYMBOLS), call-depth
tracking and return thunks on, and ships its modules xz-compressed: the module must carry
objtool's module sections (return/call sites, ORC, ENDBR seal list), keep the 16-byte
padding before each replacement function, and the kernel must log none of the complaints
those features make when a module lacks them.
"""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from e2e import CHECK_FN, parse_checks
from other_kernel import assert_refused_on_other_kernel
from paths import HERE, PATCHES, file_lock, run_dir, tool

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "vm-images"))
import debian_kernel as dk  # noqa: E402
import kpvm  # noqa: E402

SERIES = "6.12"
DEMO_FIX = REPO / "docs/examples/fix-uname-machine.patch"
DEMO_TEST = "#!/bin/sh\ntest \"$(uname -m)\" = kp-demo-fixed\n"
# Built into the demo's module, each with a check that passes only while it is in force:
# a static key (its jmp is a NOP in 6.12's vmlinux, objtool's jump-label hack, which
# run-pre must accept), a paravirt call (an alternative call since 6.8, annotated for
# objtool) and a user copy (__ex_table).
VMLINUX_FIXES = {"static-key": "jump-label-stat", "paravirt": "paravirt-irqsave",
                 "extable": "syscall-sethostname-extable"}
# IBT: a new indirect call to a function whose address vmlinux takes (so objtool left its
# ENDBR alone) works; taking the address of one vmlinux never takes (sealed) is refused.
IBT_FIXES = {"ibt-indirect": HERE / "patches-612/ibt-indirect-call"}
SEALED_FIX = HERE / "patches-612/ibt-sealed-address.patch"
# A module target: 6.12's cloud flavour builds fuse in, so binfmt_misc (a .ko.xz).
MODULE_FIX = HERE / "patches-612/module-binfmt-misc-status.patch"
MODULE_TEST = HERE / "patches-612/module-binfmt-misc-status.test"
# Stacked on version_proc_show, which the demo's module already replaces (the IBT fix): three
# patches on one function, the newest in force, each older one back as the newer goes.
STACK = {n: PATCHES / f"stacking/{n}" for n in ("stack-a", "stack-b")}
# What 6.12's IBT, call-thunk, return-thunk and padding code says when a module lacks what
# objtool gives it, or when a replacement lost its ENDBR or padding.
COMPLAINTS = ["Unpatched return thunk", "Invalid padding area", "Missing ENDBR",
              "control protection", "#CP", "WARNING:", "Oops", "BUG:"]


@pytest.fixture(scope="module")
def debian612(tmp_path_factory) -> dk.VmKernel:
    """Debian's 6.12 cloud image of the derived release, unpacked in the VM side's cache."""
    try:
        with file_lock(run_dir(tmp_path_factory) / "debian.lock"):
            return dk.vm_kernel("cloud-amd64", log=print, series=SERIES)
    except dk.DebianKernelError as e:
        pytest.fail(f"Debian's {SERIES} cloud kernel is not available: {e}", pytrace=False)


@pytest.fixture(scope="module")
def built612(debian612, kp_build_cache, tmp_path_factory) -> dict[str, Path]:
    """The demo fix and VMLINUX_FIXES (vmlinux, one module), the binfmt_misc fix (a .ko.xz
    module) and the two STACK patches for Debian's 6.12 kernel, built with no --src in this run's (initially empty)
    kp-build cache; kept with --keep-tmp so that the link's log can be read."""
    out = tmp_path_factory.mktemp("debian612-modules")
    rel = debian612.release
    kos = {}
    vmlinux_fixes = [DEMO_FIX] + [PATCHES / f"{p}.patch" for p in VMLINUX_FIXES.values()] + \
        [Path(f"{p}.patch") for p in IBT_FIXES.values()]
    builds = [("demo", vmlinux_fixes), ("binfmt", [MODULE_FIX])] + \
        [(n, [Path(f"{p}.patch")]) for n, p in STACK.items()]
    for name, patches in builds:
        ko = out / f"kp_{name}612.ko"
        start = time.monotonic()
        r = subprocess.run([str(tool("kp-build")), "--cache-dir", str(kp_build_cache),
                            "--kernel", rel.release,
                            *[a for p in patches for a in ("--patch", str(p))], "-o", str(ko),
                            "-j2", "--keep-tmp"], capture_output=True, text=True,
                           timeout=1800)
        print(f"kp-build --kernel {rel.release} ({name}): {time.monotonic() - start:.1f} s")
        assert r.returncode == 0, f"kp-build --kernel {rel.release} failed ({name}):\n{r.stderr}"
        assert re.search(r"kernel \S+: .*source \S+/sources/linux-source-" + re.escape(SERIES)
                         + "_" + re.escape(rel.version), r.stderr), r.stderr
        assert re.search(r"module check: .*vermagic '" + re.escape(rel.release) +
                         r" SMP .*modversions.*, \d+ symbol CRC\(s\) equal to the kernel's",
                         r.stderr), r.stderr
        assert re.search(r"run-pre: the [1-9]\d* function\(s\) the patch changes are the "
                         r"kernel's code", r.stderr), r.stderr
        # Kbuild's objtool ran on the linked module and found nothing to say: no section
        # it makes was already there, no relocation to a place without ENDBR.
        log = Path(re.search(r"work dir (\S+)", r.stderr).group(1)) / "kp-build.log"
        warnings = [line for line in log.read_text().splitlines() if "objtool:" in line]
        assert not warnings, "\n".join(warnings)
        kos[name] = ko
    assert (out / "kp_core.ko").exists(), "kp-build did not put kp_core.ko beside the modules"
    return kos


def sections_and_symbols(ko: Path) -> tuple[set[str], set[str]]:
    secs = subprocess.run(["readelf", "-SW", str(ko)], capture_output=True, text=True,
                          check=True).stdout
    syms = subprocess.run(["readelf", "-sW", str(ko)], capture_output=True, text=True,
                          check=True).stdout
    return ({m.group(1) for m in re.finditer(r"\]\s+(\S+)\s+", secs)},
            {line.split()[-1] for line in syms.splitlines() if len(line.split()) >= 8})


def test_module_carries_what_objtool_gives_a_612_module(built612):
    """The loader applies return thunks, call thunks and ORC from these sections; each
    replacement function keeps its __pfx_ padding and starts with ENDBR."""
    for name, func in (("demo", "__x64_sys_newuname"), ("demo", "show_stat"),
                       ("demo", "show_console_dev"), ("binfmt", "bm_status_read")):
        ko = built612[name]
        secs, syms = sections_and_symbols(ko)
        for s in (".return_sites", ".call_sites", ".orc_unwind", ".orc_unwind_ip"):
            assert s in secs, f"{ko} has no {s}: {sorted(secs)}"
        assert f"__pfx_{func}" in syms, f"{ko}: no __pfx_{func}: {sorted(syms)}"
        dis = subprocess.run(["objdump", "-d", f"--disassemble={func}", str(ko)],
                             capture_output=True, text=True, check=True).stdout
        first = re.search(rf"<{re.escape(func)}>:\n\s*\S+:\s+((?:[0-9a-f]{{2}} )+)", dis)
        assert first and first.group(1).startswith("f3 0f 1e fa"), f"{func}: no ENDBR:\n{dis}"


def test_patches_work_on_debians_own_612_kernel(debian612, built612, tmp_path):
    demo_test = tmp_path / "demo.test"
    demo_test.write_text(DEMO_TEST)
    files = {"/kp/bin/kpctl": tool("kpctl"), "/kp/kp_core.ko": built612["demo"].parent /
             "kp_core.ko", "/kp/tests/demo.test": demo_test, "/kp/tests/binfmt.test": MODULE_TEST}
    for check, patch in VMLINUX_FIXES.items():
        files[f"/kp/tests/{check}.test"] = PATCHES / f"{patch}.test"
    for check, patch in IBT_FIXES.items():
        files[f"/kp/tests/{check}.test"] = Path(f"{patch}.test")
    for name, ko in built612.items():
        files[f"/kp/{ko.name}"] = ko
    ko = {name: f"/kp/{path.name}" for name, path in built612.items()}
    for n, p in STACK.items():
        files[f"/kp/tests/{n}.test"] = Path(f"{p}.test")
    names = ["demo", "binfmt"]   # loaded for the whole run; STACK in the middle
    checks = names + list(VMLINUX_FIXES) + list(IBT_FIXES)   # those: in the demo's module
    s = [CHECK_FN, "set -u", "export PATH=/kp/bin:$PATH",
         "modprobe binfmt_misc || echo NOMODULE"]
    s += [f"kp_check {n} before /kp/tests/{n}.test" for n in checks]
    s += [f"kpctl load {ko[n]} --timeout 60 || echo 'LOADFAIL {n}'" for n in names]
    s += [f"kp_check {n} loaded /kp/tests/{n}.test" for n in checks]
    # Keep the patched function hot on both CPUs while it is patched and unpatched.
    s += ["for i in 1 2; do (while :; do uname -m >/dev/null; "
          "cat /proc/sys/fs/binfmt_misc/status >/dev/null; done) & done",
          "sleep 2", "kp_check demo hot /kp/tests/demo.test"]
    # Stacked on the demo's version_proc_show (the IBT fix), still hot.
    s += [f"kpctl load {ko['stack-a']} --timeout 60 || echo 'LOADFAIL stack-a'",
          "kp_check stack-a a-loaded /kp/tests/stack-a.test",
          "kp_check ibt-indirect a-loaded /kp/tests/ibt-indirect.test",
          f"kpctl load {ko['stack-b']} --timeout 60 || echo 'LOADFAIL stack-b'",
          "kp_check stack-a both-loaded /kp/tests/stack-a.test",
          "kp_check stack-b both-loaded /kp/tests/stack-b.test",
          f"kpctl unload {ko['stack-b']} --timeout 60 || echo 'UNLOADFAIL stack-b'",
          "kp_check stack-a b-unloaded /kp/tests/stack-a.test",
          f"kpctl unload {ko['stack-a']} --timeout 60 || echo 'UNLOADFAIL stack-a'",
          "kp_check stack-a all-unloaded /kp/tests/stack-a.test",
          "kp_check ibt-indirect stack-unloaded /kp/tests/ibt-indirect.test"]
    s += [f"kpctl unload {ko[n]} --timeout 60 || echo 'UNLOADFAIL {n}'" for n in names]
    s += [f"kp_check {n} unloaded /kp/tests/{n}.test" for n in checks]
    s += ["kill $(jobs -p) 2>/dev/null; wait 2>/dev/null",
          "rmmod kp_core && echo CORE-REMOVED"]
    start = time.monotonic()
    r = kpvm.run("\n".join(s) + "\n", files, timeout=420, kernel=debian612, modules=["binfmt_misc"],
                 log_dir=kpvm.BUILD / "test-logs" / "debian612_patches")
    print(f"QEMU run: {time.monotonic() - start:.1f} s")
    assert r.ok, r.describe()
    out = r.output
    assert f"Linux version {debian612.release.release}" in r.console
    assert "NOMODULE" not in out and "LOADFAIL" not in out and "UNLOADFAIL" not in out, out
    c = parse_checks(out)
    for n in checks:
        assert (c.get((n, "before")), c.get((n, "loaded")), c.get((n, "unloaded"))) == \
            ("fail", "pass", "fail"), f"{n}:\n{out}"
    assert c.get(("demo", "hot")) == "pass", out
    assert [c.get(k) for k in (("stack-a", "a-loaded"), ("ibt-indirect", "a-loaded"),
                               ("stack-a", "both-loaded"), ("stack-b", "both-loaded"),
                               ("stack-a", "b-unloaded"), ("stack-a", "all-unloaded"),
                               ("ibt-indirect", "stack-unloaded"))] == \
        ["pass", "fail", "fail", "pass", "pass", "fail", "pass"], out
    assert "CORE-REMOVED" in out, out
    for word in COMPLAINTS:
        assert word not in r.console, f"the kernel said {word!r}:\n{r.console}"


def test_address_of_a_sealed_function_is_refused(debian612, built612, kp_build_cache, tmp_path):
    """The sealed-ENDBR gate: the fix takes the address of ksys_sync, whose ENDBR objtool
    listed in 6.12's .ibt_endbr_seal (vmlinux only calls it directly) and the kernel poisons
    at boot; an indirect call through it would fault with #CP. kp-build refuses it at
    build time (an unsupported change, exit 2), naming both functions, and writes no
    module. (built612: the release's cache is warm, so this costs one object's build.)"""
    rel = debian612.release
    ko = tmp_path / "sealed.ko"
    r = subprocess.run([str(tool("kp-build")), "--cache-dir", str(kp_build_cache),
                        "--kernel", rel.release, "--patch", str(SEALED_FIX), "-o", str(ko),
                        "-j2"], capture_output=True, text=True, timeout=1800)
    assert r.returncode == 2, f"rc {r.returncode}:\n{r.stderr}"
    assert re.search(r"__do_sys_newuname takes the address of ksys_sync, whose ENDBR \S*vmlinux"
                     r"\S* seals", r.stderr), r.stderr
    assert "#CP" in r.stderr, r.stderr
    assert not ko.exists() and not list(tmp_path.glob("*.ko")), list(tmp_path.iterdir())


def test_module_for_another_612_release_is_refused(debian612, built612):
    """Debian's 6.12 cloud kernel of the sublevel before (6.12's releases name no ABI: each
    sublevel is another kernel): kpctl refuses the demo's module, built for another kernel,
    and so does kp_core when the module is inserted directly (other_kernel.py)."""
    other, vmlinuz = dk.other_abi_vmlinuz(debian612.release, log=print)
    ko = f"/kp/{built612['demo'].name}"
    files = {"/kp/bin/kpctl": tool("kpctl"), "/kp/kp_core.ko": built612["demo"].parent /
             "kp_core.ko", ko: built612["demo"]}
    assert_refused_on_other_kernel(debian612.release.release, other.release, vmlinuz, ko,
                                   files, "debian612_other_release")


def test_run_pre_refuses_a_612_source_edited_before_the_build(debian612, built612,
                                                              kp_build_cache, tmp_path):
    """Debian's 6.12 source as `apt-get source` leaves it (debian/changelog names the
    kernel's version), with one function that differs from what built the kernel, outside
    the fix's hunk: the objects compile, the fix applies, and run-pre refuses, naming the
    function and its object."""
    rel = debian612.release
    cached = [p for p in (kp_build_cache / "debian/sources").glob(f"*_{rel.version}/*")
              if (p / "Makefile").is_file()]
    assert len(cached) == 1, cached
    src = tmp_path / "src"
    subprocess.run(["cp", "-al", str(cached[0]), str(src)], check=True)
    (src / "debian").mkdir(exist_ok=True)
    (src / "debian" / "changelog").write_text(
        f"linux ({rel.version}) bookworm-backports; urgency=medium\n\n  * kp test\n\n"
        " -- kp <kp@localhost>  Mon, 07 Dec 2026 00:00:00 +0000\n")
    sys_c = src / "kernel/sys.c"
    text = sys_c.read_text()
    body = text.index("SYSCALL_DEFINE1(newuname,")
    end = text.index("\treturn 0;\n}\n", body)
    sys_c.unlink()                      # break the hard link: the cached source stays intact
    sys_c.write_text(text[:end] + "\treturn 2;\n}\n" + text[end + len("\treturn 0;\n}\n"):])
    r = subprocess.run([str(tool("kp-build")), "--cache-dir", str(kp_build_cache), "--src",
                        str(src), "--kernel", rel.release, "--patch", str(DEMO_FIX),
                        "--check-only", "-j2"], capture_output=True, text=True, timeout=1800)
    prepared = re.search(r"tree preparation: olddefconfig \+ modules_prepare in (\S+)", r.stderr)
    try:
        assert r.returncode == 1, f"rc {r.returncode}:\n{r.stderr}"
        line = [x for x in r.stderr.splitlines() if "run-pre:" in x]
        assert line and "newuname" in line[0] and "kernel/sys.o" in line[0], r.stderr
        assert "instruction" in line[0], line[0]
    finally:
        if prepared:   # this SRC's own prepared tree: not worth keeping in the cache
            subprocess.run(["rm", "-rf", prepared.group(1), prepared.group(1) + ".lock"])
    assert (cached[0] / "kernel/sys.c").read_text() == text
