"""Debian's own kernel as a second VM image (issue 13): the release is derived from the
archive, its image package fetched into the VM side's cache (never installed), booted with
the busybox initramfs; a module of the package is loaded with its dependencies from
modules.dep. kp-build's resolution of the release (issue 23: an empty kp-build cache, the
source as Debian ships it) and its refusals, each one line with nothing left behind."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "vm-images"))
import debian_kernel as dk  # noqa: E402
import kpvm  # noqa: E402

FETCHER = REPO / "patch-tools" / "debian_archive.py"   # kp-build's archive side
DEMO_FIX = REPO / "docs/examples/fix-uname-machine.patch"


# --- the derivation and module helpers, no VM ---

def test_pick_release_takes_the_newest_image_with_a_source_version():
    images = {
        "linux-image-6.1.0-9-cloud-amd64-unsigned": ["6.1.20-1"],
        "linux-image-6.1.0-11-cloud-amd64-unsigned": ["6.1.30-2"],
        "linux-image-6.1.0-12-cloud-amd64-unsigned": ["6.1.31-1"],   # no such source
        "linux-image-6.1.0-11-amd64-unsigned": ["6.1.30-2"],          # other flavour
        "linux-image-6.1.0-11-cloud-amd64-dbg": ["6.1.30-2"],
    }
    rel = dk.pick_release("6.1", "cloud-amd64", ["6.1.20-1", "6.1.30-2"], images)
    assert (rel.release, rel.version, rel.series) == ("6.1.0-11-cloud-amd64", "6.1.30-2", "6.1")
    assert rel.image_package == "linux-image-6.1.0-11-cloud-amd64-unsigned"
    # Debian order, not string order: 6.1.9 < 6.1.30
    rel = dk.pick_release("6.1", "cloud-amd64", ["6.1.9-1", "6.1.30-1"], {
        "linux-image-6.1.0-2-cloud-amd64-unsigned": ["6.1.9-1"],
        "linux-image-6.1.0-1-cloud-amd64-unsigned": ["6.1.30-1"]})
    assert rel.release == "6.1.0-1-cloud-amd64"


def test_pick_release_knows_the_612_release_names():
    """6.12's images are named 6.12.N+debV-FLAVOUR; 6.1's scheme in the same list is not
    6.12's, nor is 6.12's in 6.1's."""
    images = {
        "linux-image-6.12.117+deb12-cloud-amd64-unsigned": ["6.12.117-1~deb12u1"],
        "linux-image-6.12.118+deb12-cloud-amd64-unsigned": ["6.12.118-1~deb12u1"],
        "linux-image-6.12.118+deb12-amd64-unsigned": ["6.12.118-1~deb12u1"],
        "linux-image-6.1.0-57-cloud-amd64-unsigned": ["6.1.192-3"],
    }
    rel = dk.pick_release("6.12", "cloud-amd64", ["6.12.117-1~deb12u1", "6.12.118-1~deb12u1"],
                          images)
    assert (rel.release, rel.version, rel.series) == \
        ("6.12.118+deb12-cloud-amd64", "6.12.118-1~deb12u1", "6.12")
    assert dk.pick_release("6.1", "cloud-amd64", ["6.1.192-3"], images).release == \
        "6.1.0-57-cloud-amd64"


def test_pick_release_refuses_when_no_image_matches_a_source():
    with pytest.raises(dk.DebianKernelError, match=r"no linux-image-6\.1\.\*-cloud-amd64-unsigned"
                       r".*6\.1\.20-1"):
        dk.pick_release("6.1", "cloud-amd64", ["6.1.20-1"],
                        {"linux-image-6.1.0-11-cloud-amd64-unsigned": ["6.1.30-2"]})


def test_module_closure_orders_dependencies_first():
    deps = dk.parse_modules_dep(
        "kernel/a/vx-lan.ko: kernel/b/udp.ko kernel/c/ip6.ko.xz\n"
        "kernel/b/udp.ko: kernel/c/ip6.ko.xz\n"
        "kernel/c/ip6.ko.xz:\n")
    assert dk.module_closure(deps, ["vx_lan"]) == [
        "kernel/c/ip6.ko.xz", "kernel/b/udp.ko", "kernel/a/vx-lan.ko"]
    with pytest.raises(dk.DebianKernelError, match="module nosuch is not in modules.dep"):
        dk.module_closure(deps, ["nosuch"])
    with pytest.raises(dk.DebianKernelError, match="cycle"):
        dk.module_closure(dk.parse_modules_dep("a.ko: b.ko\nb.ko: a.ko\n"), ["a"])


def _fetch_cli(args: list[str], tmp_path: Path, **env) -> subprocess.CompletedProcess:
    e = dict(os.environ, KP_DEBIAN_CACHE=str(tmp_path / "cache"), **env)
    return subprocess.run([sys.executable, str(FETCHER), *args], capture_output=True,
                          text=True, env=e, timeout=300)


