"""Patches survive reboots (issue 26).

Host only (no guest):
  - `make install` lays out the tools, kp-build's files, kpctl(8) and kp.service under
    DESTDIR/PREFIX; `systemd-analyze verify` finds the unit clean in that root;
Two boots of the test kernel (test_boot_persistence):
  1. booted with kp.enable=0: `kpctl install` of three patches (kp_test_cmdline2, then
     kp_test_cmdline, then kp_test_pb_ok); kp_test_pb_ok is loaded once and rolled back
     (--check false); kp.service's ExecStart (read from the installed unit) loads nothing;
     the state folder is passed back to the host;
  2. booted with that state folder: ExecStart loads both patches in their order (the last
     loaded wins /proc/cmdline: kp_test_cmdline's v1) and leaves the rolled-back one out.
"""
from __future__ import annotations

import base64
import gzip
import io
import os
import re
import shlex
import subprocess
import tarfile
from pathlib import Path

import pytest

from paths import KDIR, REPO, tool

STATE_BEGIN = "KP-STATE-BEGIN"
STATE_END = "KP-STATE-END"


def release() -> str:
    return (KDIR / "include/config/kernel.release").read_text().strip()


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """`make install-tools` into a scratch DESTDIR with Debian's paths."""
    tool("kpctl")
    dest = tmp_path_factory.mktemp("destdir")
    subprocess.run(["make", "-C", str(REPO), "--no-print-directory", "install-tools",
                    f"DESTDIR={dest}", "PREFIX=/usr", "UNITDIR=/lib/systemd/system"],
                   check=True, capture_output=True)
    return dest


def exec_start(unit: Path) -> list[str]:
    lines = [l for l in unit.read_text().splitlines() if l.startswith("ExecStart=")]
    assert len(lines) == 1, unit.read_text()
    return shlex.split(lines[0][len("ExecStart="):])


def test_make_install_layout(installed):
    for f in ("usr/bin/kp-build", "usr/bin/diffgen", "usr/bin/kp-run-pre",
              "usr/sbin/kpctl"):
        assert os.access(installed / f, os.X_OK), f
    for f in ("usr/share/kp/kmod/core/Kbuild", "usr/share/kp/kmod/core/core.c",
              "usr/share/kp/kmod/patch/kp_patch.h", "usr/share/kp/include/kp/abi.h",
              "usr/share/kp/patch-tools/debian_archive.py"):
        assert (installed / f).is_file(), f
    assert not list((installed / "usr/share/kp/kmod").rglob("*.o")), "build outputs installed"
    man = gzip.decompress((installed / "usr/share/man/man8/kpctl.8.gz").read_bytes()).decode()
    assert man.startswith(".\\\"") and ".TH \"KPCTL\" \"8\"" in man.upper().replace("'", "\"")
    assert "load --all" in man
    # whatis reads the NAME section.
    proc = subprocess.run(["lexgrog", str(installed / "usr/share/man/man8/kpctl.8.gz")],
                          capture_output=True, text=True)
    assert "kpctl - load, unload and inspect kp live patches" in proc.stdout, proc.stdout
    for t in ("kp-build", "diffgen", "kp-run-pre"):
        page = gzip.decompress((installed / f"usr/share/man/man1/{t}.1.gz").read_bytes())
        assert b".SH OPTIONS" in page or b".SH DESCRIPTION" in page, t
    unit = installed / "lib/systemd/system/kp.service"
    assert exec_start(unit) == ["/usr/sbin/kpctl", "load", "--all", "--boot"]
    assert "ConditionKernelCommandLine=!kp.enable=0" in unit.read_text()
    assert "RequiresMountsFor=/var/lib/kp" in unit.read_text()
    # An installed kp-build finds its files in ../share/kp (not in this checkout).
    env = dict(os.environ)
    env.pop("KP_SOURCE_DIR", None)
    proc = subprocess.run([str(installed / "usr/bin/kp-build"), "--help"], env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    # systemd-analyze verify in that root (the man page is checked above: --man=no, as
    # `man` would look on this machine).
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={installed}",
                           "kp.service"], capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr
    # The check can fail: without the ExecStart binary it is not clean.
    (installed / "usr/sbin/kpctl").rename(installed / "usr/sbin/kpctl.moved")
    try:
        proc = subprocess.run(["systemd-analyze", "verify", "--man=no",
                               f"--root={installed}", "kp.service"],
                              capture_output=True, text=True)
        assert proc.returncode != 0 and "kpctl" in proc.stderr, proc.stderr
    finally:
        (installed / "usr/sbin/kpctl.moved").rename(installed / "usr/sbin/kpctl")


GUEST_PRELUDE = r"""
fail() { echo "FAIL: $*"; dmesg | tail -40; exit 1; }
K=/sys/kernel/kp
R=$(uname -r)
S=/var/lib/kp/$R
"""

