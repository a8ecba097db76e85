"""The chapter template (book/_template.md) runs, and stays out of the book and the chapters."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
import yaml

from aligninfo.book import run

TEMPLATE = run.BOOK / "_template.md"


def test_the_template_is_no_chapter_and_not_in_the_book() -> None:
    assert TEMPLATE.is_file() and run.resolve(TEMPLATE) == TEMPLATE  # runnable by path
    assert TEMPLATE not in run.chapters()
    with pytest.raises(FileNotFoundError, match="no chapter '_template'"):
        run.resolve("_template")
    toc = (run.ROOT / "_toc.yml").read_text()
    assert "_template" not in toc and yaml.safe_load(toc)["format"] == "jb-book"
    config = yaml.safe_load((run.ROOT / "_config.yml").read_text())
    assert config["only_build_toc_files"] is True  # so the build ignores files not in _toc.yml


def test_the_template_shows_every_part_of_a_chapter() -> None:
    cells = run.read_notebook(TEMPLATE).cells
    code = [c.source for c in cells if c.cell_type == "code"]
    tags = [c.metadata.get("tags", []) for c in cells if c.cell_type == "code"]
    assert tags[0] == ["parameters"] and "scale = " in code[0] and "seed = " in code[0]
    assert "configure(" in code[1]
    for part in ("assert ", "glue(", run.CHECK_MARK, "stable(", "save_results("):
        assert any(part in source for source in code), part
    text = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    for part in ("{glue:text}", "_toc.yml", "make sync"):
        assert part in text, part


@pytest.mark.chapters
def test_the_template_runs_at_smoke_scale(tmp_path: Path) -> None:
    out = tmp_path / "out.ipynb"
    run.run_chapter(TEMPLATE, out, {"scale": "smoke", "results_dir": str(tmp_path)}, progress=False)
    executed = nbformat.read(out, as_version=4)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    checked = [c for c in executed.cells if c.source.startswith(run.CHECK_MARK)]
    assert checked and all(c.outputs and c.outputs[0].get("text") for c in checked)
    glued = {
        o.metadata["scrapbook"]["name"]
        for o in outputs
        if o.output_type == "display_data" and "scrapbook" in o.get("metadata", {})
    }
    assert {"rho", "rho_sampled", "n_samples_text", "n_se"} <= glued
    (saved,) = tmp_path.glob("_template-*.json")  # not a chapter: no load_results
    record = json.loads(saved.read_text())
    assert record["parameters"]["scale"] == "smoke"
    assert set(record["results"]) == {"rho", "rho_sampled"}
