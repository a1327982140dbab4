"""A patch module on a Debian kernel it was not built for (the ABI or, for 6.12, the
sublevel before): kpctl refuses it naming both kernels, and when the module is inserted
directly kp_core refuses it by build ID. The kernel's loader takes both modules: with
MODVERSIONS it compares vermagic without the release, and the CRCs of what they use are
equal across those kernels. Shared by the 6.1 and 6.12 Debian tests."""
from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "vm-images"))
import kpvm  # noqa: E402


def assert_refused_on_other_kernel(built_for: str, other: str, vmlinuz: Path, ko: str,
                                   files: dict, log_name: str) -> None:
    """ko: the module's path in the guest (files holds it, kpctl and /kp/kp_core.ko)."""
    module = Path(ko).stem
    r = kpvm.run(f"""
set -u
export PATH=/kp/bin:$PATH
uname -r
kpctl load {ko} --timeout 30; echo "KPCTL-RC $?"
grep -q '^{module} ' /proc/modules && echo KPCTL-LOADED-IT
insmod /kp/kp_core.ko && echo CORE-LOADED
insmod {ko}; echo "INSMOD-PATCH-RC $?"
grep -q '^{module} ' /proc/modules && echo PATCH-STAYED
test "$(uname -m)" = x86_64 && echo UNPATCHED
""", files, timeout=180, kernel=vmlinuz, log_dir=kpvm.BUILD / "test-logs" / log_name)
    assert r.ok, r.describe()
    out = r.output
    assert out.splitlines()[0] == other, out
    assert int(re.search(r"^KPCTL-RC (\d+)$", out, re.M).group(1)) == 7, out
    assert re.search(rf"was built for kernel {re.escape(built_for)} with build ID [0-9a-f]+, "
                     rf"but the running kernel {re.escape(other)} has", out), out
    assert "KPCTL-LOADED-IT" not in out and "PATCH-STAYED" not in out, out
    assert "CORE-LOADED" in out, out
    assert re.search(r"^INSMOD-PATCH-RC [1-9]", out, re.M), out
    assert re.search(rf"kp_core: {module}: refused: built for kernel build ID [0-9a-f]+, the "
                     r"running kernel is [0-9a-f]+", r.console), r.console
    assert "UNPATCHED" in out, out
