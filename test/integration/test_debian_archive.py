"""kp-build's archive side (patch-tools/debian_archive.py): which Debian source a tree is,
by its files (a tree extracted from the linux-source tarball, a git tree of it, an edited
one), and a cache that killed runs cannot fill.

The identity tests use a small tarball made here; the killed fetch uses Debian's archive."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARCHIVE_PY = REPO / "patch-tools" / "debian_archive.py"
sys.path.insert(0, str(REPO / "patch-tools"))
import debian_archive as da  # noqa: E402

PKG = "linux-source-9.9"
FILES = {
    "Makefile": "VERSION = 9\nPATCHLEVEL = 9\nSUBLEVEL = 1\nEXTRAVERSION =\n",
    "kernel/sys.c": "int newuname(void) { return 0; }\n",
    "include/linux/x.h": "#define X 1\n",
}


@pytest.fixture
def archive(tmp_path, monkeypatch):
    """A cache of its own, and a linux-source-9.9 tarball of version 9.9.1-1 (not
    installed): source_tarball() hands it out as if fetched."""
    cache = tmp_path / "cache"
    da.use_cache(cache)
    top = tmp_path / "tarball-root" / PKG
    for rel, text in FILES.items():
        (top / rel).parent.mkdir(parents=True, exist_ok=True)
        (top / rel).write_text(text)
    (top / "arch").mkdir()
    (top / "arch" / "link").symlink_to("../include")
    tarball = tmp_path / f"{PKG}.tar.xz"
    with tarfile.open(tarball, "w:xz") as tar:
        tar.add(top, arcname=PKG)
    fetched = []

    def source_tarball(package, version, log=None):
        fetched.append(f"{package}={version}")
        if version != "9.9.1-1":
            raise da.ArchiveError(f"the archive has no {package} {version}")
        return tarball
    monkeypatch.setattr(da, "source_tarball", source_tarball)
    yield {"cache": cache, "tarball": tarball, "fetched": fetched}
    da.use_cache(Path.home() / ".cache" / "kp-build" / "debian")


def extract(tarball: Path, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-xf", str(tarball), "-C", str(into)], check=True)
    return into / PKG


def test_a_tree_extracted_from_the_tarball_is_that_version(archive, tmp_path, monkeypatch):
    src = extract(archive["tarball"], tmp_path / "user")
    (src / "vmlinux.o").write_text("a build output is not read")
    assert da.identify(src, PKG, "9.9.1-1") == "9.9.1-1"
    # The answer is remembered by the files' identities: not read again...
    monkeypatch.setattr(da, "_file_digest", lambda p: pytest.fail(f"read {p} again"))
    assert da.identify(src, PKG, "9.9.1-1") == "9.9.1-1"
    monkeypatch.undo()
    da.use_cache(archive["cache"])
    # ... until one changes: an edit in place (same size) is found.
    sys_c = src / "kernel/sys.c"
    time.sleep(0.01)
    sys_c.write_text(FILES["kernel/sys.c"].replace("0", "1"))
    monkeypatch.setattr(da, "source_tarball", lambda p, v, log=None: archive["tarball"])
    with pytest.raises(da.ArchiveError, match=r"is not Debian's linux-source-9\.9 9\.9\.1-1: "
                                              r"1 file\(s\) differ \(kernel/sys\.c\)"):
        da.identify(src, PKG, "9.9.1-1")


def test_a_git_tree_of_the_source_is_that_version(archive, tmp_path):
    src = extract(archive["tarball"], tmp_path / "git")
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t")
    for argv in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "x"]):
        subprocess.run(argv, cwd=src, check=True, env=env)
    subprocess.run(["git", "checkout", "-q", "-b", "fix"], cwd=src, check=True, env=env)
    assert (src / ".git").is_dir()
    assert da.identify(src, PKG, "9.9.1-1") == "9.9.1-1"


def test_missing_files_and_a_wrong_link_are_named(archive, tmp_path):
    src = extract(archive["tarball"], tmp_path / "user")
    (src / "include/linux/x.h").unlink()
    with pytest.raises(da.ArchiveError, match=r"1 are missing \(include/linux/x\.h\)"):
        da.identify(src, PKG, "9.9.1-1")
    src = extract(archive["tarball"], tmp_path / "user2")
    (src / "arch/link").unlink()
    (src / "arch/link").symlink_to("../kernel")
    with pytest.raises(da.ArchiveError, match=r"1 file\(s\) differ \(arch/link\)"):
        da.identify(src, PKG, "9.9.1-1")


def test_not_a_kernel_tree_and_a_version_the_archive_lacks(archive, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(da.ArchiveError, match="is not a kernel source tree"):
        da.identify(tmp_path / "empty", PKG, "9.9.1-1")
    src = extract(archive["tarball"], tmp_path / "user")
    with pytest.raises(da.ArchiveError, match=r"has no linux-source-9\.9 9\.9\.1-7"):
        da.identify(src, PKG, "9.9.1-7")


def _holder(lockfile: Path) -> subprocess.Popen:
    """Another process holding lockfile, as a running fetch holds its work directory."""
    p = subprocess.Popen([sys.executable, "-c",
                          "import fcntl,sys,time\n"
                          f"f=open({str(lockfile)!r},'a')\n"
                          "fcntl.flock(f,fcntl.LOCK_EX)\nprint('held',flush=True)\n"
                          "time.sleep(60)\n"], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    return p


def test_clean_removes_what_killed_runs_left_and_nothing_in_use(archive, tmp_path):
    cache = archive["cache"]
    busy, dead = cache / "tmp" / "fetch-busy", cache / "tmp" / "fetch-dead"
    for d in (busy, dead):
        d.mkdir(parents=True)
        (d / "x.deb").write_bytes(b"partial")
        (d / da.WORK_LOCK).write_text("")
    old_style = cache / "fetch-abc123"       # left by kp before it locked its work
    old_style.mkdir()
    os.utime(old_style, (time.time() - 3600, time.time() - 3600))
    young = cache / "fetch-young"            # no lock yet: may be starting up
    young.mkdir()
    holder = _holder(busy / da.WORK_LOCK)
    try:
        removed = da.clean_leftovers()
    finally:
        holder.kill()
        holder.wait()
    assert sorted(removed) == sorted([dead, old_style])
    assert busy.exists() and young.exists() and not dead.exists()
    assert da.clean_leftovers() == [busy]   # its owner is gone now


def test_a_fetch_killed_half_way_leaves_nothing_for_the_next_run(tmp_path):
    """Debian's archive: a fetch is killed as soon as it has started (its work directory
    exists); the next run removes that and fetches the package whole."""
    sys.path.insert(0, str(REPO / "vm-images"))
    import debian_kernel as dk
    rel = dk.cloud_release("cloud-amd64")
    package, member = rel.headers_package, "./usr/src"
    cache = tmp_path / "kp-cache" / "debian"
    env = dict(os.environ, KP_DEBIAN_CACHE=str(cache))
    argv = [sys.executable, str(ARCHIVE_PY), "fetch", f"{package}={rel.version}",
            "--only", member]
    p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and not list((cache / "tmp").glob("fetch-*")):
            assert p.poll() is None, "the fetch ended before it could be killed"
            time.sleep(0.005)
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    left = list((cache / "tmp").glob("fetch-*"))
    assert left, "nothing to clean: the kill came too late"
    r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    assert f"removed {left[0]}" in r.stderr, r.stderr
    out = Path(r.stdout.strip().splitlines()[-1])
    assert (out / da.COMPLETE).exists()
    assert (out / "usr/src" / f"linux-headers-{rel.release}" / "Module.symvers").exists()
    assert not any((cache / "tmp").iterdir()), list((cache / "tmp").iterdir())
