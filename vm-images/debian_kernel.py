#!/usr/bin/env python3
"""Debian's own kernels for kp's tests and demos: which release to test on, its image for
the VM runner, and the source a user would have.

The archive access is kp-build's own (patch-tools/debian_archive.py: one implementation),
but this side keeps its own cache (`$KP_VM_CACHE`, else `~/.cache/kp-vm/debian`): nothing
here writes into kp-build's cache or into a source tree, so every test of kp-build starts
from what a user has.

No version, ABI number or release is written here: they are derived from the archive.
`cloud_release()` picks the newest `linux-image-<R>-unsigned` of the flavour whose package
version is also a version of `linux-source-<series>` in the archive (so the source that
built it can be fetched too). The series is the test kernel's (the installed linux-source
tarball) unless one is asked for (`--series 6.12`). Release names follow 6.1's scheme
(`6.1.0-57-cloud-amd64`: series, ABI, flavour) or 6.12's (`6.12.118+deb12-cloud-amd64`:
series and sublevel, Debian release, flavour).

    vm-images/debian_kernel.py release [--flavour cloud-amd64] [--series 6.12]  # R, version
    vm-images/debian_kernel.py source [--flavour F] DIR  # extracts the release's source into
                                                         # DIR the Debian way; prints the tree
"""
from __future__ import annotations

import argparse
import functools
import lzma
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "patch-tools"))
import debian_archive as archive  # noqa: E402
from debian_archive import ArchiveError as DebianKernelError  # noqa: E402,F401

SOURCE_PACKAGE_PREFIX = "linux-source-"


