#!/usr/bin/env python3
"""kp-build's access to Debian's archive: versions, packages, the kernel source, and whether
a source tree is Debian's source of a given version.

Nothing is installed: a package is fetched with `apt-get download` into the cache given by
`$KP_DEBIAN_CACHE` (kp-build passes `<its cache>/debian`) and unpacked there with
`dpkg-deb`, once; later runs use the unpacked tree. Every archive access has a timeout and
fails with one line naming the package and the reason.

Work in progress lives in a `tmp/` directory of its own, locked by the process doing it, so
a run that was killed leaves nothing behind for long: every command first removes the
leftovers nobody holds (`clean_leftovers`).

    debian_archive.py versions PACKAGE...           # "PACKAGE VERSION" lines, newest first
    debian_archive.py fetch PACKAGE=VERSION [--only PATH]... [--strip-debug]
                                                     # prints the unpacked directory
    debian_archive.py source PACKAGE=VERSION         # linux-source-X.Y of VERSION, extracted
                                                     # once: prints the tree
    debian_archive.py identify SRC PACKAGE=VERSION   # prints the Debian version SRC is
    debian_archive.py clean                          # removes leftovers of killed runs

`identify` establishes which Debian source a tree is by its contents: every file of the
package's tarball must be in SRC with the same bytes (files the tarball lacks, such as .git,
debian/ or build outputs, are not read). It tries the installed linux-source tarball first
(no download), then the one of VERSION, fetched. The tarball's hashes are computed once per
version; SRC's file identities (inode, size, times) are remembered, so a tree that did not
change is not read again.
"""
from __future__ import annotations

import argparse
import fcntl
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

APT_TIMEOUT = float(os.environ.get("KP_APT_TIMEOUT", "60"))       # apt-cache, apt-get update
DOWNLOAD_TIMEOUT = float(os.environ.get("KP_DOWNLOAD_TIMEOUT", "900"))  # one package
COMPLETE = ".kp-complete"
# Extra apt options (e.g. "-o Acquire::http::Proxy=..."), for tests and unusual networks.
APT_OPTIONS = os.environ.get("KP_APT_OPTIONS", "").split()
# A work directory younger than this without its lock file may be starting up.
LEFTOVER_GRACE_SECONDS = 60


class ArchiveError(Exception):
    """A one-line reason why a package could not be found, fetched or compared."""


_cache_override: Path | None = None


def use_cache(path: Path) -> None:
    """Makes this process's archive work use path instead of kp-build's cache (the VM
    runner keeps its own)."""
    global _cache_override
    _cache_override = Path(path)


def cache_dir() -> Path:
    if _cache_override is not None:
        return _cache_override
    env = os.environ.get("KP_DEBIAN_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "kp-build" / "debian"


def _run(argv: list[str], timeout: float, what: str) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ArchiveError(f"{what}: no answer after {timeout:.0f} s "
                           f"({' '.join(argv)}); is the archive reachable?") from None
    except FileNotFoundError:
        raise ArchiveError(f"{what}: {argv[0]} not found (not a Debian system?)") from None
    if proc.returncode != 0:
        msg = [l for l in (proc.stderr or proc.stdout).splitlines()
               if l.strip() and not l.startswith("W: Download is performed unsandboxed")]
        raise ArchiveError(f"{what}: {' '.join(argv)} failed: "
                           f"{msg[-1] if msg else 'exit ' + str(proc.returncode)}")
    return proc.stdout


def version_compare(a: str, b: str) -> int:
    """Debian version order (dpkg's), -1/0/1."""
    for op, result in (("lt", -1), ("eq", 0)):
        if subprocess.run(["dpkg", "--compare-versions", a, op, b]).returncode == 0:
            return result
    return 1


def _apt_lists_present() -> bool:
    lists = Path("/var/lib/apt/lists")
    return lists.is_dir() and any(lists.glob("*_Packages*"))


@functools.lru_cache(maxsize=None)
def updated_once() -> bool:
    """Runs `apt-get update` once per process (root only); True when it ran."""
    if os.geteuid() != 0:
        return False
    _run(["apt-get", *APT_OPTIONS, "update", "-qq"], APT_TIMEOUT * 5, "apt-get update")
    return True


def apt_lists_key() -> str:
    """Changes whenever apt's package lists (or the installed source tarballs) change."""
    h = hashlib.sha256()
    for d, pat in ((Path("/var/lib/apt/lists"), "*Packages*"), (Path("/usr/src"), "linux-source-*")):
        for f in sorted(d.glob(pat)) if d.is_dir() else []:
            st = f.stat()
            h.update(f"{f.name} {st.st_size} {st.st_mtime_ns}\n".encode())
    h.update(" ".join(APT_OPTIONS).encode())
    return h.hexdigest()[:16]


def madison(*packages: str) -> dict[str, list[str]]:
    """Versions of each package the archive offers, newest first (one apt-cache madison,
    remembered in the cache until apt's package lists change: a warm kp-build asks apt
    nothing)."""
    memo = cache_dir() / "madison" / (
        apt_lists_key() + "-" + hashlib.sha256(" ".join(packages).encode()).hexdigest()[:16])
    if memo.exists():
        out = memo.read_text()
    else:
        out = _run(["apt-cache", *APT_OPTIONS, "madison", *packages], APT_TIMEOUT,
                   f"apt-cache madison {' '.join(packages)}")
        if out.strip():   # an empty answer is not remembered: apt-get update may follow
            _write_atomic(memo, out)
    versions: dict[str, list[str]] = {p: [] for p in packages}
    for line in out.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) >= 2 and parts[0] in versions and parts[1] not in versions[parts[0]]:
            versions[parts[0]].append(parts[1])
    return versions


