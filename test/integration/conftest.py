"""pytest fixtures for kp's QEMU integration tests.

`vm`            boots the test kernel with the given files and runs one guest script.
`build_module`  builds an out-of-tree module with Kbuild against the test kernel.
`kmods`         kp_core.ko, the test targets and hand-written patches (make -C kmod).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "vm-images"))
import kpvm  # noqa: E402

BUILD = kpvm.BUILD
KDIR = kpvm.KERNEL_TREE


def in_ci() -> bool:
    return os.environ.get("CI", "") not in ("", "0", "false")


def pytest_sessionfinish(session, exitstatus):
    """In CI a skipped test is a failure: everything a test needs is there, so a skip means
    a test silently did not run."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if in_ci() and skipped and exitstatus == 0:
        reporter.ensure_newline()
        for report in skipped:
            reporter.write_line(f"ci: skipped in CI, counted as a failure: {report.nodeid}")
        session.exitstatus = 1


class Vm:
    """One test's handle on the VM runner; each run() is one fresh boot."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.runs = 0

    def run(self, script: str, files: dict[str, str | Path] | None = None,
            timeout: float = 120, check: bool = True, append: str = "",
            expect_faults: bool = False) -> kpvm.VmResult:
        """expect_faults: the script brackets the faults it provokes (kpvm.FAULTS_BEGIN)."""
        self.runs += 1
        result = kpvm.run(script, files, timeout=timeout, append=append,
                          log_dir=self.log_dir / f"run{self.runs}",
                          expect_faults=expect_faults)
        if check and not result.ok:
            pytest.fail(result.describe(), pytrace=False)
        return result


@pytest.fixture(scope="session")
def kpctl_bin() -> Path:
    """The kpctl guests run: build/bin/kpctl, or $KPCTL_BIN."""
    path = Path(os.environ.get("KPCTL_BIN", BUILD / "bin/kpctl"))
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{path} not built: run 'make all' (or set KPCTL_BIN)", pytrace=False)
    return path


@pytest.fixture(scope="session")
def kernel_tree() -> Path:
    if not (KDIR / "arch/x86/boot/bzImage").exists():
        pytest.fail(f"test kernel not built in {KDIR}: run 'make kernel'", pytrace=False)
    return KDIR


@pytest.fixture
def vm(kernel_tree, request) -> Vm:
    name = request.node.name.replace("/", "_").replace("[", "_").replace("]", "")
    log_dir = BUILD / "test-logs" / name
    shutil.rmtree(log_dir, ignore_errors=True)
    return Vm(log_dir)


@pytest.fixture(scope="session")
def kmods(kernel_tree) -> dict[str, Path]:
    """Build every kp kernel module once; map module name -> .ko path."""
    from kmod_guest import build_kmods
    return build_kmods(kernel_tree)


@pytest.fixture(scope="session")
def build_module(kernel_tree, tmp_path_factory):
    """build_module(src_dir) -> Path of the .ko, built in a scratch copy of src_dir."""
    built: dict[Path, Path] = {}

    def build(src: Path, extra: list[str] | None = None) -> Path:
        src = Path(src).resolve()
        if src in built and not extra:
            return built[src]
        work = tmp_path_factory.mktemp(src.name)
        shutil.copytree(src, work, dirs_exist_ok=True)
        cmd = ["make", "-C", str(kernel_tree), f"M={work}", f"-j{os.cpu_count() or 1}",
               "modules"] + (extra or [])
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.fail(f"module build failed in {src}:\n{proc.stdout}\n{proc.stderr}",
                        pytrace=False)
        kos = sorted(work.glob("*.ko"))
        if len(kos) != 1:
            pytest.fail(f"expected one .ko from {src}, got {kos}", pytrace=False)
        built[src] = kos[0]
        return kos[0]

    return build


@pytest.fixture(scope="session")
def debian():
    """Debian's own cloud kernel of the derived release (debian_kernel.py): its image
    package fetched and unpacked into the VM side's cache (not kp-build's), never
    installed."""
    import debian_kernel as dk
    try:
        return dk.vm_kernel("cloud-amd64", log=print)
    except dk.DebianKernelError as e:
        pytest.fail(f"Debian's cloud kernel is not available: {e}", pytrace=False)


@pytest.fixture(scope="session")
def debian_source(debian) -> Path:
    """Debian's source of that release as a user has it: the linux-source tarball of the
    release's version extracted with tar, nothing added (kept in the VM side's cache)."""
    import debian_kernel as dk
    try:
        return dk.source_tree(debian.release,
                              dk.cache_dir() / "user-sources" / debian.release.version,
                              log=print)
    except dk.DebianKernelError as e:
        pytest.fail(f"Debian's source is not available: {e}", pytrace=False)


@pytest.fixture(scope="session")
def kp_build_cache(tmp_path_factory) -> Path:
    """kp-build's cache for the Debian tests of this run, empty at its start: they start
    where a user starts. Shared by the xdist workers of one run (kp-build locks it)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    path = base / "kp-build-cache"
    path.mkdir(exist_ok=True)
    return path
