"""Every chapter executes through papermill at smoke scale, and its notebook pair is in sync."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest
from papermill.exceptions import PapermillExecutionError

from aligninfo.book import run
from aligninfo.book.chapter import load_results

CHAPTERS = run.chapters()


def test_there_are_chapters() -> None:
    assert len(CHAPTERS) >= 3


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_pair_in_sync(chapter: Path) -> None:
    assert run.out_of_sync(chapter) is None, "run: python -m aligninfo sync"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_has_validated_parameters(chapter: Path) -> None:
    cells = run.read_notebook(chapter).cells
    tagged = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    source = tagged[0].source
    for name in ("scale", "seed"):
        assert f"{name} = " in source


# The chapters that read other chapters' results (run.UPSTREAM) run in one worker, after the
# chapters they read and with the same results folder, so that each chapter runs once.
READERS = {c for chapter in run.UPSTREAM for c in (chapter, *run.UPSTREAM[chapter])}
SMOKE_RUNS = [
    pytest.param(c, marks=pytest.mark.xdist_group("readers")) if c.stem in READERS else c
    for c in CHAPTERS
]


@pytest.mark.chapters
@pytest.mark.parametrize("chapter", SMOKE_RUNS, ids=lambda p: p.stem)
def test_chapter_runs_at_smoke_scale(chapter: Path, tmp_path: Path, smoke_results: Path) -> None:
    out = tmp_path / "out.ipynb"
    folder = smoke_results if chapter.stem in READERS else tmp_path
    run.run_chapter(chapter, out, {"scale": "smoke", "results_dir": str(folder)}, progress=False)
    executed = nbformat.read(out, as_version=4)
    errors = [
        o
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert not errors
    record = load_results(chapter.stem, {"scale": "smoke"}, folder)
    assert record is not None and record["parameters"]["scale"] == "smoke"


@pytest.mark.chapters
def test_bad_parameter_stops_the_chapter_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="scale"):  # refused before a kernel starts
        run.run_chapter(CHAPTERS[0], tmp_path / "out.ipynb", {"scale": "huge"}, progress=False)
    assert not (tmp_path / "out.ipynb").exists()
    with pytest.raises(PapermillExecutionError, match="scale"):  # plain papermill: by configure
        papermill.execute_notebook(
            str(run.pair_of(CHAPTERS[0])),
            str(tmp_path / "out.ipynb"),
            parameters={"scale": "huge"},
            progress_bar=False,
            cwd=str(run.BOOK),
        )


def test_paired_notebooks_have_no_stray_outputs() -> None:
    for chapter in CHAPTERS:
        pair = nbformat.read(run.pair_of(chapter), as_version=4)
        for cell in pair.cells:
            if cell.cell_type == "code" and cell.outputs:
                assert run.CHECK_MARK in cell.source, f"{chapter.stem}: unchecked output"