def search_names(regex: str) -> list[str]:
    out = _run(["apt-cache", *APT_OPTIONS, "search", "--names-only", regex], APT_TIMEOUT,
               f"apt-cache search {regex}")
    return [line.split(" - ")[0].strip() for line in out.splitlines() if line.strip()]


def installed_version(package: str) -> str:
    proc = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status} ${Version}", package],
                          capture_output=True, text=True)
    status, _, version = proc.stdout.partition(" ")
    return version if proc.returncode == 0 and status == "installed" else ""


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text)
    tmp.rename(path)


def lock(path: Path, blocking: bool = True):
    """An open file holding an exclusive flock on path; None when not blocking and busy."""
    path.parent.mkdir(parents=True, exist_ok=True)
    f = open(path, "a")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        f.close()
        return None
    return f


# --- work directories: locked while in use, removed when their owner is gone -------------

WORK_LOCK = ".kp-work.lock"


class WorkDir:
    """A fresh directory in <cache>/tmp, locked by this process until closed (then removed
    unless kept by moving its contents away)."""

    def __init__(self, prefix: str):
        root = cache_dir() / "tmp"
        root.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=prefix + "-", dir=root))
        self._lock = lock(self.path / WORK_LOCK)

    def __enter__(self) -> "WorkDir":
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        self._lock.close()


def clean_leftovers(log=None) -> list[Path]:
    """Removes the work directories of runs that were killed (nobody holds their lock),
    and the `fetch-*` directories older kp versions left at the top of the cache."""
    removed = []
    candidates = sorted((cache_dir() / "tmp").glob("*")) + sorted(cache_dir().glob("fetch-*"))
    for d in candidates:
        if not d.is_dir() or d.is_symlink():
            continue
        lockfile = d / WORK_LOCK
        if not lockfile.exists():
            try:
                age = time.time() - d.stat().st_mtime
            except FileNotFoundError:
                continue
            if age < LEFTOVER_GRACE_SECONDS:
                continue
            held = None
        else:
            held = lock(lockfile, blocking=False)
            if held is None:
                continue          # its owner is alive
        try:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
            if log:
                log(f"debian: removed {d}, left by a run that was stopped")
        finally:
            if held:
                held.close()
    return removed


# --- packages -----------------------------------------------------------------------------

def package_dir(package: str, version: str, only: list[str] | None = None,
                strip_debug: bool = False) -> Path:
    """Where package=version is unpacked; a partial or stripped unpacking has its own."""
    name = f"{package}_{version}"
    if only or strip_debug:
        what = "\n".join(sorted(only or [])) + f"\nstrip={strip_debug}:dwarf-sections"
        name += "+" + hashlib.sha256(what.encode()).hexdigest()[:8]
    return cache_dir() / "pkgs" / name


