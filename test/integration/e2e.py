"""Shared pieces of the end-to-end suite: the tools, the patch catalogue, building
patches with kp-build once per session, and guest script snippets."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BUILD = Path(os.environ.get("KP_BUILD_DIR", REPO / "build"))
BIN = Path(os.environ.get("KP_BIN", BUILD / "bin"))
PATCHES = HERE / "patches"
GUEST_TOOLS = HERE / "guest-tools"


def tool(name: str) -> Path:
    """A tool built by `make all`, where the README says it is (build/bin)."""
    path = BIN / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{path} not built: run 'make all'", pytrace=False)
    return path


@dataclasses.dataclass
class Patch:
    name: str
    patch: Path
    test: Path | None          # guest check, for patches that must build
    expect: dict | None        # {"exit": N, "message": regex}, for -FAIL patches

    @property
    def module_name(self) -> str:
        return "kp_" + self.name.replace("-", "_")


def catalogue(folder: Path = PATCHES) -> list[Patch]:
    out = []
    for p in sorted(folder.glob("*.patch")):
        name = p.stem
        test = p.with_suffix(".test")
        expect = p.with_suffix(".expect")
        out.append(Patch(name, p, test if test.exists() else None,
                         json.loads(expect.read_text()) if expect.exists() else None))
    return out


def good_patches(folder: Path = PATCHES) -> list[Patch]:
    return [p for p in catalogue(folder) if p.expect is None]


def failing_patches() -> list[Patch]:
    return [p for p in catalogue() if p.expect is not None]


def kp_build(patches: list[Path], out: Path, name: str, cache: Path,
             extra: list[str] | None = None) -> subprocess.CompletedProcess:
    cmd = [str(tool("kp-build")), "--src", str(BUILD / "linux"), "--cache-dir", str(cache),
           "-o", str(out), "-n", name]
    for p in patches:
        cmd += ["--patch", str(p)]
    return subprocess.run(cmd + (extra or []), capture_output=True, text=True, timeout=1800)


def build_guest_tools(out_dir: Path) -> dict[str, Path]:
    """Static helper programs for guest checks (guest-tools/*.c)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tools = {}
    for src in sorted(GUEST_TOOLS.glob("*.c")):
        exe = out_dir / src.stem
        subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-static", "-pthread", "-o", str(exe),
                        str(src)], check=True)
        tools[f"/kp/bin/{src.stem}"] = exe
    return tools


# A guest shell function: run one check script, print "NAME STAGE pass|fail".
# The shell helpers shared by the probation and canary guest scripts: fail, $K, $ORIG
# (the unpatched /proc/cmdline), kpctl with its state directory, the fault brackets the VM
# runner honours (expect_faults) and the Oops count.
PROBATION_PRELUDE = r"""
fail() { echo "FAIL: $*"; dmesg | tail -60; exit 1; }
K=/sys/kernel/kp
ORIG=$(cat /proc/cmdline)
export KPCTL_STATE_DIR=/tmp/kpstate
kpctl() { /kp/kpctl "$@"; }
faults_begin() { echo "@FAULTS_BEGIN@" > /dev/kmsg; }
faults_end() { echo "@FAULTS_END@" > /dev/kmsg; }
oopses() { dmesg | grep -c "Oops: "; }
"""

CHECK_FN = r"""
kp_check() {  # kp_check NAME STAGE SCRIPT
	if sh "$3" >/tmp/check.out 2>&1; then r=pass; else r=fail; fi
	echo "CHECK $1 $2 $r"
}
"""


def parse_checks(output: str) -> dict[tuple[str, str], str]:
    """{(name, stage): "pass"|"fail"} from the CHECK lines a guest printed."""
    res = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] == "CHECK":
            res[(parts[1], parts[2])] = parts[3]
    return res
