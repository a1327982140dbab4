"""NMIs never mix versions while a patch switches under them (issue 14, item 7).

kp_test_nmi.ko (test/integration/modules/targets) keeps one real NMI (an APIC
NMI IPI) going from CPU to CPU; each handler calls kp_nmi_f(), relaxes, sends
the next NMI, relaxes, and calls kp_nmi_g().  kp_test_nmi_patch.ko replaces
both.  The guest enables and disables the patch KP_NMI_CYCLES times (default
3000 in `make check`; `scripts/bench-nmi.sh` runs 10^4) while the NMIs run,
also while the machine is stopped for each switch; every NMI must see f and g
both old or both new.
"""
from __future__ import annotations

import os
import re

from kmod_guest import PRELUDE, files

CYCLES = int(os.environ.get("KP_NMI_CYCLES", "3000"))
CHUNK = 500

GUEST = r"""
dmesg -n 5    # the kernel's info lines (two per switch) stay off the serial console
D=/sys/kernel/debug/kp_test_nmi
P=$K/kp_test_nmi_patch
nmis() { set -- $(cat $D/counts); echo $2; }
insmod /kp/kp_test_nmi.ko || fail "insmod kp_test_nmi"
echo 1 > $D/run || fail "cannot start the NMIs"
sleep 0.5
[ "$(nmis)" -gt 0 ] || fail "no NMI handled: $(cat $D/counts)"
insmod /kp/kp_test_nmi_patch.ko || fail "insmod kp_test_nmi_patch"
[ "$(cat $P/enabled)" = 1 ] || fail "not enabled"
start=$(date +%s)
done=0
while [ $done -lt {cycles} ]; do
	before=$(nmis)
	i=0
	while [ $i -lt {chunk} ] && [ $done -lt {cycles} ]; do
		echo 0 > $P/enabled || fail "disable $done refused"
		echo 1 > $P/enabled || fail "enable $done refused"
		i=$((i+1)); done=$((done+1))
	done
	read t < $P/transition
	[ "$t" = idle ] || fail "after $done cycles the patch is $t"
	[ "$(nmis)" -gt "$before" ] || fail "the NMIs stopped after $done cycles: $(cat $D/counts)"
done
end=$(date +%s)
echo 0 > $D/run
sleep 0.2
echo "CYCLES $done in $((end - start)) s"
echo "COUNTS $(cat $D/counts)"
echo 0 > $P/enabled || fail "final disable"
rmmod kp_test_nmi_patch || fail "rmmod kp_test_nmi_patch"
rmmod kp_test_nmi || fail "rmmod kp_test_nmi"
echo OK
"""


def test_nmi_never_mixes_versions(vm, kmods):
    script = GUEST.replace("{cycles}", str(CYCLES)).replace("{chunk}", str(CHUNK))
    r = vm.run(PRELUDE + script, files(kmods, "kp_test_nmi", "kp_test_nmi_patch"),
               timeout=120 + CYCLES * 0.1)
    assert "OK" in r.output, r.describe()
    m = re.search(r"COUNTS nmis (\d+) stopped (\d+) old (\d+) new (\d+) mixed (\d+)", r.output)
    assert m, r.output
    nmis, stopped, old, new, mixed = map(int, m.groups())
    print(re.search(r"CYCLES .*", r.output).group(0), m.group(0))
    # The NMIs ran during the switches: many interrupted a stop_machine stopper
    # and both versions were seen.
    assert stopped >= CYCLES // 10, f"too few NMIs during stop_machine: {m.group(0)}"
    assert old > 0 and new > 0, f"one version never seen: {m.group(0)}"
    assert mixed == 0, f"NMIs mixed old and new versions: {m.group(0)}"
