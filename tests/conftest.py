"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real data folder: $ALIGNINFO_DATA if set, else ../shared/data from the repo root."""
    env = os.environ.get("ALIGNINFO_DATA", "")
    folder = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if not folder.is_dir():
        pytest.skip(f"real data folder {folder} is absent (set ALIGNINFO_DATA to its location)")
    return folder
