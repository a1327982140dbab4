"""NMIs never mix versions while a patch switches under them (issue 14, item 7).

kp_test_nmi.ko (test/integration/modules/targets) keeps one real NMI (an APIC
NMI IPI) going from CPU to CPU; each handler calls kp_nmi_f(), relaxes, sends
the next NMI, relaxes, and calls kp_nmi_g().  kp_test_nmi_patch.ko replaces
both.  The guest enables and disables the patch KP_NMI_CYCLES times (default
10^4: about 50 s of the guest's time on a quiet host) while the NMIs run,
also while the machine is stopped for each switch; then it holds a kthread in
kp_nmi_h() (replaced too) so that each enable leaves a pending task and each
disable reverses it (ROUNDS x REVERSALS times).  Every NMI must see f and g
both old or both new.
"""
from __future__ import annotations

import os
import re

from kmod_guest import PRELUDE, files

CYCLES = int(os.environ.get("KP_NMI_CYCLES", "10000"))
CHUNK = 500
ROUNDS, REVERSALS = 4, 100

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
echo "CYCLES $done in $((end - start)) s"
echo "COUNTS $(cat $D/counts)"
# Switches that cannot complete at once: kp_nmi_hold sleeps in h, so every
# enable leaves it pending, and every disable then reverses that enable (a
# full pass of the other kind).
echo 0 > $P/enabled || fail "disable before the held rounds"
start=$(date +%s)
r=0; rev=0
while [ $r -lt {rounds} ]; do
	echo 1 > $D/hold
	wait_for $D/hold 1 10
	j=0
	while [ $j -lt {reversals} ]; do
		echo 1 > $P/enabled || fail "held enable $rev refused"
		read t < $P/transition
		[ "$t" = enabling ] || fail "held enable $rev is $t, want enabling"
		echo 0 > $P/enabled || fail "reversal $rev refused"
		j=$((j+1)); rev=$((rev+1))
	done
	echo 1 > $P/enabled || fail "last held enable refused"
	echo 0 > $D/hold
	wait_for $P/transition idle 10
	echo 0 > $P/enabled || fail "disable after round $r"
	r=$((r+1))
done
end=$(date +%s)
echo "HELD $rev in $((end - start)) s"
echo "COUNTS $(cat $D/counts)"
echo 0 > $D/run
rmmod kp_test_nmi_patch || fail "rmmod kp_test_nmi_patch"
rmmod kp_test_nmi || fail "rmmod kp_test_nmi"
echo OK
"""


COUNTS = re.compile(r"COUNTS (nmis (\d+) stopped (\d+) old (\d+) new (\d+) mixed (\d+).*)")


def test_nmi_never_mixes_versions(vm, kmods):
    """Fast switches (every stack clean: the first pass flips at once), then
    held ones (a kthread asleep in h: the first pass leaves it pending, and
    each disable reverses the enable), all under NMIs."""
    script = (GUEST.replace("{cycles}", str(CYCLES)).replace("{chunk}", str(CHUNK))
              .replace("{rounds}", str(ROUNDS)).replace("{reversals}", str(REVERSALS)))
    r = vm.run(PRELUDE + script, files(kmods, "kp_test_nmi", "kp_test_nmi_patch"),
               timeout=150 + CYCLES * 0.1)
    assert "OK" in r.output, r.describe()
    found = list(COUNTS.finditer(r.output))
    assert len(found) == 2, r.output
    counts = [tuple(map(int, m.groups()[1:])) for m in found]
    fast = counts[0]
    held = tuple(b - a for a, b in zip(counts[0], counts[1]))
    print(f"VM {r.seconds:.0f} s;", *re.findall(r"(?:CYCLES|HELD) .*", r.output))
    wrong = []
    for what, (nmis, stopped, old, new, mixed), switches in (
            ("fast", fast, 2 * CYCLES), ("held", held, 2 * ROUNDS * REVERSALS)):
        seen = f"{what} switches: nmis {nmis} stopped {stopped} old {old} new {new} mixed {mixed}"
        print(seen)
        # The NMIs ran during the switches: many interrupted a stop_machine
        # stopper, and both versions were seen.
        if stopped < switches // 20:
            wrong.append(f"too few NMIs during stop_machine: {seen}")
        if not old or not new:
            wrong.append(f"one version never seen: {seen}")
        if mixed:
            wrong.append(f"NMIs mixed old and new versions: {seen}")
    wrong += [f"after the {what} switches: {m.group(1)}"
              for what, m in zip(("fast", "held"), found) if "last:" in m.group(1)]
    assert not wrong, "; ".join(wrong)