def test_missing_package_is_one_line_and_writes_nothing(tmp_path):
    p = _fetch_cli(["fetch", "linux-image-0.0.0-0-nosuch-unsigned=0.0-0"], tmp_path)
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert "linux-image-0.0.0-0-nosuch-unsigned" in lines[0]
    assert not list((tmp_path / "cache").glob("pkgs/*"))
    assert not list((tmp_path / "cache").glob("tmp/*"))


def test_unreachable_archive_is_one_line_and_writes_nothing(tmp_path, debian):
    # A real package and version that is not in this (empty) cache, through a dead proxy.
    spec = f"{debian.release.headers_package}={debian.release.version}"
    p = _fetch_cli(["fetch", spec], tmp_path,
                   KP_APT_OPTIONS="-o Acquire::http::Proxy=http://127.0.0.1:9 "
                                  "-o Acquire::Retries=0",
                   KP_DOWNLOAD_TIMEOUT="60")
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert debian.release.headers_package in lines[0]
    assert not list((tmp_path / "cache").glob("pkgs/*"))
    assert not list((tmp_path / "cache").glob("tmp/*"))


# --- the image ---

def test_release_is_derived_from_the_archive(debian):
    rel = debian.release
    sources = dk.madison(rel.source_package)[rel.source_package]
    assert rel.version in sources
    images = dk.madison(rel.image_package)[rel.image_package]
    assert rel.version in images
    assert debian.vmlinuz.stat().st_size > 1 << 20
    assert "CONFIG_LIVEPATCH=y" in debian.config.read_text()


def test_debian_kernel_boots_and_loads_its_modules(debian, tmp_path):
    rel = debian.release.release
    r = kpvm.run("""
set -e
uname -r
test -d /sys/kernel/livepatch && echo livepatch-ok
ko=$(find /lib/modules/$(uname -r) -name udp_tunnel.ko)
insmod "$ko"
grep '^udp_tunnel ' /proc/modules
modprobe vxlan
grep '^vxlan ' /proc/modules
grep -q 'vxlan,' /proc/modules
rmmod vxlan
! grep -q '^vxlan ' /proc/modules
echo modules-ok
""", kernel="debian-cloud", modules=["vxlan"], timeout=180,
                 log_dir=kpvm.BUILD / "test-logs" / "debian_kernel_boots")
    assert r.ok, r.describe()
    lines = r.output.splitlines()
    assert lines[0] == rel
    assert "livepatch-ok" in lines
    assert "modules-ok" in lines
    assert any(l.startswith("udp_tunnel ") for l in lines)
    # The console says which kernel it booted: Debian's build, not kp's test kernel.
    assert f"Linux version {rel}" in r.console
    assert "Debian" in r.console.split(f"Linux version {rel}", 1)[1].splitlines()[0]


# --- kp-build --kernel RELEASE: what the release needs, found and checked ---

KP_BUILD = Path(os.environ.get("KP_BUILD_BIN") or kpvm.BUILD / "bin/kp-build")


@pytest.fixture(scope="module")
def kp_build(kp_build_cache):
    """kp-build with this run's kp-build cache (empty at the start of the run) unless the
    test gives its own --cache-dir."""
    if not KP_BUILD.exists():
        pytest.fail(f"{KP_BUILD} not built: run 'make all'", pytrace=False)

    def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        cache = [] if "--cache-dir" in args else ["--cache-dir", str(kp_build_cache)]
        return subprocess.run([str(KP_BUILD), *cache, *args], capture_output=True, text=True,
                              timeout=900, env=None if env is None else {**os.environ, **env})
    return run


