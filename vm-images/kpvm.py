#!/usr/bin/env python3
"""kp test VM runner: boot the test kernel in QEMU (TCG) with a busybox initramfs,
run one guest script, and report its exit status, its output and the kernel log.

Used by the pytest fixture in test/integration/conftest.py, by `make demo`, and by hand:

    vm-images/kpvm.py --script test.sh --file /kp/kpctl=build/bin/kpctl [--timeout 120]
    vm-images/kpvm.py --kernel debian-cloud --module vxlan --script test.sh

`--kernel` is a bzImage, or `debian-FLAVOUR` (e.g. debian-cloud): Debian's own kernel of that
flavour, fetched and cached by debian_kernel.py (never installed). `--module NAME` puts that
kernel's module NAME and its dependencies under /lib/modules/<release>/ with a modules.dep
of just those, so the guest can `modprobe NAME`.

The guest runs the script as root with /proc, /sys, /dev, debugfs and tracefs mounted.
Files are placed at the given guest paths; dynamically linked executables get their
shared libraries (from ldd) copied along. QEMU is always killed: on timeout, on error
and on Ctrl-C.
"""
from __future__ import annotations

import argparse
import dataclasses
import gzip
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("KP_BUILD_DIR", REPO / "build"))
KERNEL_TREE = BUILD / "linux"

# Kernel log lines that mean the kernel itself went wrong.
FAILURE_MARKERS = [
    re.compile(p)
    for p in (
        r"\bOops\b",
        r"\bBUG:",
        r"\bWARNING:",
        r"Call Trace:",
        r"Kernel panic",
        r"general protection fault",
        r"rcu: INFO: rcu_\w+ (self-)?detected stall",
        r"rcu_\w+ detected stalls",
        r"INFO: task .* blocked for more than",
        r"possible recursive locking detected",
        r"possible circular locking dependency",
        r"inconsistent lock state",
        r"INFO: possible irq lock inversion",
        r"unable to handle (kernel|page)",
        r"soft lockup",
    )
]

EXIT_RE = re.compile(r"KP-EXIT=(-?\d+)")

# A test that provokes faults on purpose (a patch on probation that oopses) runs with
# expect_faults=True and brackets each provocation in the kernel log with these lines
# (`echo "$KP_FAULTS_BEGIN" > /dev/kmsg`): failure markers between them are expected,
# reported in VmResult.expected_faults, and not failures. Outside the brackets, and in
# every run without expect_faults, every marker still fails the run.
FAULTS_BEGIN = "kp-test: faults expected from here"
FAULTS_END = "kp-test: no faults expected from here"

# Single-threaded TCG: both vCPUs run interleaved on one host thread. Multi-threaded TCG
# was seen to leave a vCPU executing a stale int3 after ftrace rewrote a call site that
# the other vCPU was calling (a hang, then an RCU stall), which real hardware and KVM do
# not do. KP_QEMU_ACCEL overrides (e.g. "tcg" for multi-threaded TCG).
DEFAULT_ACCEL = "tcg,thread=single"


# The lockup detectors start off: TCG is slow and uneven enough to look like a lockup to
# them. A test that wants them turns them on (/proc/sys/kernel/watchdog; test_probation.py).
BOOT_ARGS = "nowatchdog"


@dataclasses.dataclass
class VmResult:
    status: int | None      # the guest script's exit status; None if it never reported
    output: str             # the script's stdout and stderr (second serial port)
    console: str            # the kernel log (first serial port)
    failures: list[str]     # console lines matching FAILURE_MARKERS
    timed_out: bool
    seconds: float
    qemu_pid: int           # the QEMU process (gone by the time run() returns)
    expected_faults: list[str] = dataclasses.field(default_factory=list)  # bracketed markers

    @property
    def ok(self) -> bool:
        return self.status == 0 and not self.failures and not self.timed_out

    def describe(self) -> str:
        """A human summary with the console and output, for test failures."""
        why = []
        if self.timed_out:
            why.append("timed out")
        if self.status is None:
            why.append("guest never reported an exit status")
        elif self.status != 0:
            why.append(f"guest script exited {self.status}")
        if self.failures:
            why.append("kernel failure markers: " + "; ".join(self.failures[:5]))
        return (
            f"VM run failed: {', '.join(why) or 'ok'} ({self.seconds:.1f} s)\n"
            f"--- guest output ---\n{self.output}\n"
            f"--- kernel console (last 150 lines) ---\n"
            + "\n".join(self.console.splitlines()[-150:])
        )