def cache_dir() -> Path:
    env = os.environ.get("KP_VM_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "kp-vm" / "debian"


archive.use_cache(cache_dir())
madison = archive.madison
search_names = archive.search_names
version_compare = archive.version_compare
fetch = archive.fetch
_run = archive._run


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
    pat = re.compile(rf"^linux-image-({re.escape(series)}\.[0-9]+(?:-[0-9]+|\+deb[0-9]+)-"
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


def _archive_lists(flavour: str, series: str | None) -> tuple[str, list[str], list[str]]:
    series = series or source_series()
    sources = madison(SOURCE_PACKAGE_PREFIX + series)[SOURCE_PACKAGE_PREFIX + series]
    pkgs = search_names(rf"^linux-image-{re.escape(series)}\..*-{re.escape(flavour)}-unsigned$")
    if not sources or not pkgs:
        raise DebianKernelError(f"apt-cache knows no linux-image-{series}.*-{flavour}-unsigned "
                                f"or {SOURCE_PACKAGE_PREFIX}{series} (run 'apt-get update')")
    return series, sources, pkgs


@functools.lru_cache(maxsize=None)
def cloud_release(flavour: str = "cloud-amd64", series: str | None = None) -> Release:
    """Derive the release to test on from the archive (see the module docstring), remembered
    in the cache until apt's package lists change. series: "6.12" for example; None, the
    test kernel's."""
    memos = cache_dir() / "releases" / series if series else cache_dir() / "releases"
    memo = memos / f"{flavour}-{archive.apt_lists_key()}"
    if memo.exists():
        parts = memo.read_text().split()
        if len(parts) == 3:
            return Release(*parts)
    rel = _derive_release(flavour, series)
    memo.parent.mkdir(parents=True, exist_ok=True)
    for old in memo.parent.glob(f"{flavour}-*"):
        old.unlink(missing_ok=True)
    tmp = memo.with_name(f".{memo.name}.{os.getpid()}")
    tmp.write_text(f"{rel.release} {rel.version} {rel.series}\n")
    tmp.rename(memo)
    return rel


def _derive_release(flavour: str, series: str | None) -> Release:
    """When apt-cache knows nothing yet, runs `apt-get update` once (as root) and retries."""
    try:
        series, sources, pkgs = _archive_lists(flavour, series)
    except DebianKernelError:
        if not archive.updated_once():
            raise
        series, sources, pkgs = _archive_lists(flavour, series)
    images = madison(*pkgs)
    return pick_release(series, flavour, sources, images)


def source_tree(rel: Release, into: Path, log=None) -> Path:
    """Debian's source of rel extracted into `into` the way Debian ships it (the
    linux-source-X.Y tarball of rel's version, `tar xf`), as a user's tree: nothing is added
    to it. The tarball is the installed one when its package has that version, else fetched
    into this side's cache. Returns into/linux-source-X.Y; an existing complete one is kept."""
    tree = into / rel.source_package
    done = into / f".{rel.source_package}-{rel.version}.extracted"
    if done.exists() and (tree / "Makefile").exists():
        return tree
    tarball = archive.source_tarball(rel.source_package, rel.version, log)
    shutil.rmtree(tree, ignore_errors=True)
    into.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    _run(["tar", "-xf", str(tarball), "-C", str(into)], archive.DOWNLOAD_TIMEOUT,
         f"extracting {tarball}")
    if not (tree / "Makefile").exists():
        raise DebianKernelError(f"{tarball} has no {rel.source_package}/Makefile")
    done.write_text(f"{tarball}\n")
    if log:
        log(f"debian: extracted {tarball} in {time.monotonic() - start:.1f} s")
    return tree


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


def vm_kernel(flavour: str = "cloud-amd64", log=None, series: str | None = None) -> VmKernel:
    rel = cloud_release(flavour, series)
    root = fetch(rel.image_package, rel.version, log=log)
    k = VmKernel(rel, root)
    if not k.vmlinuz.exists():
        raise DebianKernelError(f"{rel.image_package} {rel.version} has no {k.vmlinuz.name}")
    _depmod(k)
    return k


# A Debian kernel release: 6.1's `6.1.0-57-cloud-amd64` (series, ABI, flavour) or 6.12's
# `6.12.118+deb12-cloud-amd64` (series and sublevel, Debian release, flavour).
RELEASE_NAME = re.compile(r"^\d+\.\d+\.(\d+)(?:-(\d+)|\+deb\d+)-(.+)$")


def abi_number(release: str) -> int:
    """The number Debian bumps when the kernel's ABI changes: `6.1.0-57-cloud-amd64` -> 57;
    6.12's releases name no ABI, each sublevel is a new one: `6.12.118+deb12-...` -> 118."""
    m = RELEASE_NAME.match(release)
    if not m:
        raise DebianKernelError(f"{release} is not a Debian kernel release")
    return int(m.group(2) if m.group(2) is not None else m.group(1))


def flavour_of(release: str) -> str:
    """`6.1.0-57-cloud-amd64` and `6.12.118+deb12-cloud-amd64` -> `cloud-amd64`."""
    m = RELEASE_NAME.match(release)
    if not m:
        raise DebianKernelError(f"{release} is not a Debian kernel release")
    return m.group(3)


def other_abi_vmlinuz(rel: Release, log=None) -> tuple[Release, Path]:
    """Debian's vmlinuz of the newest other ABI of rel's flavour (e.g. 6.1.0-56 beside
    6.1.0-57, 6.12.117+deb12 beside 6.12.118+deb12): a kernel whose modules are not rel's.
    Only the vmlinuz is unpacked."""
    flavour = flavour_of(rel.release)
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
    with archive.lock(cache_dir() / "locks" / f"depmod-{k.release.release}.lock"):
        if dep.exists():
            return
        _run(["depmod", "-b", str(k.root), k.release.release], archive.APT_TIMEOUT,
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
    r.add_argument("--series", help="e.g. 6.12 (default: the test kernel's)")
    t = sub.add_parser("source", help="extract the derived release's source into DIR, print "
                                      "the tree")
    t.add_argument("--flavour", default="cloud-amd64")
    t.add_argument("--series", help="e.g. 6.12 (default: the test kernel's)")
    t.add_argument("dir")
    args = ap.parse_args()
    try:
        if args.cmd == "source":
            print(source_tree(cloud_release(args.flavour, args.series), Path(args.dir).resolve(),
                              log=lambda m: print(m, file=sys.stderr)))
        else:
            rel = cloud_release(args.flavour, args.series)
            print(rel.release, rel.version)
    except DebianKernelError as e:
        print(f"debian_kernel: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