def fields(out: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


def test_kp_build_resolves_the_release_from_debians_packages(debian, debian_source, kp_build):
    rel = debian.release
    p = kp_build("--src", str(debian_source), "--kernel", rel.release, "--resolve-only")
    assert p.returncode == 0, p.stderr
    f = fields(p.stdout)
    assert f["release"] == rel.release
    assert f["package version"] == rel.version
    assert f["config"].endswith(f"/boot/config-{rel.release}")
    assert Path(f["config"]).read_text() == debian.config.read_text()
    symvers = Path(f["Module.symvers"])
    assert symvers.name == "Module.symvers" and symvers.stat().st_size > 100_000
    assert "\tvmlinux\tEXPORT_SYMBOL" in symvers.read_text()
    assert Path(f["modules"], "modules.order").exists()
    assert Path(f["vmlinuz"]).stat().st_size > 1 << 20
    assert f["System.map"] == "(none)"   # the image package's is Debian's stub


def one_line_refusal(p: subprocess.CompletedProcess) -> str:
    assert p.returncode == 1, p.stdout + p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    return lines[0]


def changelog(version: str) -> str:
    """The first lines of debian/changelog in a tree from `apt-get source linux=VERSION`."""
    return f"linux ({version}) bookworm-security; urgency=high\n\n  * kp test\n"


def test_kp_build_refuses_a_source_of_another_debian_version(debian, debian_source, tmp_path,
                                                             kp_build):
    """A tree from `apt-get source` of another Debian revision (its debian/changelog says
    which): refused naming both versions, before anything is fetched."""
    rel = debian.release
    src = tmp_path / "src"
    (src / "debian").mkdir(parents=True)
    shutil.copy(debian_source / "Makefile", src / "Makefile")
    other = rel.version.rsplit("-", 1)[0] + "-0kp1"
    (src / "debian" / "changelog").write_text(changelog(other))
    cache = tmp_path / "cache"
    p = kp_build("--src", str(src), "--kernel", rel.release, "--resolve-only",
                 "--cache-dir", str(cache))
    line = one_line_refusal(p)
    assert f"is Debian {other} ({src}/debian/changelog) but kernel {rel.release} is " \
           f"{rel.version}" in line, line
    assert not list(cache.glob("debian/pkgs/*")), "refused, yet something was fetched"


def test_kp_build_knows_a_tarball_tree_by_its_files(debian, debian_source, tmp_path, kp_build):
    """The linux-source tarball extracted with tar has no debian/changelog: kp-build compares
    its files with Debian's source of the release's version. The tree as extracted is
    accepted; the same tree with one file changed is refused, naming the file."""
    rel = debian.release
    p = kp_build("--src", str(debian_source), "--kernel", rel.release, "--resolve-only")
    assert p.returncode == 0, p.stderr
    assert fields(p.stdout)["source version"] == \
        f"{rel.version} (its files, identical to Debian's {rel.source_package} {rel.version})"
    src = tmp_path / "src"
    subprocess.run(["cp", "-al", str(debian_source), str(src)], check=True)
    target = src / "kernel/sys.c"
    text = target.read_text()
    target.unlink()                     # a new file: the extracted source stays intact
    target.write_text(text.replace("SYSCALL_DEFINE1(newuname,", "SYSCALL_DEFINE1( newuname,"))
    p = kp_build("--src", str(src), "--kernel", rel.release, "--resolve-only")
    line = one_line_refusal(p)
    assert f"{src} is not Debian's {rel.source_package} {rel.version}: 1 file(s) differ " \
           f"(kernel/sys.c)" in line, line


def test_kp_build_refuses_a_source_that_is_not_a_kernel(debian, tmp_path, kp_build):
    (tmp_path / "src").mkdir()
    cache = tmp_path / "cache"
    p = kp_build("--src", str(tmp_path / "src"), "--kernel", debian.release.release,
                 "--patch", str(DEMO_FIX), "--cache-dir", str(cache))
    line = one_line_refusal(p)
    assert "no Makefile" in line, line
    left = [f for f in cache.glob("debian/*/*") if f.parent.name in ("pkgs", "tmp", "sources")]
    assert not left, left


def test_kp_build_with_an_unreachable_archive_leaves_nothing(debian, tmp_path, kp_build):
    """No --src and an empty cache: the source must be fetched, and the archive cannot be
    reached (a dead proxy): one line, exit 1, no module, nothing left in the cache."""
    cache, out = tmp_path / "cache", tmp_path / "kp_fix.ko"
    p = kp_build("--kernel", debian.release.release, "--patch", str(DEMO_FIX), "-o", str(out),
                 "--cache-dir", str(cache),
                 env={"KP_APT_OPTIONS": "-o Acquire::http::Proxy=http://127.0.0.1:9 "
                                        "-o Acquire::Retries=0",
                      "KP_DOWNLOAD_TIMEOUT": "60"})
    line = one_line_refusal(p)
    assert "downloading" in line, line
    assert not out.exists()
    left = [f for f in cache.glob("debian/*/*") if f.parent.name in ("pkgs", "tmp", "sources")]
    assert not left, left


def test_kp_build_refuses_a_release_that_is_not_debians(debian_source, tmp_path, kp_build):
    p = kp_build("--src", str(debian_source), "--kernel", "6.1.999-kp-custom", "--resolve-only",
                 "--cache-dir", str(tmp_path))
    line = one_line_refusal(p)
    assert "not a Debian release" in line and "--config" in line, line


def test_kp_build_refuses_a_release_the_archive_lacks(debian, debian_source, tmp_path, kp_build):
    series, flavour = debian.release.series, dk.flavour_of(debian.release.release)
    missing = f"{series}.0-99999-{flavour}"
    p = kp_build("--src", str(debian_source), "--kernel", missing, "--resolve-only",
                 "--cache-dir", str(tmp_path))
    line = one_line_refusal(p)
    assert f"no linux-image-{missing}-unsigned" in line, line


# --- tree preparation, the patch's objects before and after, run-pre against Debian's image ---


def test_kp_build_checks_the_demo_fix_against_debians_image(debian, debian_source, kp_build):
    p = kp_build("--src", str(debian_source), "--kernel", debian.release.release,
                 "--patch", str(DEMO_FIX), "--check-only", "-j2")
    assert p.returncode == 0, p.stderr
    assert "tree preparation: " in p.stderr
    assert "objects before and after the patch: 1 compiled" in p.stderr
    m = re.search(r"run-pre: the (\d+) function\(s\) the patch changes are the kernel's code",
                  p.stderr)
    assert m and int(m.group(1)) >= 1, p.stderr


def test_run_pre_refuses_a_source_edited_before_the_build(debian, debian_source, tmp_path,
                                                         kp_build):
    """A tree from `apt-get source` (its debian/changelog names the kernel's version) in
    which one function differs from what built the kernel (outside the fix's hunk): the
    objects compile, the fix applies, and run-pre refuses, naming that function."""
    src = tmp_path / "src"
    subprocess.run(["cp", "-al", str(debian_source), str(src)], check=True)
    (src / "debian").mkdir()
    (src / "debian" / "changelog").write_text(changelog(debian.release.version))
    sys_c = src / "kernel/sys.c"
    text = sys_c.read_text()
    body = text.index("SYSCALL_DEFINE1(newuname,")
    end = text.index("\treturn 0;\n}\n", body)
    edited = text[:end] + "\treturn 2;\n}\n" + text[end + len("\treturn 0;\n}\n"):]
    sys_c.unlink()                      # break the hard link: the cached source stays intact
    sys_c.write_text(edited)
    p = kp_build("--src", str(src), "--kernel", debian.release.release,
                 "--patch", str(DEMO_FIX), "--check-only", "-j2")
    prepared = re.search(r"tree preparation: olddefconfig \+ modules_prepare in (\S+)", p.stderr)
    try:
        assert p.returncode == 1, p.stderr
        line = [l for l in p.stderr.splitlines() if "run-pre:" in l]
        assert line and "newuname" in line[0] and "kernel/sys.o" in line[0], p.stderr
        assert "instruction" in line[0], line[0]
    finally:
        if prepared:   # this SRC's own prepared tree: not worth keeping in the cache
            shutil.rmtree(prepared.group(1), ignore_errors=True)
            Path(prepared.group(1) + ".lock").unlink(missing_ok=True)
    assert (debian_source / "kernel/sys.c").read_text() == text


def test_unbuilt_source_without_kernel_targets_the_running_kernel(debian_source, tmp_path,
                                                                  kp_build):
    """SRC is not a built tree and no --kernel is given: the target is `uname -r` of this
    machine, resolved like --kernel (refused with the reason when it cannot be)."""
    out = tmp_path / "kp_fix.ko"
    p = kp_build("--src", str(debian_source), "--patch", str(DEMO_FIX), "-o", str(out),
                 "--cache-dir", str(tmp_path / "cache"), "--check-only")
    running = os.uname().release
    assert f"is not a built tree: building for the running kernel {running}" in p.stderr, p.stderr
    assert p.returncode in (0, 1), p.stderr
    assert not out.exists()


def test_repeated_kernel_resolves_every_release_before_building_any(debian, debian_source,
                                                                   tmp_path, kp_build):
    """One fix, several releases: each is resolved (versions checked) before any is built,
    so a release SRC cannot serve refuses the whole run before any work and writes
    nothing; the output is a directory (DIR/RELEASE/), a release is given once."""
    other, _ = dk.other_abi_vmlinuz(debian.release)
    out = tmp_path / "out"
    p = kp_build("--src", str(debian_source), "--kernel", debian.release.release,
                 "--kernel", other.release, "--patch", str(DEMO_FIX), "-o", str(out))
    assert p.returncode == 1, p.stderr
    assert other.version in p.stderr and debian.release.version in p.stderr, p.stderr
    assert "tree preparation" not in p.stderr, p.stderr
    assert not out.exists()
    p = kp_build("--src", str(debian_source), "--kernel", debian.release.release,
                 "--kernel", debian.release.release, "--patch", str(DEMO_FIX))
    assert one_line_refusal(p).endswith(f"--kernel {debian.release.release} is given twice")
    p = kp_build("--src", str(debian_source), "--kernel", debian.release.release,
                 "--kernel", other.release, "--patch", str(DEMO_FIX), "-o", str(out / "x.ko"))
    assert "-o is a directory" in one_line_refusal(p)
