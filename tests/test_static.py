"""The static checks CI runs with the tests: ruff (lint and format) over the tree, and mypy
(strict) over the packages ``pyproject.toml`` names, so a type error fails CI like a test.

mypy is what keeps the ``@immutable`` records (``bot/_records.py``) immutable: an assignment
to one of their fields is a type error, not a run-time one. Both tools are pinned to a minor
release in ``pyproject.toml`` (``[test]``), so that a new release cannot fail a fresh clone.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mypy import api as mypy_api

ROOT = Path(__file__).resolve().parent.parent


def _ruff(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_ruff_finds_nothing() -> None:
    checked = _ruff("check", "--no-cache", ".")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_tree_is_formatted() -> None:
    formatted = _ruff("format", "--check", "--no-cache", ".")
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_mypy_finds_nothing_in_the_typed_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # the packages are named as modules, found from here
    stdout, stderr, status = mypy_api.run(
        ["--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(tmp_path / "cache")]
    )
    assert status == 0, stdout + stderr
    assert "Success: no issues found" in stdout