def fetch(package: str, version: str, only: list[str] | None = None,
          log=None, strip_debug: bool = False) -> Path:
    """Download package=version and unpack it (only the paths `only`, tar members such as
    './usr/lib/debug/boot/vmlinux-R', when given) into the cache; returns the unpacked
    directory. Reuses a complete earlier unpacking; the .deb is removed afterwards.
    strip_debug: remove the DWARF sections of the ELF files unpacked (Debian's -dbg vmlinux
    goes from 590 MB to 83 MB and keeps its code and symbol table, all kp-build reads)."""
    dest = package_dir(package, version, only, strip_debug)
    if (dest / COMPLETE).exists():
        return dest
    with lock(cache_dir() / "locks" / f"{dest.name}.lock"):
        if (dest / COMPLETE).exists():
            return dest
        shutil.rmtree(dest, ignore_errors=True)
        with WorkDir("fetch") as work:
            start = time.monotonic()
            _download(package, version, work.path)
            debs = list(work.path.glob("*.deb"))
            if len(debs) != 1:
                raise ArchiveError(f"downloading {package} {version}: apt-get download "
                                   f"left {len(debs)} .deb files")
            size = debs[0].stat().st_size
            took = time.monotonic() - start
            unpack = work.path / "root"
            unpack.mkdir()
            _unpack(debs[0], unpack, only)
            if strip_debug:
                _strip_debug(unpack)
            _publish(unpack, dest, f"{package} {version} {size} bytes {took:.1f} s", log,
                     f"fetched {package} {version}: {size / 1e6:.1f} MB in {took:.1f} s")
    return dest


def _publish(work: Path, dest: Path, marker: str, log, done: str) -> None:
    """Marks @work complete and moves it to @dest in one rename: a reader sees a whole
    directory or none."""
    (work / COMPLETE).write_text(marker + "\n")
    dest.parent.mkdir(parents=True, exist_ok=True)
    work.rename(dest)
    if log:
        log(f"debian: {done}")


