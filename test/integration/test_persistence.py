"""Patches survive reboots and ship as Debian packages (issue 26).

Host only (no guest):
  - `make install` lays out the tools, kp-build's files, kpctl(8) and kp.service under
    DESTDIR/PREFIX; `systemd-analyze verify` finds the unit clean in that root;
  - kp-package makes one package per release (name, version, Depends, payload, maintainer
    scripts) and writes nothing when an input is refused;
  - `dpkg --root` on a scratch root runs its maintainer scripts there (chrootless,
    $DPKG_ROOT) and puts the patch where kp.service's `kpctl load --all` finds it; removing
    it takes it out again;
  - an apt sandbox (its own Dir options) over a repository made with dpkg-scanpackages sees
    the package, its Phased-Update-Percentage and the version that supersedes it, and
    refuses a package whose kernel is not installed.
Two boots of the test kernel (test_boot_persistence):
  1. booted with kp.enable=0: `kpctl install` of three patches (kp_test_cmdline2, then
     kp_test_cmdline, then kp_test_pb_ok); kp_test_pb_ok is loaded once and rolled back
     (--check false); kp.service's ExecStart (read from the installed unit) loads nothing;
     the state folder is passed back to the host;
  2. booted with that state folder: ExecStart loads both patches in their order (the last
     loaded wins /proc/cmdline: kp_test_cmdline's v1) and leaves the rolled-back one out;
     then a kp-patch package's postinst (payload and scripts from the .deb) loads its patch
     on top and its prerm unloads and uninstalls it.
"""
from __future__ import annotations

import base64
import gzip
import io
import os
import re
import shlex
import shutil
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
    """`make install-tools` into a scratch DESTDIR with Debian's paths (as make deb does)."""
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


def kp_package(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, KPCTL=str(tool("kpctl")))
    proc = subprocess.run([str(REPO / "patch-tools/kp-package"),
                           "--maintainer", "kp tests <kp-tests@example.org>", *args], env=env,
                          capture_output=True, text=True)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def patch_dir(kmods, name: str, tmp: Path) -> Path:
    """NAME.ko with its kp_core.ko beside it, as kp-build writes them."""
    d = tmp / name
    d.mkdir()
    shutil.copy(kmods[name], d / f"{name}.ko")
    shutil.copy(kmods["kp_core"], d / "kp_core.ko")
    return d / f"{name}.ko"


def test_make_install_layout(installed):
    for f in ("usr/bin/kp-build", "usr/bin/diffgen", "usr/bin/kp-run-pre",
              "usr/bin/kp-package", "usr/sbin/kpctl"):
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
    for t in ("kp-build", "diffgen", "kp-run-pre", "kp-package"):
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


def deb_field(deb: Path, field: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), field], capture_output=True,
                          text=True, check=True).stdout.strip()


