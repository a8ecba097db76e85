"""Chapters' own checks hold at seeds other than 0, the one their tolerances were first fitted to.

Each seed below stopped its chapter on an in-chapter assert whose tolerance was a number fitted
to seed 0: chapter 1 at seed 4 (the plug-in mutual information, 3 standard errors off), chapter 3
at seed 2 (a trained encoder's R² further from the ceiling than 0.05); at seeds 6 and 8 its text
said an MLP had dropped what only X1 sees from a probe that did not detect it. Chapter 1 at seed
25 is 2.6 standard errors off. Chapter 3's paired probe test at seeds 2 and 8 once sat on its
threshold (z = 4.65 and 5.02), so that its verdict turned on the redraw's seed (reviewer).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from aligninfo.book import run


def glued(notebook: nbformat.NotebookNode, name: str) -> str:
    """The text glued under ``name`` by an executed notebook."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("scrapbook", {})
            if record.get("name") == name:
                return str(output["data"][record["mime_prefix"] + "text/plain"])
    raise KeyError(name)


def run_at(chapter: str, seed: int, folder: Path) -> nbformat.NotebookNode:
    """Execute ``chapter`` at smoke scale and ``seed``; papermill raises if a cell fails."""
    return run.run_chapter(
        chapter, None, {"scale": "smoke", "seed": seed, "results_dir": str(folder)}, progress=False
    )


@pytest.mark.chapters
@pytest.mark.parametrize("seed", [4, 25])
def test_model_chapter_checks_hold(seed: int, tmp_path: Path) -> None:
    executed = run_at("01_model", seed, tmp_path)
    assert float(glued(executed, "mi_tolerance")) > 0


@pytest.mark.chapters
def test_linear_alignment_checks_hold_and_the_text_follows_the_paired_probes(
    tmp_path: Path,
) -> None:
    # seed 2: a trained encoder's R² further from the ceiling than 0.05; seed 8: the text said
    # "removed what only X1 sees" from a probe that did not detect it (reviewer); seed 3: F's probe
    # scores lower from F than from F̃. Measured at smoke, z = +7.7, +8.1 and -7.9 (over three
    # other redraw seeds: 7.7-7.8, 7.4-8.3, -8.3 to -7.7), clear of the verdict's 5 either way.
    for seed in (2, 3, 8):
        executed = run_at("03_linear_alignment", seed, tmp_path)
        verdict = glued(executed, "mlp_f_verdict")
        gain, se = (float(glued(executed, f"mlp_paired_{n}")) for n in ("gain", "se"))
        assert "removed" not in verdict
        assert abs(abs(gain / se) - 5) > 1.5, f"seed {seed} sits on the threshold: z = {gain / se}"
        detected = abs(gain) > 5 * se
        assert ("reading part of what only X₁ sees" in verdict) == detected, (seed, gain, se)
        assert ("does not show" in verdict) == (not detected), (seed, verdict)