def _download(package: str, version: str, into: Path) -> None:
    try:
        proc = subprocess.run(["apt-get", *APT_OPTIONS, "download", f"{package}={version}"],
                              cwd=into,
                              capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise ArchiveError(f"downloading {package} {version}: not done after "
                           f"{DOWNLOAD_TIMEOUT:.0f} s; is the archive reachable?") from None
    if proc.returncode != 0:
        errs = [l for l in proc.stderr.splitlines() if l.startswith("E:")] or \
               proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"]
        raise ArchiveError(f"downloading {package} {version}: {errs[-1]}")


def _unpack(deb: Path, into: Path, only: list[str] | None) -> None:
    if not only:
        _run(["dpkg-deb", "-x", str(deb), str(into)], DOWNLOAD_TIMEOUT, f"unpacking {deb.name}")
        return
    fsys = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    try:
        tar = subprocess.run(["tar", "-x", "-C", str(into), *only], stdin=fsys.stdout,
                             capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT)
    finally:
        fsys.stdout.close()
        fsys.wait()
    if tar.returncode != 0:
        raise ArchiveError(f"unpacking {deb.name}: {tar.stderr.strip().splitlines()[-1]}")


def _strip_debug(root: Path) -> None:
    for f in root.rglob("*"):
        if f.is_symlink() or not f.is_file():
            continue
        with open(f, "rb") as fh:
            if fh.read(4) != b"\x7fELF":
                continue
        tmp = f.with_name(f.name + ".stripped")
        # The DWARF sections only: `objcopy --strip-debug` also drops the STT_FILE symbols,
        # which tell apart same-named locals of different files (diffgen's counterpart).
        _run(["objcopy", "--remove-section=.debug*", str(f), str(tmp)], DOWNLOAD_TIMEOUT,
             f"stripping {f.name}")
        tmp.replace(f)


# --- the kernel source ------------------------------------------------------------------

def source_tarball(package: str, version: str, log=None) -> Path:
    """The tarball of linux-source-X.Y=version: the installed one when the installed package
    has that version, else the package's, fetched (the tarball alone)."""
    name = f"{package}.tar.xz"
    installed = Path("/usr/src") / name
    if installed_version(package) == version and installed.exists():
        return installed
    return fetch(package, version, only=[f"./usr/src/{name}"], log=log) / "usr" / "src" / name


def source_tree(package: str, version: str, log=None) -> Path:
    """Debian's source of package=version (linux-source-X.Y), extracted once into the cache
    (as a user would: `tar xf /usr/src/linux-source-X.Y.tar.xz`); returns the tree."""
    top = cache_dir() / "sources" / f"{package}_{version}"
    tree = top / package
    if (top / COMPLETE).exists():
        return tree
    with lock(cache_dir() / "locks" / f"{top.name}.lock"):
        if (top / COMPLETE).exists():
            return tree
        tarball = source_tarball(package, version, log)
        shutil.rmtree(top, ignore_errors=True)
        with WorkDir("source") as work:
            start = time.monotonic()
            out = work.path / "top"
            out.mkdir()
            _run(["tar", "-xf", str(tarball), "-C", str(out)], DOWNLOAD_TIMEOUT,
                 f"extracting {tarball}")
            if not (out / package / "Makefile").exists():
                raise ArchiveError(f"{tarball} has no {package}/Makefile")
            _publish(out, top, str(tarball), log,
                     f"extracted {tarball} in {time.monotonic() - start:.1f} s")
    return tree


def _file_digest(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def tarball_manifest(tarball: Path, package: str, version: str) -> dict[str, str]:
    """{path below the tarball's top directory: digest} for every regular file and symlink
    of the tarball (a symlink's digest is 'link:' + its target), computed once per package
    version and tarball and kept in the cache."""
    st = tarball.stat()
    memo = cache_dir() / "manifests" / f"{package}_{version}-{st.st_size}-{st.st_mtime_ns}"
    if memo.exists():
        return dict(line.split(" ", 1)[::-1] for line in memo.read_text().splitlines())
    manifest: dict[str, str] = {}
    prefix = package + "/"
    with subprocess.Popen(["xz", "-dc", str(tarball)], stdout=subprocess.PIPE) as xz:
        with tarfile.open(fileobj=xz.stdout, mode="r|") as tar:
            for m in tar:
                name = m.name[2:] if m.name.startswith("./") else m.name
                if not name.startswith(prefix):
                    continue
                rel = name[len(prefix):]
                if m.issym():
                    manifest[rel] = "link:" + m.linkname
                elif m.isfile():
                    h = hashlib.sha1()
                    f = tar.extractfile(m)
                    while chunk := f.read(1 << 20):
                        h.update(chunk)
                    manifest[rel] = h.hexdigest()
        xz.stdout.close()
    if xz.returncode != 0 or not manifest:
        raise ArchiveError(f"{tarball}: cannot read it (xz exit {xz.returncode}, "
                           f"{len(manifest)} files under {prefix})")
    for old in memo.parent.glob(f"{package}_{version}-*"):
        old.unlink(missing_ok=True)
    _write_atomic(memo, "".join(f"{d} {p}\n" for p, d in sorted(manifest.items())))
    return manifest


def _stat_identity(src: Path, paths) -> str:
    """A digest of the identities (inode, size, mtime, ctime) of paths below src: equal
    while no file changed."""
    h = hashlib.sha1()
    for rel in paths:
        try:
            st = os.lstat(src / rel)
            h.update(f"{rel} {st.st_ino} {st.st_size} {st.st_mtime_ns} {st.st_ctime_ns}\n"
                     .encode())
        except OSError:
            h.update(f"{rel} missing\n".encode())
    return h.hexdigest()


def compare_tree(src: Path, manifest: dict[str, str]) -> tuple[list[str], list[str]]:
    """(files that differ, files that are missing) of src against a tarball manifest."""
    differ, missing = [], []
    for rel, digest in sorted(manifest.items()):
        p = src / rel
        try:
            os.lstat(p)
            if digest.startswith("link:"):
                if not p.is_symlink() or "link:" + os.readlink(p) != digest:
                    differ.append(rel)
            elif p.is_symlink() or not p.is_file() or _file_digest(p) != digest:
                differ.append(rel)
        except FileNotFoundError:
            missing.append(rel)
        except OSError:
            differ.append(rel)
    return differ, missing


def matches(src: Path, package: str, version: str, tarball: Path) -> tuple[bool, str]:
    """Whether src has every file of tarball (package=version) with its bytes; with a short
    account of the differences when not. A match is remembered by src's file identities."""
    manifest = tarball_manifest(tarball, package, version)
    memo = cache_dir() / "identified" / hashlib.sha256(
        f"{src.resolve()}\n{package}\n{version}\n".encode()).hexdigest()[:24]
    ident = _stat_identity(src, sorted(manifest))
    if memo.exists() and memo.read_text().strip() == ident:
        return True, ""
    differ, missing = compare_tree(src, manifest)
    if not differ and not missing:
        _write_atomic(memo, ident + "\n")
        return True, ""
    memo.unlink(missing_ok=True)
    parts = []
    if differ:
        parts.append(f"{len(differ)} file(s) differ ({', '.join(differ[:3])}"
                     f"{', ...' if len(differ) > 3 else ''})")
    if missing:
        parts.append(f"{len(missing)} are missing ({', '.join(missing[:3])}"
                     f"{', ...' if len(missing) > 3 else ''})")
    return False, " and ".join(parts)


def identify(src: Path, package: str, version: str, log=None) -> str:
    """The Debian version of package whose source src is: the installed tarball's version
    when src matches it (no download), else version when src matches that version's
    tarball (fetched). Raises ArchiveError saying how src differs from version's source."""
    if not (src / "Makefile").is_file():
        raise ArchiveError(f"{src} is not a kernel source tree (no Makefile)")
    installed = installed_version(package)
    tarball = Path("/usr/src") / f"{package}.tar.xz"
    if installed and tarball.exists():
        ok, _ = matches(src, package, installed, tarball)
        if ok:
            return installed
        if installed == version:
            _, why = matches(src, package, version, tarball)
            raise ArchiveError(f"{src} is not Debian's {package} {version}: {why}")
    ok, why = matches(src, package, version, source_tarball(package, version, log))
    if ok:
        return version
    raise ArchiveError(f"{src} is not Debian's {package} {version}: {why}")


# --- command line -------------------------------------------------------------------------

def _spec(ap: argparse.ArgumentParser, spec: str) -> tuple[str, str]:
    package, sep, version = spec.partition("=")
    if not sep or not package or not version:
        ap.error(f"wants PACKAGE=VERSION, got {spec!r}")
    return package, version


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="fetch and unpack PACKAGE=VERSION, print the directory")
    f.add_argument("spec")
    f.add_argument("--only", action="append", help="unpack only this tar member (repeatable)")
    f.add_argument("--strip-debug", action="store_true",
                   help="remove the DWARF sections of the unpacked ELF files")
    s = sub.add_parser("source", help="extract linux-source-X.Y=VERSION, print the tree")
    s.add_argument("spec")
    i = sub.add_parser("identify", help="the Debian version of linux-source-X.Y SRC is")
    i.add_argument("src")
    i.add_argument("spec")
    v = sub.add_parser("versions", help="versions the archive offers, newest first")
    v.add_argument("packages", nargs="+")
    sub.add_parser("clean", help="remove what killed runs left in the cache")
    args = ap.parse_args()
    log = functools.partial(print, file=sys.stderr)
    try:
        clean_leftovers(log)
        if args.cmd == "versions":
            found = madison(*args.packages)
            if not any(found.values()) and not _apt_lists_present() and updated_once():
                found = madison(*args.packages)
            for pkg in args.packages:
                for ver in found[pkg]:
                    print(pkg, ver)
        elif args.cmd == "source":
            print(source_tree(*_spec(ap, args.spec), log=log))
        elif args.cmd == "identify":
            print(identify(Path(args.src), *_spec(ap, args.spec), log=log))
        elif args.cmd == "fetch":
            print(fetch(*_spec(ap, args.spec), args.only, log=log,
                        strip_debug=args.strip_debug))
    except ArchiveError as e:
        print(f"debian: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
