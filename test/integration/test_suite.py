"""The suite's own rules, under pytest-xdist as `make integration` runs it: in CI a skipped
test fails the run (ci_skips.py), the slowest tests are still listed, and work done through
paths.once runs once for all workers.  Each case runs pytest on a small suite of its own."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from paths import HERE

CONFTEST = f"""
import sys
sys.path.insert(0, {str(HERE)!r})
from ci_skips import pytest_sessionfinish  # noqa: F401
"""


def run_suite(tmp_path, files: dict[str, str], *args: str, ci: bool) -> subprocess.CompletedProcess:
    suite = tmp_path / "suite"
    suite.mkdir()
    for name, text in files.items():
        (suite / name).write_text(text)
    env = dict(os.environ, CI="true" if ci else "")
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "--rootdir", str(suite), "--basetemp", str(tmp_path / "tmp"),
                           *args, str(suite)],
                          cwd=suite, capture_output=True, text=True, timeout=120, env=env)


SKIPPING = {
    "conftest.py": CONFTEST,
    "test_a.py": "import time\n\ndef test_slow():\n    time.sleep(0.3)\n",
    "test_b.py": "import pytest\n\ndef test_skips():\n    pytest.skip('not here')\n",
}


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_skip_fails_the_ci_run(tmp_path, workers):
    r = run_suite(tmp_path, SKIPPING, "-n", workers, "--dist", "loadfile", "--durations=5",
                  ci=True)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "ci: skipped in CI, counted as a failure: test_b.py::test_skips" in out, out
    assert "1 passed, 1 skipped" in out, out
    assert "slowest 5 durations" in out and "test_a.py::test_slow" in out, out


def test_a_skip_outside_ci_is_a_skip(tmp_path):
    r = run_suite(tmp_path, SKIPPING, "-n", "2", "--dist", "loadfile", ci=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "counted as a failure" not in r.stdout


def test_once_is_once_for_all_workers(tmp_path):
    """Two files on two workers, each with a session fixture that asks for the same work:
    it is done once, and the second worker waits until it is done."""
    log, users = tmp_path / "log", tmp_path / "users"
    fixture = CONFTEST + f"""
import os
import time
import pytest
from pathlib import Path
from paths import once

def work():
    with open({str(log)!r}, "a") as f:
        f.write("start\\n")
        f.flush()
        time.sleep(1)
        f.write("done\\n")

@pytest.fixture(scope="session")
def built(tmp_path_factory):
    once(tmp_path_factory, "work", work)
    with open({str(users)!r}, "a") as f:
        f.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")
    return Path({str(log)!r}).read_text()
"""
    files = {"conftest.py": fixture}
    for name in ("a", "b"):
        files[f"test_{name}.py"] = "def test_it(built):\n    assert built == 'start\\ndone\\n'\n"
    r = run_suite(tmp_path, files, "-n", "2", "--dist", "loadfile", ci=True)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "2 passed" in out, out
    assert log.read_text() == "start\ndone\n"
    assert sorted(users.read_text().split()) == ["gw0", "gw1"], out
