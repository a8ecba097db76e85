"""Theory chapters at other seeds: their asserts hold and their glued prose has no NaN.

A chapter's asserts and computed sentences must not depend on the one model its default seed
draws. These seeds were found to draw models of other shapes: chapter 1 at seed 3 (an
information gap that rises over the whole range) and seed 1 (gaps not smallest at share 0);
chapter 5 at seed 1 (aligned representations lose under heavy noise at every share).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from aligninfo.book import run

BOOK = Path(__file__).resolve().parents[1] / "book"


def glued_values(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """The text of every value glued by an executed notebook, by name."""
    values = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("scrapbook")
            if record:
                values[record["name"]] = output["data"].get(
                    record["mime_prefix"] + "text/plain", ""
                )
    return values


@pytest.mark.chapters
@pytest.mark.parametrize(
    ("chapter", "seed"), [("01_model", 3), ("01_model", 1), ("05_when_alignment_hurts", 1)]
)
def test_theory_chapter_at_another_seed(chapter: str, seed: int, tmp_path: Path) -> None:
    out = tmp_path / "out.ipynb"
    run.run_chapter(
        BOOK / f"{chapter}.md",
        out,
        {"scale": "smoke", "seed": seed, "results_dir": str(tmp_path)},
        progress=False,
    )
    executed = nbformat.read(out, as_version=4)
    errors = [
        o
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert not errors
    values = glued_values(executed)
    assert values, "the chapter glues its numbers"
    bad = {
        name: v for name, v in values.items() if v.strip("'\"").lower() in ("nan", "inf", "-inf")
    }
    assert not bad, bad
