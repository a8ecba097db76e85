"""Chapter 8 (LFMC) as a sweep point: parameters validated, results file complete for the sweep."""

from __future__ import annotations

from pathlib import Path

import pytest
from papermill.exceptions import PapermillExecutionError

from aligninfo.book import run
from aligninfo.book.chapter import load_results
from aligninfo.stats import VERDICTS

CHAPTER = "08_lfmc"
POINT = {"scale": "smoke", "embedding_dim": 64, "methods": ["raw", "info_nce", "simclr"]}


@pytest.mark.chapters
def test_a_sweep_point_saves_intervals_verdicts_and_the_contrast(
    data_dir: Path, tmp_path: Path
) -> None:
    run.run_chapter(
        CHAPTER,
        tmp_path / "out.ipynb",
        {**POINT, "data_dir": str(data_dir), "results_dir": str(tmp_path)},
        progress=False,
    )
    record = load_results(CHAPTER, POINT, tmp_path)
    assert record is not None
    res = record["results"]
    assert res["settings"]["embedding_dim"] == 64
    assert sorted(res["settings"]["methods"]) == sorted(POINT["methods"])
    got = {(s["pair"], s["method"], s["view"], s["probe"]) for s in res["scores"]}
    for pair in ("A", "B"):
        for method in POINT["methods"]:
            assert {(pair, method, "z1", "linear"), (pair, method, "z1", "knn")} <= got
        assert (pair, "info_nce", "p1", "linear") in got  # the projector view
        assert res["temperature"][pair]["info_nce"] is not None  # learnt and reported
        assert res["temperature"][pair]["simclr"] is None
    for s in res["scores"]:
        assert s["low"] <= s["high"] and 0 < s["level"] < 1
    diffs = {
        (d["pair"], d["probe"], d["column"], d["method"], d["reference"]): d
        for d in res["differences"]
    }
    for pair in ("A", "B"):
        for probe in ("linear", "knn"):
            for ref in ("raw", "simclr"):
                d = diffs[(pair, probe, "backbone", "info_nce", ref)]
                assert d["verdict"] in VERDICTS and d["p_adjusted"] >= d["p_value"]
    assert {(c["probe"], c["reference"], c["method"]) for c in res["contrast"]} == {
        (p, r, "info_nce") for p in ("linear", "knn") for r in ("raw", "simclr")
    }
    assert res["chosen"] == "info_nce"  # the only alignment objective of the run


@pytest.mark.chapters
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("methods", ["raw", "simclr"]),  # no alignment objective
        ("methods", ["raw", "clip"]),
        ("workers", 0),
        ("temperature", -0.1),
        ("embedding_dim", 1),
    ],
)
def test_bad_parameters_stop_the_chapter_naming_them(
    tmp_path: Path, name: str, value: object
) -> None:
    with pytest.raises(PapermillExecutionError, match=name):
        run.run_chapter(
            CHAPTER,
            tmp_path / "out.ipynb",
            {"scale": "smoke", name: value, "results_dir": str(tmp_path)},
            progress=False,
        )
