"""Theory chapters run their independent trainings in worker processes: same results as serial.

Chapters 3-6 hand their trainings to :func:`aligninfo.experiment.parallel_map` with their
``workers`` parameter. Chapter 4 at smoke scale trains four objectives, so two workers really
share the jobs; its saved results must not depend on the number of workers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aligninfo.book import run
from aligninfo.book.chapter import load_results

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTER = "04_sigma_informativeness"


@pytest.mark.chapters
def test_chapter_4_serial_and_parallel_results_are_equal(tmp_path: Path) -> None:
    records = {}
    for workers in (1, 2):
        folder = tmp_path / f"workers{workers}"
        run.run_chapter(
            BOOK / f"{CHAPTER}.md",
            tmp_path / f"out{workers}.ipynb",
            {"scale": "smoke", "workers": workers, "results_dir": str(folder)},
            progress=False,
        )
        records[workers] = load_results(CHAPTER, {"scale": "smoke"}, folder)
    serial, parallel = records[1], records[2]
    assert serial is not None and parallel is not None
    assert len(serial["results"]["trained"]) == 4  # four jobs for two workers
    assert serial["results"] == parallel["results"]
