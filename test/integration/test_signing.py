"""Signed patches on a kernel that enforces module signatures (issue 26, part 3).

The test kernel has CONFIG_MODULE_SIG with the key its build generated built in
(build/linux/certs/signing_key.x509, vm-images/kp.config) and enforces signatures only
when booted with module.sig_enforce=1. kp-build builds one patch three times: without
signing, with --sign-key/--sign-cert of that key (the patch module and its kp_core.ko
signed), and with a key made for the test.
One boot with module.sig_enforce=1:
  1. kpctl load of the unsigned build: the kernel refuses its kp_core.ko (finit_module:
     EKEYREJECTED, "Loading of unsigned module is rejected" in the kernel log; busybox
     insmod of the same file gets the same errno), kpctl says so in one line, exit 11;
  2. kpctl load of the signed build: the core and the patch load, /proc/cmdline is
     patched, nothing taints the kernel 'E' (both verified); kpctl unload restores it;
  3. with the signed core loaded, kpctl load of the unsigned patch module: refused by the
     kernel (EKEYREJECTED), kpctl's line names the patch, exit 13, nothing patched;
  4. the patch signed by kp-build with a key the kernel does not have (a MOK not
     enrolled): refused likewise ("Loading of module with unavailable key is rejected").
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from paths import HERE, KDIR, kp_build_test_kernel, tool

PATCH = HERE / "patches" / "proc-cmdline-string.patch"
MODULE = "kp_sig_cmdline"
SIG_MARKER = b"~Module signature appended~\n"  # MODULE_SIG_STRING


def signed(ko: Path) -> bool:
    return ko.read_bytes().endswith(SIG_MARKER)


@pytest.fixture(scope="module")
def builds(kernel_tree, tmp_path_factory) -> dict[str, Path]:
    """The patch built by kp-build without and with signing: 'unsigned'/'signed' -> .ko."""
    tool("kp-build")
    key, cert = KDIR / "certs/signing_key.pem", KDIR / "certs/signing_key.x509"
    if not (key.is_file() and cert.is_file()):
        pytest.fail(f"{key} / {cert} missing: the test kernel is built without "
                    "CONFIG_MODULE_SIG (vm-images/kp.config); run 'make kernel'",
                    pytrace=False)
    # A key the kernel does not have (a MOK not enrolled): a self-signed certificate.
    other = tmp_path_factory.mktemp("other-key")
    subprocess.run(["openssl", "req", "-new", "-nodes", "-utf8", "-sha256", "-days", "2",
                    "-batch", "-x509", "-newkey", "rsa:2048", "-subj", "/CN=kp test other key",
                    "-outform", "PEM", "-keyout", other / "key.pem", "-out",
                    other / "cert.pem"], check=True, capture_output=True)
    out = {}
    for kind, extra in (("unsigned", []),
                        ("signed", ["--sign-key", key, "--sign-cert", cert]),
                        ("other", ["--sign-key", other / "key.pem",
                                   "--sign-cert", other / "cert.pem"])):
        ko = tmp_path_factory.mktemp(kind) / f"{MODULE}.ko"
        r = kp_build_test_kernel([PATCH], ko, *extra)
        assert r.returncode == 0, r.stderr
        out[kind] = ko
    return out


def test_kp_build_signs_the_patch_and_its_core(builds):
    for kind, want in (("unsigned", False), ("signed", True), ("other", True)):
        for ko in (builds[kind], builds[kind].parent / "kp_core.ko"):
            assert signed(ko) == want, f"{ko}: signed={signed(ko)}, expected {want}"


GUEST = r"""
fail() { echo "FAIL: $*"; dmesg | tail -30; exit 1; }
kpctl() { /kp/bin/kpctl "$@"; }
M=@MODULE@
ORIG=$(cat /proc/cmdline)
grep -qw module.sig_enforce=1 /proc/cmdline || fail "not booted with module.sig_enforce=1"
[ "$(cat /sys/module/module/parameters/sig_enforce)" = Y ] || fail "signatures not enforced"
rejected() { dmesg | grep -c "Loading of unsigned module is rejected"; }

echo "== 1. the unsigned build: its core is refused by the kernel"
n=$(rejected)
kpctl load /kp/u/$M.ko > /tmp/out 2>&1
rc=$?
cat /tmp/out
[ $rc = 11 ] || fail "kpctl load of the unsigned build exited $rc, not 11"
[ "$(wc -l < /tmp/out)" = 1 ] || fail "not one line"
grep -qxF "kpctl: error: the kernel requires signed modules and rejected /kp/u/kp_core.ko (unsigned, or its signature does not verify with the kernel's keys); sign it and its kp_core.ko with a key the kernel trusts (kp-build --sign-key KEY --sign-cert CERT) and enroll that certificate (mokutil --import CERT, then reboot to confirm it in the firmware); nothing was loaded" /tmp/out ||
	fail "kpctl's line"
