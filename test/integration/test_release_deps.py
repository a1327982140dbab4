"""The dependency set of a header change without a kernel build (issue 13, item 2), proved
on the test kernel: `kp-build --kernel` prepares an unbuilt copy of the source with the test
kernel's config, finds which objects read which file with Kbuild's dry run and a
preprocessor pass (patch-tools/dry_run_deps.h), and rebuilds those a header patch reaches.
Its index must equal, file by file, what the .cmd records of a full build of that config
say (build/linux, the test kernel's own build), and run-pre must find the functions the
header change alters to be the test kernel's code.
"""
from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from e2e import CHECK_FN, parse_checks
from paths import BUILD, KDIR, PATCHES, kp_build, kpvm, tool

# A change of an inline of fs/proc/internal.h, which ~20 objects of procfs read.
HEADER_PATCH = PATCHES / "headers/proc-internal-h.patch"
# The catalogue's header patch (get_proc_task() of the same header logs a line), with its
# guest check that passes only while the patch is in force.
INLINE_PATCH = PATCHES / "header-inline-proc-task.patch"
INLINE_TEST = PATCHES / "header-inline-proc-task.test"



def norm(path: str, tree: str) -> str:
    p = str(Path(path)) if path.startswith("/") else path
    if p.startswith(tree + "/"):
        p = p[len(tree) + 1:]
    parts: list[str] = []
    for c in p.split("/"):
        if c in ("", "."):
            continue
        if c == ".." and parts and parts[-1] != "..":
            parts.pop()
        else:
            parts.append(c)
    return "/".join(parts)


def cmd_record(tree: Path, obj: str) -> tuple[str, set[str]]:
    """(source, files read) from Kbuild's .<obj>.cmd (fixdep's source_/deps_ lines)."""
    d, base = obj.rsplit("/", 1) if "/" in obj else ("", obj)
    text = (tree / d / f".{base}.cmd").read_text()
    src = re.search(r"^source_\S+ := (\S+)", text, re.M).group(1)
    deps = re.search(r"^deps_\S+ := \\\n((?:.*\\\n)*)", text, re.M).group(1)
    files = {norm(src, str(tree))}
    for line in deps.splitlines():
        item = line.strip().rstrip("\\").strip()
        if item and not item.startswith("$(wildcard"):
            files.add(norm(item, str(tree)))
    return norm(src, str(tree)), files


def reference_index(tree: Path) -> dict[str, set[str]]:
    """file -> objects, from a built tree: vmlinux's archives and the modules' .mod lists."""
    members: set[str] = set()
    for archive in ("vmlinux.a", "lib/lib.a", "arch/x86/lib/lib.a"):
        if (tree / archive).exists():
            out = subprocess.run(["ar", "t", str(tree / archive)], capture_output=True,
                                 text=True, check=True).stdout
            members |= {norm(m, str(tree)) for m in out.split()}
    for ko in (tree / "modules.order").read_text().split():
        members |= {norm(o, "") for o in (tree / ko).with_suffix(".mod").read_text().split()}
    index: dict[str, set[str]] = defaultdict(set)
    for obj in members:
        for f in cmd_record(tree, obj)[1]:
            index[f].add(obj)
    return index


def read_index(path: Path) -> dict[str, set[str]]:
    index = {}
    for line in path.read_text().splitlines():
        f, _, objs = line.partition("\t")
        index[f] = set(objs.split())
    return index


def kp_build_for_test_kernel(src: Path, patch: Path, out: Path, *extra: str):
    """kp-build --kernel for the test kernel, as for a kernel built elsewhere: its release,
    config, Module.symvers and vmlinux given as overrides, the source unbuilt."""
    kernel = KDIR
    release = (kernel / "include/config/kernel.release").read_text().strip()
    # The patches change vmlinux only: the test kernel's modules are not needed (an empty
    # modules.dep; kp-build would refuse a module object without its .ko).
    modules = out / "modules"
    modules.mkdir(exist_ok=True)
    (modules / "modules.dep").write_text("")
    return kp_build("--src", src, "--kernel", release, "--config", kernel / ".config",
                    "--symvers", kernel / "Module.symvers", "--vmlinux", kernel / "vmlinux",
                    "--modules", modules, "--patch", patch, *extra, "-j2")