class VmError(Exception):
    """The VM run failed: carries the VmResult."""

    def __init__(self, result: VmResult):
        super().__init__(result.describe())
        self.result = result


def find_failures(console: str, expect_faults: bool = False) -> tuple[list[str], list[str]]:
    """(failures, expected): console lines matching FAILURE_MARKERS, those inside
    FAULTS_BEGIN/FAULTS_END brackets counted as expected when expect_faults."""
    failures: list[str] = []
    expected: list[str] = []
    inside = False
    for line in console.splitlines():
        if expect_faults and FAULTS_BEGIN in line:
            inside = True
        elif expect_faults and FAULTS_END in line:
            inside = False
        elif any(m.search(line) for m in FAILURE_MARKERS):
            (expected if inside else failures).append(line.strip())
    if inside:
        failures.append(f"kpvm: '{FAULTS_BEGIN}' without '{FAULTS_END}'")
    return failures, expected


def base_initramfs() -> Path:
    """The busybox base image, rebuilt when init or the build script change."""
    here = Path(__file__).resolve().parent
    out = BUILD / "initramfs-base.cpio.gz"
    inputs = [here / "init", here / "build-initramfs.sh", Path("/bin/busybox")]
    if not out.exists() or any(p.stat().st_mtime > out.stat().st_mtime for p in inputs):
        BUILD.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(here / "build-initramfs.sh"), str(out)], check=True)
    return out


def shared_libraries(path: Path) -> list[Path]:
    """Shared libraries (and the dynamic loader) a dynamically linked ELF needs."""
    with open(path, "rb") as f:
        if f.read(4) != b"\x7fELF":
            return []
    proc = subprocess.run(["ldd", str(path)], capture_output=True, text=True)
    if proc.returncode != 0:  # static, or not an executable
        return []
    libs = []
    for line in proc.stdout.splitlines():
        m = re.search(r"(/\S+)", line.split("=>")[-1])
        if m and Path(m.group(1)).exists():
            libs.append(Path(m.group(1)))
    return libs


def build_test_archive(workdir: Path, script: str, files: dict[str, str | Path]) -> Path:
    """A cpio archive with /kp/test.sh and the test's files, appended to the base image."""
    root = workdir / "root"
    (root / "kp").mkdir(parents=True)
    (root / "kp" / "test.sh").write_text(script)
    wanted: dict[str, Path] = {}
    for guest, host in files.items():
        host = Path(host)
        if not host.exists():
            raise FileNotFoundError(f"kpvm: file for guest path {guest} not found: {host}")
        wanted[guest] = host
        for lib in [] if host.is_dir() else shared_libraries(host):  # a folder: copied whole
            wanted.setdefault(str(lib), lib)
    for guest, host in wanted.items():
        dest = root / guest.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if host.is_dir():
            shutil.copytree(host, dest, symlinks=False, dirs_exist_ok=True)
        else:
            shutil.copy2(host, dest)
    archive = workdir / "test.cpio"
    names = subprocess.run(["find", "."], cwd=root, capture_output=True, check=True).stdout
    with open(archive, "wb") as out:
        subprocess.run(["cpio", "-o", "-H", "newc", "--owner=0:0", "--quiet"],
                       cwd=root, input=names, stdout=out, check=True)
    return archive


DEBIAN_PREFIX = "debian-"