def test_kp_package_and_dpkg_root(kmods, tmp_path):
    rel = release()
    ko = patch_dir(kmods, "kp_test_state_none", tmp_path)
    out = tmp_path / "debs"
    debs = [Path(p) for p in kp_package("--version", "1", "-o", str(out), str(ko))
            .stdout.split()]
    pkg = f"kp-patch-kp-test-state-none-{rel}"
    assert [d.name for d in debs] == [f"{pkg}_1_amd64.deb"]
    deb = debs[0]
    assert deb_field(deb, "Package") == pkg
    assert deb_field(deb, "Depends") == f"linux-image-{rel}, kp"
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True,
                             check=True).stdout
    for f in (f"./usr/lib/kp/patches/{rel}/kp_test_state_none/kp_test_state_none.ko",
              f"./usr/lib/kp/patches/{rel}/kp_test_state_none/kp_core.ko"):
        assert re.search(rf"^-rw-r--r-- root/root .* {re.escape(f)}$", listing, re.M), listing

    # A refused input: nothing written.
    bad = tmp_path / "bad"
    proc = kp_package("-o", str(bad), str(ko), str(kmods["kp_core"]), check=False)
    assert proc.returncode == 1 and "nothing was written" in proc.stderr, proc.stderr
    assert str(kmods["kp_core"]) in proc.stderr
    assert not bad.exists()

    # dpkg --root: the maintainer scripts run for that root ($DPKG_ROOT), never loading.
    root = tmp_path / "root"
    for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"):
        (root / d).mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text("")
    env = dict(os.environ, PATH=f"{tool('kpctl').parent}:{os.environ['PATH']}")
    dpkg = ["dpkg", f"--root={root}", "--force-script-chrootless", "--force-depends",
            "--log=/dev/null"]
    proc = subprocess.run(dpkg + ["-i", str(deb)], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    state = root / "var/lib/kp" / rel
    assert (state / "kp_test_state_none/kp_test_state_none.ko").read_bytes() == \
        (tmp_path / "kp_test_state_none/kp_test_state_none.ko").read_bytes()
    listed = subprocess.run([str(tool("kpctl")), "list", "--installed", "--release", rel],
                            env=dict(env, KPCTL_STATE_DIR=str(root / "var/lib/kp")),
                            capture_output=True, text=True, check=True).stdout
    assert "1. kp_test_state_none (module build ID" in listed, listed
    assert "PROBLEM" not in listed, listed
    proc = subprocess.run(dpkg + ["-r", pkg], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (state / "kp_test_state_none").exists()
    assert "kp_test_state_none" not in (state / "order").read_text()


def test_lintian(kmods, tmp_path):
    """kp's own package (make deb) and a patch package: lintian clean at warning level,
    without overrides."""
    proc = subprocess.run(["make", "-C", str(REPO), "--no-print-directory", "deb"],
                          env=dict(os.environ, KP_DEB_LINTIAN="0",
                                   KP_MAINTAINER="kp tests <kp-tests@example.org>"),
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    kp_deb = Path(proc.stdout.strip().splitlines()[-1])
    assert kp_deb.name.startswith("kp_") and kp_deb.is_file(), proc.stdout
    listing = subprocess.run(["dpkg-deb", "-c", str(kp_deb)], capture_output=True, text=True,
                             check=True).stdout
    for f in ("./usr/sbin/kpctl", "./usr/bin/kp-build", "./usr/bin/kp-package",
              "./usr/share/man/man1/kp-build.1.gz", "./usr/share/man/man1/kp-package.1.gz",
              "./lib/systemd/system/kp.service", "./usr/share/man/man8/kpctl.8.gz",
              "./usr/share/kp/kmod/core/core.c"):
        assert re.search(rf" {re.escape(f)}$", listing, re.M), f
    ko = patch_dir(kmods, "kp_test_cmdline", tmp_path)
    patch_deb = Path(kp_package("-o", str(tmp_path), str(ko)).stdout.split()[0])
    proc = subprocess.run(["lintian", "--fail-on", "error,warning", str(kp_deb),
                           str(patch_deb)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_apt_repository_phasing_and_superseding(kmods, tmp_path):
    """The fleet recipe of docs/kpctl.md ("Debian packages"), in an apt sandbox."""
    rel = release()
    ko = patch_dir(kmods, "kp_test_state_none", tmp_path)
    repo = tmp_path / "repo"
    kp_package("--version", "1", "-o", str(repo), str(ko))
    kp_package("--version", "2", "-o", str(repo), str(ko))
    pkg = f"kp-patch-kp-test-state-none-{rel}"
    # Version 2 goes to 0 % of the fleet first.
    (tmp_path / "extra").write_text(f"{pkg} Phased-Update-Percentage 0\n")
    packages = subprocess.run(["dpkg-scanpackages", "-m", "-e", str(tmp_path / "extra"), "."],
                              cwd=repo, capture_output=True, text=True, check=True).stdout
    (repo / "Packages").write_text(packages)
    sandbox = tmp_path / "apt"
    for d in ("state/lists/partial", "cache/archives/partial", "etc/apt.conf.d",
              "etc/preferences.d", "etc/sources.list.d"):
        (sandbox / d).mkdir(parents=True)
    (sandbox / "etc/sources.list").write_text(f"deb [trusted=yes] file:{repo} ./\n")

    def status(*stanzas: tuple[str, str]) -> str:
        return "".join(f"Package: {p}\nStatus: install ok installed\nPriority: optional\n"
                       f"Section: misc\nMaintainer: x <x@x>\nArchitecture: amd64\n"
                       f"Version: {v}\nDescription: x\n\n" for p, v in stanzas)
    (sandbox / "status").write_text(status((f"linux-image-{rel}", "1"), ("kp", "1"),
                                           (pkg, "1")))
    conf = sandbox / "apt.conf"
    conf.write_text(f'Dir "{sandbox}/";\nDir::State "state/";\n'
                    f'Dir::State::status "{sandbox}/status";\nDir::Cache "cache/";\n'
                    f'Dir::Etc "etc/";\nDir::Log "log/";\nDebug::NoLocking "true";\n'
                    'APT::Architecture "amd64";\n'
                    'APT::Machine-ID "5bd4cba9a5e1f8f2a3fb5ba1a1a5f8d2";\n')
    env = dict(os.environ, APT_CONFIG=str(conf), LC_ALL="C")

    def apt(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(list(args), env=env, capture_output=True, text=True)
        if check:
            assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    apt("apt-get", "update", "-q")
    policy = apt("apt-cache", "policy", pkg).stdout
    assert re.search(r"Installed: 1\n\s+Candidate: 2", policy), policy
    assert "phased 0%" in policy, policy
    upgrade = apt("apt-get", "-s", "upgrade").stdout
    # APT 2.6 says "kept back" (later versions: "deferred due to phasing"); the same
    # repository at 100 % (below) upgrades it, so phasing alone held it.
    assert re.search(rf"(kept back|deferred due to phasing):\n\s+{re.escape(pkg)}\n", upgrade), \
        upgrade
    assert f"Inst {pkg}" not in upgrade, upgrade

    # The next wave: 100 %.
    (tmp_path / "extra").write_text(f"{pkg} Phased-Update-Percentage 100\n")
    packages = subprocess.run(["dpkg-scanpackages", "-m", "-e", str(tmp_path / "extra"), "."],
                              cwd=repo, capture_output=True, text=True, check=True).stdout
    (repo / "Packages").write_text(packages)
    apt("apt-get", "update", "-q")
    upgrade = apt("apt-get", "-s", "upgrade").stdout
    assert re.search(rf"^Inst {re.escape(pkg)} \[1\] \(2 ", upgrade, re.M), upgrade

    # A machine without that kernel: apt refuses the package by its dependency.
    (sandbox / "status").write_text(status(("kp", "1")))
    proc = apt("apt-get", "-s", "install", pkg, check=False)
    assert proc.returncode != 0, proc.stdout
    assert f"Depends: linux-image-{rel} but it is not installable" in proc.stdout, proc.stdout


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

echo "== package maintainer scripts"
sh /kp/deb/postinst configure || fail "postinst"
case "$(cat /proc/cmdline)" in
kp-state-v3*) ;; # kp_test_state_none's line
*) fail "postinst: /proc/cmdline is $(cat /proc/cmdline)" ;;
esac
kpctl list --installed | grep -q "4. kp_test_state_none " || fail "postinst did not install"
sh /kp/deb/prerm remove || fail "prerm"
[ -d $K/kp_test_state_none ] && fail "prerm left the patch loaded"
[ "$(cat /proc/cmdline)" = kp-patched-v1 ] || fail "prerm: /proc/cmdline is $(cat /proc/cmdline)"
kpctl list --installed | grep -q kp_test_state_none && fail "prerm did not uninstall"
[ -d $S/kp_test_state_none ] && fail "prerm left the patch folder"
echo "STEP package ok"
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

    # The package of a fourth patch: payload and maintainer scripts from the .deb.
    ko = patch_dir(kmods, "kp_test_state_none", tmp_path)
    deb = Path(kp_package("-o", str(tmp_path / "debs"), str(ko)).stdout.split()[0])
    payload, scripts = tmp_path / "payload", tmp_path / "scripts"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(payload)], check=True)
    subprocess.run(["dpkg-deb", "-e", str(deb), str(scripts)], check=True)
    files.update({"/var/lib/kp": state, "/usr/lib/kp": payload / "usr/lib/kp",
                  "/kp/deb/postinst": scripts / "postinst", "/kp/deb/prerm": scripts / "prerm"})
    for k in list(mods):
        del files[k]
    second = vm.run(env + BOOT2, files, timeout=240)
    assert "STEP persistence ok" in second.output and "STEP package ok" in second.output, \
        second.describe()
