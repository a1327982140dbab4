"""How the integration files share the two xdist workers, and what each one cost.

`--dist loadfile` hands whole files to the workers in collection order, one at a time as a
worker runs dry.  Collected alphabetically, a long file that comes late (test_release_deps,
after twenty others) starts when the other worker has little left, and the run ends with one
worker idle for minutes.  Longest first is the classic bound for this (LPT: the run is never
longer than 4/3 of the best split); the order below comes from the per-file table this
plugin prints at the end of every run (`file costs`), so it can be kept true from CI's own
output.  Files not listed keep their order after the listed ones; tests inside a file keep
theirs.  Every worker computes the same order (xdist requires identical collections).
"""
from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

# Longest first, from the `file costs` table of a full run on the 2-core machine (cold
# kp-build caches, as in CI).  Only the order matters.
LONGEST_FIRST = [
    "test_debian_patch.py",
    "test_e2e.py",
    "test_kp_build.py",
    "test_release_deps.py",
    "test_debian_612.py",
    "test_debian_kernel.py",
    "test_replace.py",
    "test_canary.py",
    "test_signing.py",
    "test_kmod.py",
    "test_persistence.py",
    "test_state_transfer.py",
    "test_probation.py",
    "test_veto.py",
    "test_rollback_stuck.py",
    "test_consistency.py",
    "test_kpctl.py",
]


def _file_of(nodeid: str) -> str:
    return Path(nodeid.split("::", 1)[0]).name


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    position = {id(item): i for i, item in enumerate(items)}
    items.sort(key=lambda item: (rank.get(_file_of(item.nodeid), len(rank)), position[id(item)]))


class FileCosts:
    """Per file: the worker that ran it, the time its tests took (setup, call and teardown
    summed) and when it ended, from the reports the controller receives."""

    def __init__(self):
        self.start = time.monotonic()
        self.seconds = defaultdict(float)
        self.worker = {}
        self.ended = {}

    def pytest_runtest_logreport(self, report):
        name = _file_of(report.nodeid)
        self.seconds[name] += report.duration
        node = getattr(report, "node", None)
        gateway = getattr(node, "gateway", None)
        self.worker[name] = getattr(gateway, "id", "-")
        self.ended[name] = time.monotonic() - self.start

    def pytest_terminal_summary(self, terminalreporter):
        if not self.seconds:
            return
        terminalreporter.section("file costs")
        per_worker = defaultdict(float)
        for name, secs in sorted(self.seconds.items(), key=lambda kv: -kv[1]):
            per_worker[self.worker[name]] += secs
            terminalreporter.write_line(f"{secs:8.1f} s  {self.worker[name]:>4}  "
                                        f"ended at {self.ended[name]:7.1f} s  {name}")
        terminalreporter.write_line("busy per worker: " + ", ".join(
            f"{w} {s:.0f} s" for w, s in sorted(per_worker.items())))


def pytest_configure(config):
    if not hasattr(config, "workerinput"):  # the controller (or a run without xdist)
        config.pluginmanager.register(FileCosts(), "kp-file-costs")
