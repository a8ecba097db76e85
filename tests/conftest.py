"""Shared pytest fixtures."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def smoke_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One results folder for the chapters run at smoke scale by one test worker.

    Tests of the chapters that read others' results (``run.UPSTREAM``) and of those results
    share it and the xdist group ``"readers"``, so that each chapter runs once.
    """
    return tmp_path_factory.mktemp("smoke_results")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real data folder: $ALIGNINFO_DATA if set, else ../shared/data from the repo root."""
    env = os.environ.get("ALIGNINFO_DATA", "")
    folder = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if not folder.is_dir():
        pytest.skip(f"real data folder {folder} is absent (set ALIGNINFO_DATA to its location)")
    return folder


def set_mode(folder: Path, dir_mode: int, file_mode: int) -> None:
    """Set the permission bits of a folder and of the files in it."""
    for path in folder.iterdir():
        path.chmod(file_mode)
    folder.chmod(dir_mode)


@pytest.fixture
def copy_dir(request: pytest.FixtureRequest, data_dir: Path, tmp_path: Path) -> Iterator[Path]:
    """A writable copy of the test module's ``DATASET`` folder; yields its parent folder.

    Permissions are restored afterwards so that pytest can clean up.
    """
    folder = tmp_path / request.module.DATASET
    shutil.copytree(data_dir / request.module.DATASET, folder)
    set_mode(folder, 0o755, 0o644)
    yield tmp_path
    set_mode(folder, 0o755, 0o644)
