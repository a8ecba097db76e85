"""Shared pytest fixtures.

Data: the loaders are tested on two sources. ``fake`` is the small set of files in the real
layout committed under ``tests/data`` (see ``tests/fixtures.py``): it runs everywhere, so every
error path (damaged file, wrong hash, read-only folder, missing file) is tested on every clone.
``real`` is the real data folder (``$ALIGNINFO_DATA``, else ``../shared/data``): tests on it skip,
with the reason, where it is absent.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from fixtures import fake_registry

from aligninfo.data.registry import REGISTRY

SOURCES = ("fake", "real")
"""Where loader tests read data from: the committed fake files, or the real data folder."""

T = TypeVar("T")


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


@pytest.fixture(params=SOURCES)
def source(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A data directory: the fake files (registry pointed at them meanwhile) or the real folder."""
    if request.param == "real":
        yield request.getfixturevalue("data_dir")
        return
    with fake_registry() as root:
        yield root


def load_source(request: pytest.FixtureRequest, load: Callable[[Path], T]) -> T:
    """Run a loader on the source named by ``request.param`` (for module-scoped fixtures).

    Args:
        request: Request of a fixture parametrised over :data:`SOURCES`.
        load: The loader, e.g. ``lfmc.load``.

    Returns:
        What the loader returns; the test is skipped for ``"real"`` without the real data.
    """
    if request.param == "real":
        return load(request.getfixturevalue("data_dir"))
    with fake_registry() as root:
        return load(root)


def set_mode(folder: Path, dir_mode: int, file_mode: int) -> None:
    """Set the permission bits of a folder and of the files in it."""
    for path in folder.iterdir():
        path.chmod(file_mode)
    folder.chmod(dir_mode)


@pytest.fixture
def copy_dir(request: pytest.FixtureRequest, source: Path, tmp_path: Path) -> Iterator[Path]:
    """A writable copy of the source's data, to damage; yields the copy's data directory.

    Copies the test module's ``DATASET`` folder, or every data set when the module names none.
    Runs once on the fake files and once on the real ones; permissions are restored
    afterwards so that pytest can clean up.
    """
    root = tmp_path / "data"
    datasets = [request.module.DATASET] if hasattr(request.module, "DATASET") else list(REGISTRY)
    for dataset in datasets:
        shutil.copytree(source / dataset, root / dataset)
        set_mode(root / dataset, 0o755, 0o644)
    yield root
    for dataset in datasets:
        set_mode(root / dataset, 0o755, 0o644)
