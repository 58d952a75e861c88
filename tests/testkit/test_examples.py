"""The examples folder is a project of its own (its own pytest.ini, outside ``testpaths``): CI
runs it here, exactly as its README says, offline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_examples_pass_as_documented() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "examples", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout and "error" not in run.stdout
