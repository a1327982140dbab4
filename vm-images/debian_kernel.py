#!/usr/bin/env python3
"""Debian's own kernels for kp's tests: find a release, fetch its packages, unpack them.

Nothing is installed: each package is fetched with `apt-get download` into a cache
(`$KP_DEBIAN_CACHE`, else `~/.cache/kp-build/debian`) and unpacked there with `dpkg-deb`,
once; later runs use the unpacked tree. Every archive access has a timeout and fails with
one line naming the package and the reason.

No version, ABI number or release is written here: they are derived from the archive.
`cloud_release()` picks the newest `linux-image-<R>-unsigned` of the flavour whose package
version is also a version of `linux-source-<series>` in the archive (so the source that
built it can be fetched too).

    vm-images/debian_kernel.py release [--flavour cloud-amd64]   # prints R and its version
    vm-images/debian_kernel.py fetch PACKAGE=VERSION [--only PATH]... # prints the unpacked dir
    vm-images/debian_kernel.py versions PACKAGE...   # "PACKAGE VERSION" lines, newest first
    vm-images/debian_kernel.py source [--flavour F]  # the release's source, extracted: prints it

kp-build runs the last two for `--kernel RELEASE` (patch-tools/debian_packages.cpp), so the
archive and the cache have this one implementation.
"""
from __future__ import annotations

import argparse
import fcntl
import functools
import hashlib
import lzma
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SOURCE_PACKAGE_PREFIX = "linux-source-"
APT_TIMEOUT = float(os.environ.get("KP_APT_TIMEOUT", "60"))       # apt-cache, apt-get update
DOWNLOAD_TIMEOUT = float(os.environ.get("KP_DOWNLOAD_TIMEOUT", "900"))  # one package
COMPLETE = ".kp-complete"
# Extra apt options (e.g. "-o Acquire::http::Proxy=..."), for tests and unusual networks.
APT_OPTIONS = os.environ.get("KP_APT_OPTIONS", "").split()


class DebianKernelError(Exception):
    """A one-line reason why a Debian kernel could not be found or fetched."""


