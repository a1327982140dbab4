"""What a new user meets first (issue 17): `make clean` on a fresh clone, the tools in
build/bin where the README and the demo say they are."""
from __future__ import annotations

import os
import subprocess

from paths import BUILD, REPO


def test_make_clean_on_a_fresh_clone(tmp_path):
    """A clone that built nothing (no build/linux) cleans without error and stays clean."""
    clone = tmp_path / "kp"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    assert not (clone / "build").exists()
    r = subprocess.run(["make", "clean"], cwd=clone, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    status = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=clone,
                            capture_output=True, text=True, check=True).stdout
    assert status == "", status


def test_tools_are_where_the_readme_says():
    readme = (REPO / "README.md").read_text()
    assert "build/bin" in readme
    for tool in ("kp-build", "kpctl", "diffgen"):
        path = BUILD / "bin" / tool
        assert path.is_file() and os.access(path, os.X_OK), f"{path} missing: run 'make all'"
        r = subprocess.run([str(path), "--help"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and "Usage" in r.stdout, (tool, r.stdout, r.stderr)
    demo = (REPO / "scripts/demo.sh").read_text()
    assert "$build/bin/kp-build" in demo and "$build/bin/kpctl" in demo
