"""In CI a skipped test is a failure: everything a test needs is there, so a skip means a
test silently did not run.  conftest.py imports the hook; test_suite.py proves it, with
and without xdist workers."""
from __future__ import annotations

import os


def in_ci() -> bool:
    return os.environ.get("CI", "") not in ("", "0", "false")


def pytest_sessionfinish(session, exitstatus):
    """Under xdist the controller decides: its terminal reporter holds every worker's
    reports (a worker's holds only its own, and its exit status is not the run's)."""
    if hasattr(session.config, "workerinput"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if in_ci() and skipped and exitstatus == 0:
        reporter.ensure_newline()
        for report in skipped:
            reporter.write_line(f"ci: skipped in CI, counted as a failure: {report.nodeid}")
        session.exitstatus = 1
