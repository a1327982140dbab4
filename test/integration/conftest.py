"""pytest fixtures for kp's QEMU integration tests.

`vm`            boots the test kernel with the given files and runs one guest script.
`build_module`  builds an out-of-tree module with Kbuild against the test kernel.
`kmods`         kp_core.ko, the test targets and hand-written patches (make -C kmod).
`kpctl_bin`     the kpctl guests run; `guest_tools` the static helpers of guest-tools/.

Paths and tools: paths.py.  `make integration` runs two pytest-xdist workers (each boots
its own VMs): what writes shared files is done once for all workers (`paths.once`) or
serialised (`paths.file_lock`); what a worker builds for itself goes under its own
tmp_path_factory.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ci_skips import pytest_sessionfinish  # noqa: F401 (the hook)
from schedule import pytest_collection_modifyitems, pytest_configure  # noqa: F401 (hooks)
from paths import BUILD, HERE, KDIR, file_lock, kpvm, once, run_dir, tool


class Vm:
    """One test's handle on the VM runner; each run() is one fresh boot."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.runs = 0

    def run(self, script: str, files: dict[str, str | Path] | None = None,
            timeout: float = 120, check: bool = True, append: str = "",
            expect_faults: bool = False, smp: int = 2) -> kpvm.VmResult:
        """expect_faults: the script brackets the faults it provokes (kpvm.FAULTS_BEGIN);
        smp: the guest's vCPUs."""
        self.runs += 1
        result = kpvm.run(script, files, timeout=timeout, append=append,
                          log_dir=self.log_dir / f"run{self.runs}",
                          expect_faults=expect_faults, smp=smp)
        if check and not result.ok:
            pytest.fail(result.describe(), pytrace=False)
        return result


@pytest.fixture(scope="session")
def kpctl_bin() -> Path:
    """The kpctl guests run: build/bin/kpctl, or $KPCTL_BIN."""
    return tool("kpctl")


@pytest.fixture(scope="session")
def guest_tools(tmp_path_factory) -> dict[str, Path]:
    """Static helper programs for guest checks (guest-tools/*.c): guest path -> binary."""
    out_dir = tmp_path_factory.mktemp("guest-tools")
    tools = {}
    for src in sorted((HERE / "guest-tools").glob("*.c")):
        exe = out_dir / src.stem
        subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-static", "-pthread",
                        "-o", str(exe), str(src)], check=True)
        tools[f"/kp/bin/{src.stem}"] = exe
    return tools


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
def kmods(kernel_tree, tmp_path_factory) -> dict[str, Path]:
    """Every kp kernel module, built once for all workers (make -C kmod writes kmod/ and
    build/kmod); module name -> .ko path.  `make integration` sets $KP_KMOD_BUILT: its
    `modules` prerequisite has just run the same make (which rebuilds every hand-written
    patch module each time: ~2 min cold)."""
    from kmod_guest import build_kmods, built_kmods
    if not os.environ.get("KP_KMOD_BUILT"):
        once(tmp_path_factory, "kmods", lambda: build_kmods(kernel_tree))
    mods = built_kmods()
    if not mods["kp_core"].exists():
        pytest.fail(f"{mods['kp_core']} not built: run 'make modules'", pytrace=False)
    return mods


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
def debian(tmp_path_factory):
    """Debian's own cloud kernel of the derived release (debian_kernel.py): its image
    package fetched and unpacked into the VM side's cache (not kp-build's), never
    installed.  One worker at a time (apt-get update refuses to run twice at once); the
    next finds it in the cache."""
    import debian_kernel as dk
    try:
        with file_lock(run_dir(tmp_path_factory) / "debian.lock"):
            return dk.vm_kernel("cloud-amd64", log=print)
    except dk.DebianKernelError as e:
        pytest.fail(f"Debian's cloud kernel is not available: {e}", pytrace=False)


@pytest.fixture(scope="session")
def debian_source(debian, tmp_path_factory) -> Path:
    """Debian's source of that release as a user has it: the linux-source tarball of the
    release's version extracted with tar, nothing added (kept in the VM side's cache)."""
    import debian_kernel as dk
    try:
        with file_lock(run_dir(tmp_path_factory) / "debian.lock"):
            return dk.source_tree(debian.release,
                                  dk.cache_dir() / "user-sources" / debian.release.version,
                                  log=print)
    except dk.DebianKernelError as e:
        pytest.fail(f"Debian's source is not available: {e}", pytrace=False)


@pytest.fixture(scope="session")
def kp_build_cache(tmp_path_factory) -> Path:
    """kp-build's cache for the Debian tests of this run, empty at its start: they start
    where a user starts. Shared by the xdist workers of one run (kp-build locks it)."""
    path = run_dir(tmp_path_factory) / "kp-build-cache"
    path.mkdir(exist_ok=True)
    return path
