"""Progress of `make kernel` (vm-images/build-progress.py) on the recorded log of the test
kernel's build, on a terminal, and the kernel cache key that ignores build-kernel.sh's
cosmetics (issue 17). kp-build's side: test/unit/kp-build/test_progress.cpp."""
from __future__ import annotations

import importlib.util
import os
import pty
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from paths import KDIR, REPO

VM_IMAGES = REPO / "vm-images"


def load_progress():
    spec = importlib.util.spec_from_file_location("build_progress", VM_IMAGES / "build-progress.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def recorded_kernel_log() -> Path:
    log = KDIR.resolve().parent / "kernel-build.log"
    if not log.exists():
        pytest.fail(f"no recorded kernel build log at {log}: run 'make kernel'", pytrace=False)
    return log


def test_kernel_progress_on_the_recorded_build_log(tmp_path):
    """make's output of the real test-kernel build: every object counted once, the full
    output kept in the log, and in a log (not a terminal) one line per 5%."""
    text = recorded_kernel_log().read_text(errors="replace")
    objects = sum(1 for line in text.splitlines() if re.match(r"  [A-Z][A-Z0-9_]*( \[M\])? +\S+\.o$", line))
    assert objects > 300, objects
    out_log, count = tmp_path / "copy.log", tmp_path / "count"
    r = subprocess.run([str(VM_IMAGES / "build-progress.py"), "--label", "kernel", "--expected",
                        str(objects), "--log", str(out_log), "--count-out", str(count)],
                       input=text, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert out_log.read_text(errors="replace") == text
    assert int(count.read_text()) == objects
    lines = r.stdout.splitlines()
    percents = [int(m.group(1)) for m in (re.search(r"\((\d+)%\)", line) for line in lines) if m]
    assert percents == list(range(5, 100, 5)), r.stdout
    assert re.fullmatch(rf"kernel: {objects} objects \(expected ~{objects}\), \d+s, finishing", lines[-2])
    assert re.fullmatch(rf"kernel: {objects} objects in \d+s \(expected ~{objects}\)", lines[-1])


def test_kernel_progress_on_a_terminal_is_one_updating_line(tmp_path):
    sample = "".join(f"  CC      kernel/f{i}.o\n  AR      kernel/built-in.a\n" for i in range(40))
    src = tmp_path / "make.out"
    src.write_text(sample)
    pid, fd = pty.fork()
    if pid == 0:
        os.execv("/bin/sh", ["sh", "-c", f"{VM_IMAGES / 'build-progress.py'} --label kernel "
                             f"--expected 80 --log {tmp_path / 'log'} < {src}"])
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    text = out.decode()
    head = text.split("kernel: 40 objects in")[0]
    assert "\n" not in head, text  # one line, redrawn
    assert text.count("\r") >= 1 and "\x1b[K" in text, text
    assert "kernel: 1 of ~80 objects (1%)" in text, text
    assert re.search(r"kernel: 40 objects in \d+s \(expected ~80\)", text), text


def test_kernel_progress_text():
    p = load_progress()
    assert p.format_progress("kernel", 1234, 5678, 62) == \
        "kernel: 1234 of ~5678 objects (21%), 1m02s, about 3m43s left"
    assert p.format_progress("kernel", 100, 5678, 62) == \
        "kernel: 100 of ~5678 objects (1%), 1m02s, estimating time left"
    assert p.format_progress("kernel", 5, 0, 3725) == "kernel: 5 objects, 1h02m"
    assert p.is_object_line("  CC [M]  fs/fuse/dev.o")
    assert not p.is_object_line("  AR      kernel/built-in.a")


def kernel_key(script_dir: Path, tarball: Path) -> str:
    r = subprocess.run(["bash", str(script_dir / "build-kernel.sh"), "--key", str(script_dir / "b")],
                       env={**os.environ, "KP_KERNEL_TARBALL": str(tarball)},
                       capture_output=True, text=True, timeout=60, check=True)
    return r.stdout.strip()


def test_kernel_cache_key_follows_the_recipe_only(tmp_path):
    """Messages and progress of build-kernel.sh may change without rebuilding the shared
    kernel; the configuration steps, the make targets and the fragment may not."""
    tarball = tmp_path / "linux.tar.xz"
    tarball.write_bytes(b"not a tarball")
    d = tmp_path / "vm-images"
    d.mkdir()
    shutil.copy(VM_IMAGES / "build-kernel.sh", d)
    shutil.copy(VM_IMAGES / "kp.config", d)
    script = d / "build-kernel.sh"
    original = script.read_text()
    base = kernel_key(d, tarball)

    script.write_text(original.replace('echo "kernel: configuring', 'echo "kernel: now configuring')
                      .replace("# The cache key:", "# A comment that moved.\n# The cache key:"))
    assert kernel_key(d, tarball) == base
    assert "bzImage modules" in original
    script.write_text(original.replace("bzImage modules", "bzImage"))
    assert kernel_key(d, tarball) != base
    script.write_text(original.replace("-s olddefconfig", "-s defconfig"))
    assert kernel_key(d, tarball) != base
    script.write_text(original)
    (d / "kp.config").write_text((VM_IMAGES / "kp.config").read_text() + "CONFIG_KP_NEW=y\n")
    assert kernel_key(d, tarball) != base


FAKE_KERNEL_MAKEFILE = """\
# A stand-in for the kernel's top Makefile: the targets build-kernel.sh runs.
tinyconfig:
\t@: > .config
olddefconfig:
\t@touch .config
bzImage:
\t@for i in $$(seq 1 $(N)); do echo "  CC      kernel/f$$i.o"; done
\t@echo "  AR      kernel/built-in.a"
\t@test -z "$(FAIL)" || { echo "kernel/f1.c:1: error: broken"; exit 2; }
\t@mkdir -p arch/x86/boot && touch arch/x86/boot/bzImage
modules:
\t@echo "  MODPOST modules-only.symvers"
"""

MERGE_CONFIG = """\
#!/bin/sh
# merge_config.sh -m -O TREE BASE FRAGMENT: the fragment's lines become the .config.
cat "$5" >> "$3/.config"
"""


def fake_tarball(tmp_path: Path) -> Path:
    src = tmp_path / "src/linux-6.1"
    (src / "scripts/kconfig").mkdir(parents=True)
    (src / "Makefile").write_text(FAKE_KERNEL_MAKEFILE)
    merge = src / "scripts/kconfig/merge_config.sh"
    merge.write_text(MERGE_CONFIG)
    merge.chmod(0o755)
    tarball = tmp_path / "linux-source-6.1.tar.xz"
    subprocess.run(["tar", "-cJf", str(tarball), "-C", str(tmp_path / "src"), "linux-6.1"], check=True)
    return tarball


def run_build_kernel(build: Path, tarball: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(VM_IMAGES / "build-kernel.sh"), str(build)],
                          env={**os.environ, "KP_KERNEL_TARBALL": str(tarball), "KP_JOBS": "1", **env},
                          capture_output=True, text=True, timeout=120)


def test_make_kernel_shows_progress_and_remembers_the_count(tmp_path):
    """build-kernel.sh end to end on a stand-in kernel (make prints 200 objects): progress
    lines (not a terminal) against the checked-in count, the full output in the log, then
    the build's own count as the next build's expected total; a failed build shows the
    log's tail and keeps no stamp."""
    tarball = fake_tarball(tmp_path)
    build = tmp_path / "build"
    r = run_build_kernel(build, tarball, N="200")
    assert r.returncode == 0, r.stdout + r.stderr
    checked_in = int((VM_IMAGES / "kernel-objects").read_text())
    assert "kernel: 200 objects in" in r.stdout, r.stdout
    assert re.search(rf"kernel: \d+ of ~{checked_in} objects \(5%\)", r.stdout), r.stdout
    log = (build / "kernel-build.log").read_text()
    assert log.count("  CC      kernel/f") == 200 and "  AR      kernel/built-in.a" in log
    assert (build / "kernel-build.count").read_text().strip() == "200"
    assert (build / "linux.stamp").exists()
    assert "kernel: up to date" in run_build_kernel(build, tarball, N="200").stdout

    (build / "linux.stamp").unlink()
    r = run_build_kernel(build, tarball, N="100")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [line for line in r.stdout.splitlines() if "%)" in line]
    assert [re.search(r"\((\d+)%\)", line).group(1) for line in lines] == [str(p) for p in range(5, 55, 5)], r.stdout
    assert "kernel: 100 objects in" in r.stdout and "(expected ~200)" in r.stdout

    (build / "linux.stamp").unlink()
    r = run_build_kernel(build, tarball, N="10", FAIL="1")
    assert r.returncode == 1
    assert "kernel/f1.c:1: error: broken" in r.stderr and "kernel build failed" in r.stderr
    assert not (build / "linux.stamp").exists()
    assert (build / "kernel-build.count").read_text().strip() == "100"
