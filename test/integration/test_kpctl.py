"""kpctl against the real core and hand-written patch modules, in the test kernel in QEMU.

Modules come from `make -C kmod` (kp_core.ko, build/kmod/<patch>/<patch>.ko, the test
targets), built by conftest's kmods.  kpctl is build/bin/kpctl (`make all`), or
$KPCTL_BIN.  Each guest step is run through `step NAME cmd...`, which records its exit
status, stdout and stderr; the assertions are made here on the host.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from paths import HERE, REPO

# Exit codes (kpctl --help, docs/kpctl.md).
OK, NOT_KP, WRONG_KERNEL, ALREADY, UNKNOWN, CORE_MISSING, BUSY, REFUSED = 0, 6, 7, 8, 9, 10, 12, 13
UNTRUSTED = 15

GUEST_LIB = r"""
step() {
	name=$1; shift
	"$@" > /tmp/step.out 2> /tmp/step.err
	rc=$?
	echo "@@@ $name rc=$rc"
	cat /tmp/step.out
	echo "@@@ $name stderr"
	cat /tmp/step.err
	echo "@@@ $name end"
}
loaded() { grep -q "^$1 " /proc/modules && echo yes || echo no; }
"""


class Step:
    def __init__(self, rc: int, out: str, err: str):
        self.rc, self.out, self.err = rc, out, err

    def json(self):
        return json.loads(self.out)


def parse_steps(output: str) -> dict[str, Step]:
    steps = {}
    for m in re.finditer(r"@@@ (\S+) rc=(\d+)\n(.*?)@@@ \1 stderr\n(.*?)@@@ \1 end\n", output, re.S):
        steps[m.group(1)] = Step(int(m.group(2)), m.group(3), m.group(4))
    return steps


def one_line_error(step: Step, code: int, *mentions: str):
    assert step.rc == code, f"exit {step.rc}, expected {code}\nstdout: {step.out}\nstderr: {step.err}"
    lines = step.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kpctl: error: "), step.err
    for m in mentions:
        assert m in lines[0], (m, lines[0])


@pytest.fixture(scope="session")
def kp_modules(kmods) -> dict[str, Path]:
    """The modules these tests load, from `make -C kmod` (conftest's kmods)."""
    names = {"core": "kp_core", "cmdline": "kp_test_cmdline", "badbid": "kp_test_badbid",
             "badsize": "kp_test_badsize", "busy_patch": "kp_test_busy_patch",
             "busy_target": "kp_test_busy"}
    missing = [m for m in names.values() if m not in kmods]
    if missing:
        pytest.fail(f"make -C kmod did not build {missing}", pytrace=False)
    return {key: kmods[m] for key, m in names.items()}


def test_load_status_list_unload(vm, kpctl_bin, kp_modules):
    """The normal life of a patch; the core is loaded from beside the patch file."""
    r = vm.run(GUEST_LIB + """
step status0 kpctl status --json
step load kpctl load /kp/patches/kp_test_cmdline.ko --timeout 30
echo "core=$(loaded kp_core) patch=$(loaded kp_test_cmdline)"
echo "cmdline=$(cat /proc/cmdline)"
step status kpctl status kp_test_cmdline --json
step status_text kpctl status
step list kpctl list --dir /kp/patches --json
step reload kpctl load /kp/patches/kp_test_cmdline.ko
step unload kpctl unload kp_test_cmdline --timeout 30
echo "after: patch=$(loaded kp_test_cmdline) cmdline=$(cat /proc/cmdline)"
step unload_again kpctl unload kp_test_cmdline
step load_by_file kpctl load /kp/patches/kp_test_cmdline.ko
step unload_by_file kpctl unload /kp/patches/kp_test_cmdline.ko
echo "final: patch=$(loaded kp_test_cmdline)"
# Installed layout: patches in /lib/modules/$(uname -r)/kp, the core in .../extra.
rmmod kp_core
mods=/lib/modules/$(uname -r)
mkdir -p $mods/kp $mods/extra
cp /kp/patches/kp_test_cmdline.ko $mods/kp/
cp /kp/patches/kp_core.ko $mods/extra/
step installed_load kpctl load $mods/kp/kp_test_cmdline.ko
step installed_list kpctl list --json
step installed_list_text kpctl list
step installed_unload kpctl unload kp_test_cmdline
""", files={"/kp/bin/kpctl": kpctl_bin,
            "/kp/patches/kp_core.ko": kp_modules["core"],
            "/kp/patches/kp_test_cmdline.ko": kp_modules["cmdline"]}, timeout=180)
    s = parse_steps(r.output)

    assert s["status0"].rc == OK and s["status0"].json() == {"core_loaded": False, "patches": [],
                                                          "rolled_back": []}
    assert s["load"].rc == OK, s["load"].err
    assert "loaded the core module kp_core" in s["load"].out
    assert "patch kp_test_cmdline enabled (1 function(s))" in s["load"].out
    assert "core=yes patch=yes" in r.output
    assert "cmdline=kp-patched-v1" in r.output

    st = s["status"].json()
    assert st["core_loaded"] is True and len(st["patches"]) == 1
    p = st["patches"][0]
    assert p["name"] == "kp_test_cmdline" and p["enabled"] is True
    assert p["transition"] == "idle" and p["blocked"] == []
    assert re.fullmatch(r"[0-9a-f]{40}", p["build_id"])
    assert len(p["functions"]) == 1
    f = p["functions"][0]
    assert (f["object"], f["function"], f["sympos"]) == ("vmlinux", "cmdline_proc_show", 0)
    assert int(f["old_addr"], 16) != 0 and int(f["new_addr"], 16) != 0
    assert re.search(r"^kp_test_cmdline: enabled$", s["status_text"].out, re.M), s["status_text"].out

    ls = s["list"].json()
    assert [(x["name"], x["enabled"]) for x in ls["loaded"]] == [("kp_test_cmdline", True)]
    inst = {Path(x["file"]).name: x for x in ls["installed"]}
    assert inst["kp_test_cmdline.ko"]["loaded"] is True
    assert inst["kp_test_cmdline.ko"]["matches_running_kernel"] is True
    assert "not a kp patch" in inst["kp_core.ko"]["error"]

    one_line_error(s["reload"], ALREADY, "already loaded")
    assert s["unload"].rc == OK, s["unload"].err
    assert "patch kp_test_cmdline disabled and removed" in s["unload"].out
    assert "after: patch=no cmdline=console=ttyS0" in r.output
    one_line_error(s["unload_again"], UNKNOWN, "kp_test_cmdline")
    assert s["load_by_file"].rc == OK and s["unload_by_file"].rc == OK
    assert "final: patch=no" in r.output

    assert s["installed_load"].rc == OK, s["installed_load"].err
    assert "loaded the core module kp_core" in s["installed_load"].out
    ls = s["installed_list"].json()
    assert ls["dir"].startswith("/lib/modules/6.1.") and ls["dir"].endswith("/kp")
    assert [(Path(x["file"]).name, x["name"], x["loaded"]) for x in ls["installed"]] == \
        [("kp_test_cmdline.ko", "kp_test_cmdline", True)]
    assert re.search(r"^  kp_test_cmdline  enabled  transition idle  1 function\(s\)$",
                     s["installed_list_text"].out, re.M), s["installed_list_text"].out
    assert s["installed_unload"].rc == OK, s["installed_unload"].err


def test_refusals_change_nothing(vm, kpctl_bin, kp_modules, build_module):
    """Wrong kernel, core missing, not a patch, refused by the core, unknown name,
    modules someone other than root could change."""
    plain = build_module(HERE / "kpctl-fixtures/kpctl_plain")
    # Carries kp records for this kernel but never registers with the core.
    unregistered = build_module(HERE / "kpctl-fixtures/kpctl_fixture", [f"KP_ROOT={REPO}"])
    r = vm.run(GUEST_LIB + """
step notroot /kp/bin/setpriv --reuid=65534 --regid=65534 --clear-groups kpctl load /kp/p/kp_test_cmdline.ko --core /kp/core/kp_core.ko
step notroot_unload /kp/bin/setpriv --reuid=65534 --regid=65534 --clear-groups kpctl unload kp_test_cmdline
step notroot_info /kp/bin/setpriv --reuid=65534 --regid=65534 --clear-groups kpctl info /kp/p/kp_test_cmdline.ko
echo "after-notroot: core=$(loaded kp_core) patch=$(loaded kp_test_cmdline)"
step wrong kpctl load /kp/p/kp_test_badbid.ko --core /kp/core/kp_core.ko
echo "after-wrong: core=$(loaded kp_core) patch=$(loaded kp_test_badbid)"
step nocore kpctl load /kp/p/kp_test_cmdline.ko
echo "after-nocore: core=$(loaded kp_core) patch=$(loaded kp_test_cmdline)"
step badcore kpctl load /kp/p/kp_test_cmdline.ko --core /kp/p/kpctl_plain.ko
echo "after-badcore: plain=$(loaded kpctl_plain)"
step missing kpctl load /kp/p/nope.ko
step notelf kpctl load /kp/core/notes.txt
step plain kpctl load /kp/p/kpctl_plain.ko --core /kp/core/kp_core.ko
step info_wrong kpctl info --json /kp/p/kp_test_badbid.ko
step refused env KP_CORE=/kp/core/kp_core.ko kpctl load /kp/p/kp_test_badsize.ko --timeout 5
echo "after-refused: core=$(loaded kp_core) patch=$(loaded kp_test_badsize)"
step status kpctl status --json
rmmod kp_core 2>/dev/null
step unregistered kpctl load /kp/p/kpctl_fixture.ko --core /kp/core/kp_core.ko --timeout 0
echo "after-unregistered: core=$(loaded kp_core) patch=$(loaded kpctl_fixture)"
step unknown kpctl unload kp_no_such_patch
step unknown_status kpctl status kp_no_such_patch
# Only modules that root alone can change are loaded (patch and core alike).
mkdir -m 1777 /kp/sticky && cp /kp/p/kp_test_cmdline.ko /kp/sticky/
step untrusted_dir kpctl load /kp/sticky/kp_test_cmdline.ko --core /kp/core/kp_core.ko
mkdir /kp/other && cp /kp/p/kp_test_cmdline.ko /kp/other/ && chown 65534:65534 /kp/other/kp_test_cmdline.ko
step untrusted_owner kpctl load /kp/other/kp_test_cmdline.ko --core /kp/core/kp_core.ko
mkdir -m 0777 /kp/ww && cp /kp/core/kp_core.ko /kp/ww/
step untrusted_core kpctl load /kp/p/kp_test_cmdline.ko --core /kp/ww/kp_core.ko
echo "after-untrusted: core=$(loaded kp_core) patch=$(loaded kp_test_cmdline)"
insmod /kp/p/kpctl_plain.ko
step unload_plain kpctl unload kpctl_plain
echo "after-unload-plain: plain=$(loaded kpctl_plain)"
""", files={"/kp/bin/kpctl": kpctl_bin,
            "/kp/bin/setpriv": "/usr/bin/setpriv",   # util-linux: busybox's cannot change uid
            "/kp/core/kp_core.ko": kp_modules["core"],
            "/kp/core/notes.txt": HERE / "kpctl-fixtures/kpctl_plain/Kbuild",
            "/kp/p/kp_test_badbid.ko": kp_modules["badbid"],
            "/kp/p/kp_test_cmdline.ko": kp_modules["cmdline"],
            "/kp/p/kp_test_badsize.ko": kp_modules["badsize"],
            "/kp/p/kpctl_plain.ko": plain,
            "/kp/p/kpctl_fixture.ko": unregistered}, timeout=180)
    s = parse_steps(r.output)

    one_line_error(s["notroot"], 3, "root")
    one_line_error(s["notroot_unload"], 3, "root")
    assert s["notroot_info"].rc == OK and "cmdline_proc_show" in s["notroot_info"].out
    assert "after-notroot: core=no patch=no" in r.output
    one_line_error(s["wrong"], WRONG_KERNEL, "00000000000000000000000000000000deadbeef", "rebuild")
    assert "after-wrong: core=no patch=no" in r.output      # refused before the core
    one_line_error(s["nocore"], CORE_MISSING, "kp_core.ko", "--core")
    assert "after-nocore: core=no patch=no" in r.output
    one_line_error(s["badcore"], 11, "kpctl_plain.ko", "not the core module")
    assert "after-badcore: plain=no" in r.output
    one_line_error(s["missing"], 4, "/kp/p/nope.ko")
    one_line_error(s["notelf"], 5)
    one_line_error(s["plain"], NOT_KP, "not a kp patch")
    assert s["info_wrong"].json()["matches_running_kernel"] is False
    # The core refuses the wrong old size: exit 13 with the core's reason, nothing loaded.
    one_line_error(s["refused"], REFUSED, "cmdline_proc_show", "size")
    assert "after-refused: core=no patch=no" in r.output    # the core it loaded is removed again
    assert s["status"].json()["patches"] == []
    # Loaded, but no patch appeared in sysfs: taken out again, core too.
    one_line_error(s["unregistered"], REFUSED, "kpctl_fixture", "removed again")
    assert "after-unregistered: core=no patch=no" in r.output
    one_line_error(s["unknown"], UNKNOWN, "kp_no_such_patch")
    one_line_error(s["unknown_status"], UNKNOWN, "kp_no_such_patch")
    one_line_error(s["untrusted_dir"], UNTRUSTED, "/kp/sticky", "writable by others")
    one_line_error(s["untrusted_owner"], UNTRUSTED, "/kp/other/kp_test_cmdline.ko", "uid 65534")
    one_line_error(s["untrusted_core"], UNTRUSTED, "/kp/ww/kp_core.ko", "writable by others")
    assert "after-untrusted: core=no patch=no" in r.output
    one_line_error(s["unload_plain"], NOT_KP, "rmmod")
    assert "after-unload-plain: plain=yes" in r.output


def test_busy_transition_names_the_blocking_task(vm, kpctl_bin, kp_modules):
    """A kthread asleep inside kp_busy_wait holds the switch: with a short --timeout
    and --on-timeout reverse (the default, pending, is test_veto.py's) the core
    reverses it, kpctl names the kthread and leaves nothing patched; the
    same for disabling; with a long one the load completes once the kthread leaves."""
    r = vm.run(GUEST_LIB + """
insmod /kp/t/kp_test_busy.ko
D=/sys/kernel/debug/kp_test_busy
echo 1 > $D/start
sleep 1
step busy_load kpctl load /kp/p/kp_test_busy_patch.ko --timeout 4 --on-timeout reverse
echo "after-busy-load: core=$(loaded kp_core) patch=$(loaded kp_test_busy_patch)"
echo 1 > $D/release
sleep 1
step load kpctl load /kp/p/kp_test_busy_patch.ko --timeout 30
echo 1 > $D/start
sleep 1
step busy_unload kpctl unload kp_test_busy_patch --timeout 4
step status kpctl status kp_test_busy_patch --json
echo 1 > $D/release
sleep 1
echo "last=$(cat $D/last)"
step unload kpctl unload kp_test_busy_patch --timeout 30
echo "final: patch=$(loaded kp_test_busy_patch)"
echo 1 > $D/start
sleep 1
kpctl load /kp/p/kp_test_busy_patch.ko --timeout 60 > /tmp/bg.out 2> /tmp/bg.err &
bg=$!
sleep 3
step pending_status kpctl status kp_test_busy_patch
echo 1 > $D/release
wait $bg
echo "bg-rc=$?"
cat /tmp/bg.out
echo "last2=$(cat $D/last)"
""", files={"/kp/bin/kpctl": kpctl_bin,
            "/kp/p/kp_core.ko": kp_modules["core"],
            "/kp/p/kp_test_busy_patch.ko": kp_modules["busy_patch"],
            "/kp/t/kp_test_busy.ko": kp_modules["busy_target"]}, timeout=300)
    s = parse_steps(r.output)

    b = s["busy_load"]
    assert b.rc == BUSY, (b.rc, b.out, b.err)
    assert re.search(r"transition enabling: 1 task\(s\) not switched yet \(\d+ kp_busy/0 kp_busy_wait\+0x", b.out), b.out
    assert re.search(r"tasks that kept patch kp_test_busy_patch from switching", b.err), b.err
    assert re.search(r"^  \d+ kp_busy/0 kp_busy_wait\+0x", b.err, re.M), b.err
    assert b.err.strip().splitlines()[-1].startswith("kpctl: error: patch kp_test_busy_patch not applied")
    assert "the transition reversed; nothing is patched" in b.err
    assert "after-busy-load: core=no patch=no" in r.output

    assert s["load"].rc == OK, s["load"].err
    u = s["busy_unload"]
    assert u.rc == BUSY, (u.rc, u.out, u.err)
    assert re.search(r"^  \d+ kp_busy/1 kp_busy_wait_new\+0x", u.err, re.M), u.err
    assert "is still in force" in u.err
    st = s["status"].json()["patches"][0]
    assert st["enabled"] is True and st["transition"] == "idle" and st["pending"] == []
    assert any("kp_busy/1" in line for line in st["blocked"]), st
    assert "last=100" in r.output    # the patched kp_busy_wait ran (the original returns 1)
    assert s["unload"].rc == OK, s["unload"].err
    assert "final: patch=no" in r.output

    # A load that waits for a sleeper, then completes by itself once it leaves.
    p = s["pending_status"]
    # The first line leads with the transition, never "enabled" (issue 17).
    assert re.search(r"^kp_test_busy_patch: enabling, 1 of \d+ tasks not switched yet "
                     r"\(kp_busy/2 \d+ in kp_busy_wait\), stays pending in 5[0-9] s\n"
                     r"  enabling for \d+ ms, stays pending after 60 s; not switched yet:\n"
                     r"    \d+ kp_busy/2 kp_busy_wait\+0x", p.out), p.out
    assert "bg-rc=0" in r.output, r.output
    assert "kpctl: patch kp_test_busy_patch enabled" in r.output
    assert "last2=1" in r.output     # kp_busy/2 finished the original it was in
