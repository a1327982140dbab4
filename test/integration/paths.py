"""Where the integration tests find the repository, the build, the test kernel and the tools,
and the one way they run kp-build.  Every test module takes these from here.

Environment: $KP_BUILD_DIR moves build/ (as for vm-images/kpvm.py); $KP_BIN moves build/bin;
$KP_BUILD_BIN and $KPCTL_BIN name another kp-build or kpctl.

Several pytest workers (pytest-xdist, `make integration`) may run at once: `once` does a
piece of work for all of them (the first does it, the others wait), `file_lock` serialises
what they must not do together, and kp-build runs on the shared cache hold `CACHE_LOCK`
shared, so that a test that needs the cache to itself (eviction) can take it exclusively.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = REPO / "test/integration"
sys.path.insert(0, str(REPO / "vm-images"))
import kpvm  # noqa: E402

BUILD = kpvm.BUILD                  # build/, or $KP_BUILD_DIR
KDIR = kpvm.KERNEL_TREE             # the test kernel (make kernel)
BIN = Path(os.environ.get("KP_BIN", BUILD / "bin"))
KMOD = REPO / "kmod"
KMOD_OUT = BUILD / "kmod"           # make -C kmod's hand-written patch modules
TARGETS = HERE / "modules/targets"  # and its test targets
PATCHES = HERE / "patches"          # the end-to-end catalogue
DEMO_FIX = REPO / "docs/examples/fix-uname-machine.patch"
# kp-build's cache for the test kernel, shared with `make fs-tree` and `make demo`: its
# original build is done once.
CACHE = BUILD / "kp-build-cache"
CACHE_LOCK = BUILD / "kp-build-cache.tests.lock"

TOOL_OVERRIDES = {"kp-build": "KP_BUILD_BIN", "kpctl": "KPCTL_BIN"}


def tool(name: str) -> Path:
    """A tool built by `make all`, where the README says it is (build/bin)."""
    env = TOOL_OVERRIDES.get(name)
    path = Path(os.environ.get(env) or BIN / name) if env else BIN / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        hint = f" (or set ${env})" if env else ""
        pytest.fail(f"{path} not built: run 'make all'{hint}", pytrace=False)
    return path


@contextlib.contextmanager
def file_lock(path: Path, exclusive: bool = True) -> Iterator[None]:
    """flock(2) on @path, for as long as the block runs (shared when not @exclusive)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield


_cache_held = False  # this process holds CACHE_LOCK exclusively (cache_to_itself)


@contextlib.contextmanager
def cache_to_itself() -> Iterator[None]:
    """No kp-build of another worker runs on the shared cache while the block runs (a test
    of what a run removes from the cache)."""
    global _cache_held
    with file_lock(CACHE_LOCK):
        _cache_held = True
        try:
            yield
        finally:
            _cache_held = False


def run_dir(tmp_path_factory) -> Path:
    """The temporary directory of this test run, the same for every xdist worker."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def once(tmp_path_factory, name: str, work: Callable[[], None]) -> None:
    """Run @work once in this test run, in whichever worker comes first; the others wait for
    it.  A @work that fails leaves nothing done: the next worker tries (and fails) itself."""
    shared = run_dir(tmp_path_factory)
    with file_lock(shared / f"{name}.lock"):
        done = shared / f"{name}.done"
        if not done.exists():
            work()
            done.touch()


def kp_build(*args: str | Path, timeout: float = 1800,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """kp-build ARGS...; on the shared cache (`--cache-dir CACHE`) it holds CACHE_LOCK shared."""
    argv = [str(a) for a in args]
    shared_cache = "--cache-dir" in argv and Path(argv[argv.index("--cache-dir") + 1]) == CACHE
    lock = (file_lock(CACHE_LOCK, exclusive=False) if shared_cache and not _cache_held
            else contextlib.nullcontext())
    with lock:
        return subprocess.run([str(tool("kp-build")), *argv], capture_output=True, text=True,
                              timeout=timeout, env=env)


def kp_build_test_kernel(patches: list[Path], out: Path, *extra: str | Path,
                         timeout: float = 3600,
                         env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """kp-build of @patches for the test kernel (build/linux) in the shared cache."""
    args: list[str | Path] = ["--src", KDIR, "--cache-dir", CACHE, "-o", out, "-j2"]
    for p in patches:
        args += ["--patch", p]
    return kp_build(*args, *extra, timeout=timeout, env=env)
