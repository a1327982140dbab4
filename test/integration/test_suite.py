"""The suite's own rules, under pytest-xdist as `make integration` runs it: in CI a skipped
test fails the run (ci_skips.py), the slowest tests are still listed, work done through
paths.once runs once for all workers, and no kp-build runs on the shared cache while a test
has it to itself.  Each case runs pytest, or paths.py, in processes of its own."""
from __future__ import annotations

import os
import subprocess
import sys
import time

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


def test_kp_build_waits_while_a_test_has_the_cache_to_itself(tmp_path):
    """A kp-build on the shared cache waits while another worker's test holds
    paths.cache_to_itself (the eviction test); one on another cache does not."""
    log = tmp_path / "log"
    calling = tmp_path / "calling"
    fake = tmp_path / "kp-build"
    fake.write_text(f"#!/bin/sh\necho \"kp-build $2\" >> {log}\n")
    fake.chmod(0o755)
    env = dict(os.environ, KP_BUILD_DIR=str(tmp_path / "build"), KP_BUILD_BIN=str(fake),
               PYTHONPATH=str(HERE))
    # Holds the cache until the shared-cache kp-build has been called, and 2 s more.
    holder = ("import os, time, paths\n"
              "with paths.cache_to_itself():\n"
              f"    open({str(log)!r}, 'a').write('held\\n')\n"
              f"    while not os.path.exists({str(calling)!r}):\n"
              "        time.sleep(0.05)\n"
              "    time.sleep(2)\n"
              f"    open({str(log)!r}, 'a').write('released\\n')\n")
    build = ("import sys, paths\n"
             "cache = paths.CACHE if sys.argv[1] == 'shared' else paths.BUILD / 'other'\n"
             f"open({str(calling)!r}, 'w') if sys.argv[1] == 'shared' else None\n"
             "assert paths.kp_build('--cache-dir', cache).returncode == 0\n")
    a = subprocess.Popen([sys.executable, "-c", holder], env=env)
    try:
        for _ in range(600):
            if log.exists():
                break
            time.sleep(0.05)
        for which in ("other", "shared"):
            subprocess.run([sys.executable, "-c", build, which], env=env, check=True,
                           timeout=60)
    finally:
        a.wait(timeout=60)
    other = str(tmp_path / "build/other")
    shared = str(tmp_path / "build/kp-build-cache")
    assert log.read_text().split("\n") == ["held", f"kp-build {other}", "released",
                                           f"kp-build {shared}", ""]