@pytest.fixture(scope="module")
def test_kernel_source(debian_source) -> Path:
    release = (KDIR / "include/config/kernel.release").read_text().strip()
    version = subprocess.run(["make", "-s", "-C", str(debian_source), "kernelversion"],
                             capture_output=True, text=True).stdout.strip()
    assert version == release, (
        f"the test kernel is {release} but Debian's source is {version}: "
        "'make deps' installs the archive's newest linux-source-6.1")
    return debian_source


def test_header_dependency_set_equals_a_full_builds_records(test_kernel_source, tmp_path):
    debian_source = test_kernel_source
    built = KDIR
    r = kp_build_for_test_kernel(debian_source, HEADER_PATCH, tmp_path, "--check-only")
    assert r.returncode == 0, r.stderr
    m = re.search(r"the changed header\(s\) reach (\d+) object\(s\) \(index (\S+)\)",
                  r.stderr)
    assert m, r.stderr
    ours = read_index(Path(m.group(2)))
    ref = reference_index(built)

    # Every object of the config, and for every file of the source tree (what a patch can
    # change; generated headers differ between an unbuilt and a built tree by nature) the
    # same objects.
    assert set().union(*ours.values()) == set().union(*ref.values())
    source_files = {f for f in set(ours) | set(ref)
                    if not f.startswith("/") and (debian_source / f).is_file()}
    assert len(source_files) > 1000
    diff = {f: (sorted(ours.get(f, set()) - ref.get(f, set())),
                sorted(ref.get(f, set()) - ours.get(f, set())))
            for f in source_files if ours.get(f, set()) != ref.get(f, set())}
    assert not diff, f"{len(diff)} files differ (ours-only, records-only): " + str(
        dict(list(diff.items())[:5]))

    assert int(m.group(1)) == len(ref["fs/proc/internal.h"]) >= 10
    # The functions the header change alters compiled from the source are the test
    # kernel's code (run-pre on a header change).
    assert re.search(r"run-pre: the [1-9]\d* function\(s\) the patch changes are the "
                     r"kernel's code", r.stderr), r.stderr


def test_header_patch_built_without_a_kernel_build_works_live(test_kernel_source, tmp_path):
    """The catalogue's header patch, built through --kernel (the dependency index, not the
    tree's records, says which objects to rebuild), loads on the test kernel, takes effect
    and goes away again."""
    ko = tmp_path / "kp_header_inline.ko"
    r = kp_build_for_test_kernel(test_kernel_source, INLINE_PATCH, tmp_path, "-o", str(ko))
    assert r.returncode == 0, r.stderr
    assert re.search(r"the changed header\(s\) reach [1-9]\d* object\(s\)", r.stderr), r.stderr
    script = "\n".join([
        CHECK_FN, "set -u", "export PATH=/kp/bin:$PATH",
        "kp_check inline before /kp/tests/inline.test",
        "kpctl load /kp/kp_header_inline.ko --timeout 30 || echo LOADFAIL",
        "kp_check inline loaded /kp/tests/inline.test",
        "kpctl unload kp_header_inline --timeout 30 || echo UNLOADFAIL",
        "kp_check inline unloaded /kp/tests/inline.test", ""])
    files = {"/kp/bin/kpctl": tool("kpctl"), "/kp/kp_header_inline.ko": ko,
             "/kp/kp_core.ko": tmp_path / "kp_core.ko", "/kp/tests/inline.test": INLINE_TEST}
    res = kpvm.run(script, files, timeout=300,
                   log_dir=BUILD / "test-logs" / "release_deps_header_patch")
    assert res.ok, res.describe()
    assert "LOADFAIL" not in res.output and "UNLOADFAIL" not in res.output, res.output
    c = parse_checks(res.output)
    assert (c.get(("inline", "before")), c.get(("inline", "loaded")),
            c.get(("inline", "unloaded"))) == ("fail", "pass", "fail"), res.output


def test_header_no_object_of_the_config_reads_is_refused(test_kernel_source, tmp_path):
    """fs/ext4/ext4.h with a config without ext4: refused (exit 2, as every unsupported
    change), naming the header, and no module written."""
    ko = tmp_path / "kp_ext4.ko"
    r = kp_build_for_test_kernel(test_kernel_source, PATCHES / "headers/ext4-unbuilt-h.patch",
                                 tmp_path, "-o", str(ko))
    assert r.returncode == 2, r.stderr
    assert "fs/ext4/ext4.h, which no object of this kernel's config reads" in r.stderr, r.stderr
    assert not ko.exists() and not (tmp_path / "kp_core.ko").exists()