BOOT1 = GUEST_PRELUDE + r"""
grep -qw kp.enable=0 /proc/cmdline || fail "not booted with kp.enable=0"
for p in kp_test_cmdline2 kp_test_cmdline kp_test_pb_ok; do
	kpctl install /kp/m/$p.ko || fail "install $p"
done
kpctl install /kp/m/kp_test_cmdline.ko > /tmp/again || fail "second install"
grep -q "already installed (unchanged)" /tmp/again || fail "second install: $(cat /tmp/again)"
kpctl list --installed > /tmp/list || fail "list --installed"
cat /tmp/list
grep -q "1. kp_test_cmdline2 " /tmp/list && grep -q "2. kp_test_cmdline " /tmp/list &&
	grep -q "3. kp_test_pb_ok " /tmp/list || fail "load order"
[ "$(stat -c %i $S/kp_test_cmdline/kp_core.ko)" = "$(stat -c %i $S/kp_test_pb_ok/kp_core.ko)" ] ||
	fail "identical cores not shared"
# kp_test_pb_ok is rolled back (its check fails): kpctl remembers it in the state folder.
kpctl load --probation 10 --check false $S/kp_test_pb_ok/kp_test_pb_ok.ko
[ $? = 16 ] || fail "kp_test_pb_ok not rolled back"
kpctl unload kp_test_pb_ok || fail "unload kp_test_pb_ok"
echo "== kp.service ExecStart with kp.enable=0"
$EXEC_START || fail "ExecStart with kp.enable=0 failed"
for p in kp_test_cmdline2 kp_test_cmdline kp_test_pb_ok; do
	[ -d $K/$p ] && fail "$p loaded although kp.enable=0"
done
grep -qw kp.enable=0 /proc/cmdline || fail "/proc/cmdline patched"
echo "BOOT1 OK"
echo KP-STATE-BEGIN
tar -C /var/lib/kp -cf - . | gzip -c | base64
echo KP-STATE-END
"""

BOOT2 = GUEST_PRELUDE + r"""
grep -qw kp.enable=0 /proc/cmdline && fail "booted with kp.enable=0"
[ -f /var/lib/kp/rolled-back ] || fail "no rolled-back record in the state"
echo "== kp.service ExecStart"
$EXEC_START > /tmp/boot.out 2>&1
rc=$?
cat /tmp/boot.out
[ $rc = 0 ] || fail "ExecStart exited $rc"
[ "$(cat $K/kp_test_cmdline2/enabled)" = 1 ] || fail "kp_test_cmdline2 not in force"
[ "$(cat $K/kp_test_cmdline/enabled)" = 1 ] || fail "kp_test_cmdline not in force"
[ -d $K/kp_test_pb_ok ] && fail "rolled-back kp_test_pb_ok loaded"
grep -q "skipping patch kp_test_pb_ok: rolled back before" /tmp/boot.out || fail "skip not said"
# Loaded in order: the last one loaded is the one /proc/cmdline runs.
[ "$(cat /proc/cmdline)" = kp-patched-v1 ] || fail "order: /proc/cmdline is $(cat /proc/cmdline)"
$EXEC_START > /tmp/again.out 2>&1 || fail "a second ExecStart failed: $(cat /tmp/again.out)"
grep -q "kp_test_cmdline is loaded already" /tmp/again.out || fail "second run: $(cat /tmp/again.out)"
echo "STEP persistence ok"

"""


def test_boot_persistence(vm, kmods, installed, tmp_path):
    argv = exec_start(installed / "lib/systemd/system/kp.service")
    kpctl_guest = argv[0]
    mods = {f"/kp/m/{n}.ko": kmods[n] for n in
            ("kp_test_cmdline2", "kp_test_cmdline", "kp_test_pb_ok")}
    mods["/kp/m/kp_core.ko"] = kmods["kp_core"]
    files = {kpctl_guest: installed / kpctl_guest.lstrip("/"), **mods}
    env = f"EXEC_START={shlex.quote(shlex.join(argv))}\n"
    first = vm.run(env + BOOT1, files, append="kp.enable=0", timeout=240)
    assert "BOOT1 OK" in first.output, first.describe()
    m = re.search(rf"{STATE_BEGIN}\n(.*?)\n{STATE_END}", first.output, re.S)
    assert m, first.describe()
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(m.group(1))), mode="r:gz") as t:
        # The guest's own tar of its state folder (data_filter where Python has it).
        t.extractall(state, **({"filter": "tar"} if hasattr(tarfile, "data_filter") else {}))

    files["/var/lib/kp"] = state
    for k in mods:
        del files[k]
    second = vm.run(env + BOOT2, files, timeout=240)
    assert "STEP persistence ok" in second.output, second.describe()
