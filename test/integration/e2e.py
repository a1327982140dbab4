"""Shared pieces of the end-to-end suite: the patch catalogue and guest script snippets
(paths and kp-build: paths.py)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from paths import PATCHES


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
# Polls every 50 ms until patch $1 is disabled and idle; fails after $2 polls.
wait_reverted() {
	i=0
	until [ "$(cat $K/$1/enabled)" = 0 ] && [ "$(cat $K/$1/transition)" = idle ]; do
		i=$((i + 1))
		[ $i -gt $2 ] && fail "$1 not reverted after $2 polls of 50 ms"
		usleep 50000
	done
	echo "reverted $1 after $i polls"
}
"""

# A guest shell function: run one check script, print "NAME STAGE pass|fail".
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
