"""Chapter 8 (LFMC) as a sweep point: parameters validated, results file complete for the sweep,
and its lean mode (``extras=False``) the full run's backbone verdicts only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from papermill.exceptions import PapermillExecutionError

from aligninfo.book import run
from aligninfo.book.chapter import load_results
from aligninfo.stats import VERDICTS

CHAPTER = "08_lfmc"
POINT: dict[str, Any] = {
    "scale": "smoke",
    "embedding_dim": 64,
    "methods": ["raw", "info_nce", "simclr"],
}


def _run(point: dict[str, Any], data_dir: Path, folder: Path) -> dict[str, Any]:
    """Run chapter 8 at ``point`` into ``folder`` (once per folder) and return its record."""
    record = load_results(CHAPTER, point, folder)
    if record is None:
        run.run_chapter(
            CHAPTER,
            None,
            {**point, "data_dir": str(data_dir), "results_dir": str(folder)},
            progress=False,
        )
        record = load_results(CHAPTER, point, folder)
    assert record is not None
    return record


@pytest.fixture(scope="module")
def point_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One results folder for the module's runs of the chapter (the full point runs once)."""
    return tmp_path_factory.mktemp("lfmc_points")


@pytest.mark.chapters
def test_a_sweep_point_saves_intervals_verdicts_and_the_contrast(
    data_dir: Path, point_dir: Path
) -> None:
    record = _run(POINT, data_dir, point_dir)
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
    # the decided count the text argues its Holm family with; with one alignment objective,
    # one family of every objective per reference is the same family, and decides the same
    backbone = [d for d in res["differences"] if d["column"] == "backbone"]
    decided = res["settings"]["decided_backbone"]
    assert decided["comparisons"] == len(backbone)
    assert decided["families"] == sum(d["verdict"] != "no detectable cost" for d in backbone)
    assert decided["every_objective"] == decided["families"]


@pytest.mark.chapters
def test_a_lean_point_computes_the_backbone_verdicts_of_the_full_run_only(
    data_dir: Path, point_dir: Path
) -> None:
    full = _run(POINT, data_dir, point_dir)["results"]
    lean = _run(POINT | {"extras": False}, data_dir, point_dir)["results"]
    assert lean["settings"]["extras"] is False and full["settings"]["extras"] is True
    # the same trainings, probes and bootstrap draws: the backbone's scores and verdicts agree
    read = {(s["pair"], s["method"], s["probe"]): s for s in lean["scores"]}
    assert {s["view"] for s in lean["scores"]} == {"z1"}  # no CoMM: only the optical backbone
    for s in full["scores"]:
        if s["view"] == "z1":
            got = read.pop((s["pair"], s["method"], s["probe"]))
            assert got == pytest.approx(s, abs=1e-9)
    assert not read
    backbone = [d for d in full["differences"] if d["column"] == "backbone"]
    assert len(lean["differences"]) == len(backbone)
    for got, want in zip(lean["differences"], backbone, strict=True):
        assert got == pytest.approx(want, abs=1e-9)
    # and nothing that chapter 10 does not read
    assert lean["contrast"] == [] and lean["chosen"] is None and lean["sigma_z1"] is None
    assert set(lean["r2_raw"]) == {"ridge"} and set(full["r2_raw"]) == {"ridge", "forest"}
    assert lean["headline"][0]["raw"]["z2"] is None


@pytest.mark.chapters
def test_a_verdict_does_not_depend_on_the_other_methods_of_the_run(
    data_dir: Path, point_dir: Path
) -> None:
    """Holm's families are one method against one reference on one view (its probes): a run
    without SimCLR judges InfoNCE against the raw inputs exactly as a run with it does."""
    full = _run(POINT, data_dir, point_dir)["results"]
    fewer = _run(POINT | {"methods": ["raw", "info_nce"], "extras": False}, data_dir, point_dir)
    got = {(d["pair"], d["probe"]): d for d in fewer["results"]["differences"]}
    want = [
        d
        for d in full["differences"]
        if d["column"] == "backbone" and (d["method"], d["reference"]) == ("info_nce", "raw")
    ]
    assert len(want) == len(got) == 4  # two pairs x two probes
    for d in want:
        assert got[(d["pair"], d["probe"])] == pytest.approx(d, abs=1e-12)
    families = {(d["pair"], d["column"], d["method"], d["reference"]) for d in full["differences"]}
    assert len(full["differences"]) == 2 * len(families)  # each family: one row per probe
    assert "probes" in full["settings"]["holm_family"]
    assert full["settings"]["input_dims"]["optical"] == 36


@pytest.mark.chapters
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("methods", ["raw", "simclr"]),  # no alignment objective
        ("methods", ["raw", "clip"]),
        # workers: refused before a kernel starts (tests/test_chapter_config.py)
        ("temperature", -0.1),
        ("embedding_dim", 1),
        ("extras", "no"),
        ("n_boot", 50),  # too few draws for Holm's first step in a family of two probes
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


def test_the_chance_count_is_said_as_an_upper_bound() -> None:
    # alpha * n is an upper bound on the expected number decided by chance (Holm over two probes
    # decides each comparison with a probability between alpha / 2 and alpha), not an estimate
    text = " ".join((run.BOOK / f"{CHAPTER}.md").read_text().split())
    assert "by chance alone at most {glue:text}`chance_backbone" in text
    assert "by chance alone about" not in text
