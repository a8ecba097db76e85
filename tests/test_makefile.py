"""The Makefile: a relative ALIGNINFO_DATA reaches the kernels absolute; the book build drops
stale cached executions before it runs."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from aligninfo.book import run

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def make(*args: str, **env: str) -> str:
    """Run make in the repository root with some environment; return its output."""
    command = ["make", "-s", "--no-print-directory", *args]
    done = subprocess.run(
        command, cwd=run.ROOT, env=os.environ | env, check=True, capture_output=True, text=True
    )
    return done.stdout


def test_relative_data_folder_is_exported_absolute() -> None:
    shown = make(
        "--eval",
        "show-data: ; @echo $$ALIGNINFO_DATA",
        "show-data",
        ALIGNINFO_DATA="../shared/data",
    )
    assert shown.strip() == os.path.abspath(run.ROOT / ".." / "shared" / "data")


def test_book_invalidates_stale_executions_before_building() -> None:
    lines = make("-n", "book").splitlines()
    invalidate = next(i for i, line in enumerate(lines) if "aligninfo invalidate" in line)
    build = next(i for i, line in enumerate(lines) if "jupyter-book build" in line)
    assert invalidate < build and lines[invalidate].endswith("invalidate _build")