[ "$(rejected)" -gt $n ] || fail "the kernel did not log the refusal"
[ -d /sys/module/kp_core ] && fail "kp_core loaded"
# The same file through busybox insmod: the errno is the kernel's (EKEYREJECTED).
n=$(rejected)
insmod /kp/u/kp_core.ko > /tmp/insmod 2>&1 && fail "insmod loaded the unsigned core"
cat /tmp/insmod
grep -q "Key was rejected by service" /tmp/insmod || fail "insmod: $(cat /tmp/insmod)"
[ "$(rejected)" -gt $n ] || fail "insmod's refusal not logged"
echo "STEP unsigned refused"

echo "== 2. the signed build loads, patches, unloads"
kpctl load /kp/s/$M.ko || fail "kpctl load of the signed build"
[ "$(cat /sys/kernel/kp/$M/enabled)" = 1 ] || fail "$M not enabled"
grep -q ' kp_e2e_cmdline$' /proc/cmdline || fail "not patched: $(cat /proc/cmdline)"
t=$(cat /proc/sys/kernel/tainted)
[ $((t & 8192)) = 0 ] || fail "tainted E (unsigned module) although both were signed ($t)"
kpctl unload $M || fail "kpctl unload"
[ "$(cat /proc/cmdline)" = "$ORIG" ] || fail "not restored: $(cat /proc/cmdline)"
[ -d /sys/module/kp_core ] || fail "the signed core is gone"
echo "STEP signed loaded"

echo "== 3. the signed core loaded, the unsigned patch module is refused by the kernel"
n=$(rejected)
kpctl load /kp/u/$M.ko > /tmp/out 2>&1
rc=$?
cat /tmp/out
[ $rc = 13 ] || fail "kpctl load of the unsigned patch exited $rc, not 13"
[ "$(wc -l < /tmp/out)" = 1 ] || fail "not one line"
grep -qxF "kpctl: error: the kernel requires signed modules and rejected /kp/u/$M.ko (unsigned, or its signature does not verify with the kernel's keys); sign it and its kp_core.ko with a key the kernel trusts (kp-build --sign-key KEY --sign-cert CERT) and enroll that certificate (mokutil --import CERT, then reboot to confirm it in the firmware); nothing was patched" /tmp/out ||
	fail "kpctl's line"
[ "$(rejected)" -gt $n ] || fail "the kernel did not log the refusal"
[ -d /sys/module/$M ] && fail "$M loaded"
[ "$(cat /proc/cmdline)" = "$ORIG" ] || fail "patched: $(cat /proc/cmdline)"
echo "STEP unsigned patch refused"

echo "== 4. a patch signed with a key the kernel does not have (a MOK not enrolled)"
kpctl load /kp/o/$M.ko > /tmp/out 2>&1
rc=$?
cat /tmp/out
[ $rc = 13 ] || fail "kpctl load of the patch signed with another key exited $rc, not 13"
grep -qxF "kpctl: error: the kernel requires signed modules and rejected /kp/o/$M.ko (unsigned, or its signature does not verify with the kernel's keys); sign it and its kp_core.ko with a key the kernel trusts (kp-build --sign-key KEY --sign-cert CERT) and enroll that certificate (mokutil --import CERT, then reboot to confirm it in the firmware); nothing was patched" /tmp/out ||
	fail "kpctl's line"
dmesg | grep -q "Loading of module with unavailable key is rejected" ||
	fail "the kernel did not log the unknown key"
[ -d /sys/module/$M ] && fail "$M loaded"
[ "$(cat /proc/cmdline)" = "$ORIG" ] || fail "patched: $(cat /proc/cmdline)"
echo "STEP other key refused"
""".replace("@MODULE@", MODULE)


def test_enforcing_kernel_refuses_unsigned_and_loads_signed(vm, kpctl_bin, builds):
    files = {"/kp/bin/kpctl": kpctl_bin}
    for kind, d in (("unsigned", "/kp/u"), ("signed", "/kp/s"), ("other", "/kp/o")):
        files[f"{d}/{MODULE}.ko"] = builds[kind]
        files[f"{d}/kp_core.ko"] = builds[kind].parent / "kp_core.ko"
    r = vm.run(GUEST, files, append="module.sig_enforce=1", timeout=240)
    for step in ("unsigned refused", "signed loaded", "unsigned patch refused",
                 "other key refused"):
        assert f"STEP {step}" in r.output, r.describe()