def cache_dir() -> Path:
    env = os.environ.get("KP_DEBIAN_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "kp-build" / "debian"


def _run(argv: list[str], timeout: float, what: str) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DebianKernelError(f"{what}: no answer after {timeout:.0f} s "
                                f"({' '.join(argv)}); is the archive reachable?") from None
    except FileNotFoundError:
        raise DebianKernelError(f"{what}: {argv[0]} not found (not a Debian system?)") from None
    if proc.returncode != 0:
        msg = [l for l in (proc.stderr or proc.stdout).splitlines()
               if l.strip() and not l.startswith("W: Download is performed unsandboxed")]
        raise DebianKernelError(f"{what}: {' '.join(argv)} failed: "
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
def _updated_once() -> bool:
    """Runs `apt-get update` once per process (root only); True when it ran."""
    if os.geteuid() != 0:
        return False
    _run(["apt-get", *APT_OPTIONS, "update", "-qq"], APT_TIMEOUT * 5, "apt-get update")
    return True


def madison(*packages: str) -> dict[str, list[str]]:
    """Versions of each package the archive offers, newest first (one apt-cache madison,
    remembered in the cache until apt's package lists change: a warm kp-build asks apt
    nothing)."""
    memo = cache_dir() / "madison" / (
        _apt_lists_key() + "-" + hashlib.sha256(" ".join(packages).encode()).hexdigest()[:16])
    if memo.exists():
        out = memo.read_text()
    else:
        out = _run(["apt-cache", *APT_OPTIONS, "madison", *packages], APT_TIMEOUT,
                   f"apt-cache madison {' '.join(packages)}")
        if out.strip():   # an empty answer is not remembered: apt-get update may follow
            memo.parent.mkdir(parents=True, exist_ok=True)
            tmp = memo.with_name(f".{memo.name}.{os.getpid()}")
            tmp.write_text(out)
            tmp.rename(memo)
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


@dataclass(frozen=True)
class Release:
    release: str   # uname -r, e.g. what `linux-image-<release>-unsigned` is named after
    version: str   # the Debian package version of the image (and of the source)
    series: str    # the upstream series the source package is named after

    @property
    def image_package(self) -> str:
        return f"linux-image-{self.release}-unsigned"

    @property
    def dbg_package(self) -> str:
        return f"linux-image-{self.release}-dbg"

    @property
    def headers_package(self) -> str:
        return f"linux-headers-{self.release}"

    @property
    def source_package(self) -> str:
        return SOURCE_PACKAGE_PREFIX + self.series


def source_series() -> str:
    """The series kp targets: from the linux-source package the test kernel uses."""
    names = search_names(r"^linux-source-[0-9]+\.[0-9]+$")
    wanted = os.environ.get("KP_SOURCE_PACKAGE")
    if wanted:
        names = [n for n in names if n == wanted]
    if not names:
        raise DebianKernelError("no linux-source-X.Y package in the archive "
                                "(run 'apt-get update')")
    # The test kernel's tarball names the package (/usr/src/linux-source-X.Y.tar.xz).
    installed = [n for n in names if Path(f"/usr/src/{n}.tar.xz").exists()]
    return (installed or names)[0][len(SOURCE_PACKAGE_PREFIX):]


def pick_release(series: str, flavour: str, source_versions: list[str],
                 images: dict[str, list[str]]) -> Release:
    """The newest image (by package version) whose version is a source version too.
    images: package name -> versions. Pure: the unit of the derivation."""
    pat = re.compile(rf"^linux-image-({re.escape(series)}\.[0-9]+-[0-9]+-"
                     rf"{re.escape(flavour)})-unsigned$")
    best: Release | None = None
    for pkg, versions in images.items():
        m = pat.match(pkg)
        if not m:
            continue
        for v in versions:
            if v in source_versions and (best is None or version_compare(v, best.version) > 0):
                best = Release(m.group(1), v, series)
    if best is None:
        raise DebianKernelError(
            f"no linux-image-{series}.*-{flavour}-unsigned in the archive has the version of "
            f"a {SOURCE_PACKAGE_PREFIX}{series} ({', '.join(source_versions) or 'none'})")
    return best


def _archive_lists(flavour: str) -> tuple[str, list[str], list[str]]:
    series = source_series()
    sources = madison(SOURCE_PACKAGE_PREFIX + series)[SOURCE_PACKAGE_PREFIX + series]
    pkgs = search_names(rf"^linux-image-{re.escape(series)}\..*-{re.escape(flavour)}-unsigned$")
    if not sources or not pkgs:
        raise DebianKernelError(f"apt-cache knows no linux-image-{series}.*-{flavour}-unsigned "
                                f"or {SOURCE_PACKAGE_PREFIX}{series} (run 'apt-get update')")
    return series, sources, pkgs


def _apt_lists_key() -> str:
    """Changes whenever apt's package lists (or the installed source tarballs) change."""
    h = hashlib.sha256()
    for d, pat in ((Path("/var/lib/apt/lists"), "*Packages*"), (Path("/usr/src"), "linux-source-*")):
        for f in sorted(d.glob(pat)) if d.is_dir() else []:
            st = f.stat()
            h.update(f"{f.name} {st.st_size} {st.st_mtime_ns}\n".encode())
    h.update(" ".join(APT_OPTIONS).encode())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def cloud_release(flavour: str = "cloud-amd64") -> Release:
    """Derive the release to test on from the archive (see the module docstring), remembered
    in the cache until apt's package lists change."""
    memo = cache_dir() / "releases" / f"{flavour}-{_apt_lists_key()}"
    if memo.exists():
        parts = memo.read_text().split()
        if len(parts) == 3:
            return Release(*parts)
    rel = _derive_release(flavour)
    memo.parent.mkdir(parents=True, exist_ok=True)
    for old in memo.parent.glob(f"{flavour}-*"):
        old.unlink(missing_ok=True)
    tmp = memo.with_name(f".{memo.name}.{os.getpid()}")
    tmp.write_text(f"{rel.release} {rel.version} {rel.series}\n")
    tmp.rename(memo)
    return rel


def _derive_release(flavour: str) -> Release:
    """When apt-cache knows nothing yet, runs `apt-get update` once (as root) and retries."""
    try:
        series, sources, pkgs = _archive_lists(flavour)
    except DebianKernelError:
        if not _updated_once():
            raise
        series, sources, pkgs = _archive_lists(flavour)
    images = madison(*pkgs)
    return pick_release(series, flavour, sources, images)


def _lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    f = open(path, "w")
    fcntl.flock(f, fcntl.LOCK_EX)
    return f


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
    strip_debug: remove the DWARF of the ELF files unpacked (Debian's -dbg vmlinux goes from
    590 MB to 83 MB and keeps its code and symbol table, all kp-build reads)."""
    dest = package_dir(package, version, only, strip_debug)
    if (dest / COMPLETE).exists():
        return dest
    with _lock(cache_dir() / "locks" / f"{dest.name}.lock"):
        if (dest / COMPLETE).exists():
            return dest
        shutil.rmtree(dest, ignore_errors=True)
        cache_dir().mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="fetch-", dir=cache_dir()) as tmp:
            start = time.monotonic()
            _download(package, version, tmp)
            debs = list(Path(tmp).glob("*.deb"))
            if len(debs) != 1:
                raise DebianKernelError(f"downloading {package} {version}: apt-get download "
                                        f"left {len(debs)} .deb files")
            size = debs[0].stat().st_size
            took = time.monotonic() - start
            unpack = Path(tmp) / "root"
            unpack.mkdir()
            _unpack(debs[0], unpack, only)
            if strip_debug:
                _strip_debug(unpack)
            (unpack / COMPLETE).write_text(f"{package} {version} {size} bytes {took:.1f} s\n")
            dest.parent.mkdir(parents=True, exist_ok=True)
            unpack.rename(dest)
            if log:
                log(f"debian: fetched {package} {version}: {size / 1e6:.1f} MB in {took:.1f} s")
    return dest


def _download(package: str, version: str, into: str) -> None:
    try:
        proc = subprocess.run(["apt-get", *APT_OPTIONS, "download", f"{package}={version}"],
                              cwd=into,
                              capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise DebianKernelError(f"downloading {package} {version}: not done after "
                                f"{DOWNLOAD_TIMEOUT:.0f} s; is the archive reachable?") from None
    if proc.returncode != 0:
        errs = [l for l in proc.stderr.splitlines() if l.startswith("E:")] or \
               proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"]
        raise DebianKernelError(f"downloading {package} {version}: {errs[-1]}")


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
        raise DebianKernelError(f"unpacking {deb.name}: {tar.stderr.strip().splitlines()[-1]}")


def installed_version(package: str) -> str:
    proc = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status} ${Version}", package],
                          capture_output=True, text=True)
    status, _, version = proc.stdout.partition(" ")
    return version if proc.returncode == 0 and status == "installed" else ""


def source_tree(rel: Release, log=None) -> Path:
    """Debian's source of rel, extracted once into the cache, with its Debian version in
    .kp-debian-version (the tarball has no debian/changelog; kp-build reads this file).
    The installed /usr/src tarball is used when its package has that version, else the
    linux-source package of that version is fetched."""
    top = cache_dir() / "sources" / f"{rel.source_package}_{rel.version}"
    tree = top / rel.source_package
    if (top / COMPLETE).exists():
        return tree
    name = f"{rel.source_package}.tar.xz"
    with _lock(cache_dir() / "locks" / f"{top.name}.lock"):
        if (top / COMPLETE).exists():
            return tree
        tarball = Path("/usr/src") / name
        if installed_version(rel.source_package) != rel.version or not tarball.exists():
            pkg = fetch(rel.source_package, rel.version, only=[f"./usr/src/{name}"], log=log)
            tarball = pkg / "usr" / "src" / name
        shutil.rmtree(top, ignore_errors=True)
        tmp = top.with_name(top.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        start = time.monotonic()
        _run(["tar", "-xf", str(tarball), "-C", str(tmp)], DOWNLOAD_TIMEOUT,
             f"extracting {tarball}")
        if not (tmp / rel.source_package / "Makefile").exists():
            raise DebianKernelError(f"{tarball} has no {rel.source_package}/Makefile")
        (tmp / rel.source_package / ".kp-debian-version").write_text(rel.version + "\n")
        (tmp / COMPLETE).write_text(f"{tarball}\n")
        tmp.rename(top)
        if log:
            log(f"debian: extracted {tarball} in {time.monotonic() - start:.1f} s")
    return tree


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


@dataclass(frozen=True)
class VmKernel:
    """What the VM runner needs from Debian's image package."""
    release: Release
    root: Path          # the unpacked image package

    @property
    def vmlinuz(self) -> Path:
        return self.root / "boot" / f"vmlinuz-{self.release.release}"

    @property
    def config(self) -> Path:
        return self.root / "boot" / f"config-{self.release.release}"

    @property
    def modules_dir(self) -> Path:
        return self.root / "lib" / "modules" / self.release.release


def vm_kernel(flavour: str = "cloud-amd64", log=None) -> VmKernel:
    rel = cloud_release(flavour)
    root = fetch(rel.image_package, rel.version, log=log)
    k = VmKernel(rel, root)
    if not k.vmlinuz.exists():
        raise DebianKernelError(f"{rel.image_package} {rel.version} has no {k.vmlinuz.name}")
    _depmod(k)
    return k


def abi_number(release: str) -> int:
    """`6.1.0-57-cloud-amd64` -> 57, the ABI Debian bumps when the kernel's ABI changes."""
    m = re.match(r"\d+\.\d+\.\d+-(\d+)-", release)
    if not m:
        raise DebianKernelError(f"{release} is not a Debian kernel release")
    return int(m.group(1))


def other_abi_vmlinuz(rel: Release, log=None) -> tuple[Release, Path]:
    """Debian's vmlinuz of the newest other ABI of rel's flavour (e.g. 6.1.0-56 beside
    6.1.0-57): a kernel whose modules are not rel's. Only the vmlinuz is unpacked."""
    flavour = rel.release.split("-", 2)[2]
    names = search_names(rf"^linux-image-{re.escape(rel.series)}\..*-{re.escape(flavour)}"
                         rf"-unsigned$")
    others = []
    for name in names:
        r = name[len("linux-image-"):-len("-unsigned")]
        if r != rel.release and abi_number(r) < abi_number(rel.release):
            others.append(r)
    if not others:
        raise DebianKernelError(f"the archive has no other {flavour} ABI than {rel.release}")
    other = max(others, key=abi_number)
    pkg = f"linux-image-{other}-unsigned"
    versions = madison(pkg).get(pkg) or []
    if not versions:
        raise DebianKernelError(f"apt-cache has no version of {pkg}")
    version = max(versions, key=functools.cmp_to_key(version_compare))
    member = f"./boot/vmlinuz-{other}"
    root = fetch(pkg, version, only=[member], log=log)
    return Release(other, version, rel.series), root / member


def _depmod(k: VmKernel) -> None:
    """The package ships no modules.dep (the postinst makes it): run depmod in the cache."""
    dep = k.modules_dir / "modules.dep"
    if dep.exists():
        return
    with _lock(cache_dir() / "locks" / f"depmod-{k.release.release}.lock"):
        if dep.exists():
            return
        _run(["depmod", "-b", str(k.root), k.release.release], APT_TIMEOUT,
             f"depmod for {k.release.release}")
        if not dep.exists():
            raise DebianKernelError(f"depmod wrote no {dep}")


def parse_modules_dep(text: str) -> dict[str, list[str]]:
    """modules.dep -> {relative path: [dependency paths]}."""
    deps: dict[str, list[str]] = {}
    for line in text.splitlines():
        if ":" not in line:
            continue
        mod, _, rest = line.partition(":")
        deps[mod.strip()] = rest.split()
    return deps


def module_name(path: str) -> str:
    base = path.rsplit("/", 1)[-1]
    base = re.sub(r"\.ko(\.(xz|zst|gz))?$", "", base)
    return base.replace("-", "_")


def module_closure(deps: dict[str, list[str]], names: list[str]) -> list[str]:
    """The module paths `names` need, dependencies first (load order)."""
    by_name = {module_name(p): p for p in deps}
    order: list[str] = []

    def visit(path: str, stack: tuple[str, ...]) -> None:
        if path in order:
            return
        if path in stack:
            raise DebianKernelError(f"modules.dep: dependency cycle through {path}")
        for d in deps.get(path, []):
            visit(d, stack + (path,))
        order.append(path)

    for n in names:
        path = by_name.get(n.replace("-", "_"))
        if path is None:
            raise DebianKernelError(f"module {n} is not in modules.dep (built in, or not in "
                                    f"this flavour?)")
        visit(path, ())
    return order


def guest_modules(k: VmKernel, names: list[str], work: Path) -> dict[str, Path]:
    """Guest path -> host file for modules `names` and their dependencies, decompressed, with
    a modules.dep of just those, so `modprobe NAME` works in the guest."""
    deps = parse_modules_dep((k.modules_dir / "modules.dep").read_text())
    paths = module_closure(deps, names)
    work.mkdir(parents=True, exist_ok=True)
    guest_root = f"/lib/modules/{k.release.release}"
    files: dict[str, Path] = {}
    plain = {p: re.sub(r"\.(xz|zst|gz)$", "", p) for p in paths}
    for p in paths:
        src = k.modules_dir / p
        if p.endswith(".ko"):
            files[f"{guest_root}/{p}"] = src
            continue
        if not p.endswith(".ko.xz"):
            raise DebianKernelError(f"{p}: only .ko and .ko.xz modules are supported")
        out = work / plain[p]
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(lzma.decompress(src.read_bytes()))
        files[f"{guest_root}/{plain[p]}"] = out
    dep_file = work / "modules.dep"
    dep_file.write_text("".join(f"{plain[p]}: {' '.join(plain[d] for d in deps[p])}\n"
                                for p in paths))
    files[f"{guest_root}/modules.dep"] = dep_file
    return files


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("release", help="print the derived release and its package version")
    r.add_argument("--flavour", default="cloud-amd64")
    f = sub.add_parser("fetch", help="fetch and unpack PACKAGE=VERSION, print the directory")
    f.add_argument("spec")
    f.add_argument("--only", action="append", help="unpack only this tar member (repeatable)")
    f.add_argument("--strip-debug", action="store_true",
                   help="remove the DWARF of the unpacked ELF files (objcopy --strip-debug)")
    t = sub.add_parser("source", help="extract the derived release's source, print the tree")
    t.add_argument("--flavour", default="cloud-amd64")
    v = sub.add_parser("versions", help="versions the archive offers, newest first")
    v.add_argument("packages", nargs="+")
    args = ap.parse_args()
    try:
        if args.cmd == "versions":
            found = madison(*args.packages)
            if not any(found.values()) and not _apt_lists_present() and _updated_once():
                found = madison(*args.packages)
            for pkg in args.packages:
                for ver in found[pkg]:
                    print(pkg, ver)
        elif args.cmd == "source":
            print(source_tree(cloud_release(args.flavour),
                              log=lambda m: print(m, file=sys.stderr)))
        elif args.cmd == "release":
            rel = cloud_release(args.flavour)
            print(rel.release, rel.version)
        else:
            package, sep, version = args.spec.partition("=")
            if not sep or not version:
                ap.error(f"fetch wants PACKAGE=VERSION, got {args.spec!r}")
            print(fetch(package, version, args.only,
                        log=lambda m: print(m, file=sys.stderr), strip_debug=args.strip_debug))
    except DebianKernelError as e:
        print(f"debian_kernel: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