def debian_kernel(name: str):
    """`debian-cloud` -> debian_kernel.VmKernel of flavour cloud-amd64 (fetched, cached)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import debian_kernel as dk
    flavour = name[len(DEBIAN_PREFIX):]
    if not flavour.endswith("-amd64"):
        flavour += "-amd64"
    return dk.vm_kernel(flavour, log=lambda m: print(m, file=sys.stderr))


def run(script: str, files: dict[str, str | Path] | None = None, timeout: float = 120,
        kernel: Path | str | None = None, append: str = "", smp: int = 2,
        memory: str = "512M", log_dir: Path | None = None,
        modules: list[str] | None = None, expect_faults: bool = False) -> VmResult:
    """Boot the VM, run `script`, return what happened. Never leaves QEMU running.
    kernel: a bzImage path, or "debian-FLAVOUR" (Debian's own kernel, see debian_kernel.py),
    or a debian_kernel.VmKernel (vm_kernel(series="6.12"));
    modules: that Debian kernel's modules to put in the guest (with their dependencies);
    expect_faults: failure markers between FAULTS_BEGIN and FAULTS_END are expected."""
    files = dict(files or {})
    debian = None
    if isinstance(kernel, str) and kernel.startswith(DEBIAN_PREFIX):
        debian = debian_kernel(kernel)
    elif hasattr(kernel, "vmlinuz"):   # a debian_kernel.VmKernel (another series, 6.12)
        debian = kernel
    elif modules:
        raise ValueError("kpvm: modules= needs a Debian kernel (kernel='debian-FLAVOUR')")
    if debian:
        kernel = debian.vmlinuz
    kernel = kernel or KERNEL_TREE / "arch/x86/boot/bzImage"
    if not Path(kernel).exists():
        raise FileNotFoundError(f"kpvm: kernel image {kernel} not found (run 'make kernel')")
    with tempfile.TemporaryDirectory(prefix="kpvm-") as tmp:
        work = Path(tmp)
        if debian and modules:
            import debian_kernel as dk
            files.update(dk.guest_modules(debian, modules, work / "modules"))
        initrd = work / "initrd.img"
        with open(initrd, "wb") as out:
            base = base_initramfs().read_bytes()
            # The kernel wants each appended archive 4-byte aligned; zeros are padding.
            out.write(base + b"\0" * (-len(base) % 512))
            out.write(build_test_archive(work, script, files).read_bytes())
        console_log = work / "console.log"
        output_log = work / "output.log"
        cmd = [
            "qemu-system-x86_64", "-accel", os.environ.get("KP_QEMU_ACCEL", DEFAULT_ACCEL),
            "-cpu", "max", "-smp", str(smp),
            "-m", memory, "-nographic", "-no-reboot", "-nodefaults",
            "-kernel", str(kernel), "-initrd", str(initrd),
            "-append", f"console=ttyS0 panic=-1 {BOOT_ARGS} {append}".strip(),
            "-serial", f"file:{console_log}", "-serial", f"file:{output_log}",
            "-monitor", "none",
        ]
        start = time.monotonic()
        timed_out = False
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        qemu_msgs = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
        seconds = time.monotonic() - start
        console = console_log.read_text(errors="replace") if console_log.exists() else ""
        output = output_log.read_text(errors="replace") if output_log.exists() else ""
        if qemu_msgs.strip():
            console += "\n[qemu] " + qemu_msgs
        m = EXIT_RE.search(output)
        status = int(m.group(1)) if m else None
        if m:
            output = output[: m.start()]
        output = output.replace("\r\n", "\n")
        console = console.replace("\r\n", "\n")
        if log_dir:
            log_dir.mkdir(parents=True, exist_ok=True)
            (log_dir / "console.log").write_text(console)
            (log_dir / "output.log").write_text(output)
        failures, expected = find_failures(console, expect_faults)
        return VmResult(status=status, output=output, console=console,
                        failures=failures, timed_out=timed_out,
                        seconds=seconds, qemu_pid=proc.pid, expected_faults=expected)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--script", required=True, help="guest shell script to run")
    ap.add_argument("--file", action="append", default=[], metavar="GUEST=HOST",
                    help="copy HOST into the guest at GUEST (repeatable)")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--kernel", help="bzImage, or debian-FLAVOUR (e.g. debian-cloud)")
    ap.add_argument("--module", action="append", default=[], metavar="NAME",
                    help="a module of the Debian kernel to put in the guest (repeatable)")
    ap.add_argument("--append", default="", help="extra kernel command line")
    ap.add_argument("--console", action="store_true", help="print the kernel log too")
    ap.add_argument("--expect-faults", action="store_true",
                    help="failure markers between FAULTS_BEGIN and FAULTS_END lines are expected")
    args = ap.parse_args()
    files = {}
    for spec in args.file:
        guest, sep, host = spec.partition("=")
        if not sep:
            ap.error(f"--file wants GUEST=HOST, got {spec!r}")
        files[guest] = host
    kernel = args.kernel
    if kernel and not kernel.startswith(DEBIAN_PREFIX):
        kernel = Path(kernel)
    result = run(Path(args.script).read_text(), files, args.timeout, kernel, args.append,
                 modules=args.module, expect_faults=args.expect_faults)
    if args.console:
        print(result.console)
    sys.stdout.write(result.output)
    if not result.ok:
        print(result.describe(), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
