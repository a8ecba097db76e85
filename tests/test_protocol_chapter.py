"""Chapter 10 at smoke scale: its centres are chapters 7 and 8 as the book runs them (reused, not
recomputed), its other points train the sweep's methods lean, and its results say so."""

from __future__ import annotations

from pathlib import Path

import pytest

from aligninfo.book import run
from aligninfo.book.chapter import find_results, load_results, results_key

SMOKE = {"scale": "smoke"}


def _record(chapter: str, folder: Path) -> dict:
    record = load_results(chapter, SMOKE, folder)
    if record is None:  # not yet run by test_chapters in this worker
        run.run_chapter(chapter, None, SMOKE | {"results_dir": str(folder)}, progress=False)
        record = load_results(chapter, SMOKE, folder)
    assert record is not None
    return record


@pytest.mark.chapters
@pytest.mark.xdist_group("readers")
def test_the_sweep_reads_the_chapters_own_runs_as_centres(smoke_results: Path) -> None:
    centres = {c: _record(c, smoke_results) for c in ("07_synthetic", "08_lfmc")}
    res = _record("10_protocol", smoke_results)["results"]
    points = res["points"]
    for setting, chapter in (("synthetic", "07_synthetic"), ("lfmc_A", "08_lfmc")):
        mine = [p for p in points if p["setting"] == setting]
        # the centre of every axis is the chapter's own run at this scale, all its methods
        centre = {p["key"] for p in mine if p["label"] == "centre"}
        assert centre == {centres[chapter]["key"]}
        assert set(res["centre"][chapter]) >= {"embedding_dim", "temperature", "epochs", "width"}
        assert (
            res["centre"][chapter]["embedding_dim"]
            == (centres[chapter]["parameters"]["embedding_dim"])
        )
        for p in mine:
            if p["label"] == "centre":
                continue
            assert set(p["parameters"]["methods"]) <= set(res["methods"])  # the sweep's methods
            assert p["parameters"]["extras"] is False  # both chapters run lean
            assert p["scores"] and all(s["low"] <= s["mean"] <= s["high"] for s in p["scores"])
            found, why = find_results(chapter, p["parameters"], smoke_results)
            assert found is not None and found["key"] == p["key"], why
    # LFMC is read on the view its verdicts read, the optical backbone (not Z2 or both), and
    # the learnt temperature is the mean over seeds that chapter 8 saved (not mean and sd mixed)
    lfmc = centres["08_lfmc"]["results"]
    centre_a = next(p for p in points if p["setting"] == "lfmc_A" and p["label"] == "centre")
    z1 = {
        (s["method"], s["probe"]): s["mean"]
        for s in lfmc["scores"]
        if s["pair"] == "A" and s["view"] == ("fused" if s["method"] == "comm" else "z1")
    }
    assert {(s["method"], s["probe"]): s["mean"] for s in centre_a["scores"]} == z1
    assert centre_a["learnt_tau"] == lfmc["temperature"]["A"]["info_nce"][0]
    # the off-centre points' keys differ from the centre's: they were computed, not the centre
    others = {p["key"] for p in points if p["label"] != "centre"}
    assert others and not others & {c["key"] for c in centres.values()}
    assert (
        results_key("07_synthetic", centres["07_synthetic"]["requested"])
        == (centres["07_synthetic"]["key"])
    )


@pytest.mark.chapters
@pytest.mark.xdist_group("readers")
def test_the_score_figure_reads_both_probes_on_every_axis(smoke_results: Path) -> None:
    res = _record("10_protocol", smoke_results)["results"]
    panels = res["score_panels"]
    for setting in res["settings"]:
        for factor in ("k", "tau", "budget"):
            axis = {
                p["label"]: p["scores"]
                for p in res["points"]
                if p["setting"] == setting and p["factor"] == factor
            }
            for probe in ("linear", "knn"):
                shown = [p for p in panels if (p["setting"], p["factor"], p["probe"]) == (
                    setting, factor, probe)]  # fmt: skip
                assert {p["method"] for p in shown} >= {"raw", "info_nce"}
                for panel in shown:  # each marker is the score of its point
                    for label, mean, low, high in panel["points"]:
                        score = next(
                            s
                            for s in axis[label]
                            if (s["method"], s["probe"]) == (panel["method"], probe)
                        )
                        assert [mean, low, high] == [score["mean"], score["low"], score["high"]]


@pytest.mark.chapters
@pytest.mark.xdist_group("readers")
def test_the_text_says_what_the_points_off_the_centre_train_on_the_axes_they_are(
    smoke_results: Path,
) -> None:
    res = _record("10_protocol", smoke_results)["results"]
    off_centre = {p["factor"] for p in res["points"] if p["label"] != "centre"}
    for factor, words in (("k", "along k"), ("tau", "temperature points"), ("budget", "budget")):
        assert (words in res["trained_text"]) == (factor in off_centre), (
            factor,
            res["trained_text"],
        )
