"""Chapter 10 at smoke scale: what it says of multiplicity, of the kNN probe along k and of the
budget axis is what its own points hold."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures import smoke_record

from aligninfo.stats import holm


@pytest.fixture(scope="module")
def protocol(smoke_results: Path) -> dict:
    return smoke_record("10_protocol", smoke_results)["results"]


def _distinct(res: dict, setting: str) -> list[dict]:
    return list({p["key"]: p for p in res["points"] if p["setting"] == setting}.values())


@pytest.mark.chapters
@pytest.mark.xdist_group("readers")
def test_decided_cells_are_counted_against_chance_per_setting(protocol: dict) -> None:
    for setting, counts in protocol["by_chance"].items():
        points = _distinct(protocol, setting)
        cells = [v for p in points for v in p["verdicts"]]
        alpha = protocol["alpha"]["07_synthetic" if setting == "synthetic" else "08_lfmc"]
        assert counts["points"] == len(points)  # the centre once, not once per axis
        assert counts["cells"] == len(cells)
        assert counts["decided"] == sum(v["verdict"] != "no detectable cost" for v in cells)
        assert counts["expected_at_most"] == pytest.approx(alpha * len(cells))


@pytest.mark.chapters
@pytest.mark.xdist_group("readers")
def test_the_knn_probe_along_k_is_set_against_the_linear_one(protocol: dict) -> None:
    for setting, rows in protocol["knn_along_k"].items():
        chapter = "07_synthetic" if setting == "synthetic" else "08_lfmc"
        centre_k = protocol["centre"][chapter]["embedding_dim"]
        along = {
            centre_k if p["label"] == "centre" else p["label"]: p
            for p in protocol["points"]
            if p["setting"] == setting and p["factor"] == "k"
        }
        assert [r["k"] for r in rows] == sorted(along)  # every point of the axis, in order
        for r in rows:
            score = {(s["method"], s["probe"]): s["mean"] for s in along[r["k"]]["scores"]}
            raw = score["raw", "knn"] - score["raw", "linear"]
            assert r["raw_knn_minus_linear"] == pytest.approx(raw)
            pure = [
                score[m, "knn"] - score[m, "linear"]
                for m in ("info_nce", "barlow_twins", "vicreg")
                if (m, "knn") in score
            ]
            assert r["pure_knn_minus_linear"] == pytest.approx(sum(pure) / len(pure))
            assert r["raw_dim"] > 0


@pytest.mark.chapters
@pytest.mark.xdist_group("readers")
def test_the_budget_axis_is_what_the_grid_holds(protocol: dict) -> None:
    for setting in protocol["settings"]:
        labels = [
            p["label"]
            for p in protocol["points"]
            if p["setting"] == setting and p["factor"] == "budget" and p["label"] != "centre"
        ]
        assert labels == protocol["budget_points"]


def _axis(protocol: dict, setting: str, factor: str) -> list[dict]:
    return [p for p in protocol["points"] if p["setting"] == setting and p["factor"] == factor]


@pytest.mark.chapters
@pytest.mark.xdist_group("readers")
def test_a_comparison_along_an_axis_is_one_holm_family(protocol: dict) -> None:
    assert protocol["axis_verdicts"]
    for entry in protocol["axis_verdicts"]:
        setting, factor = entry["setting"], entry["factor"]
        alpha = protocol["alpha"]["07_synthetic" if setting == "synthetic" else "08_lfmc"]
        cells = [
            v
            for p in _axis(protocol, setting, factor)
            for v in p["verdicts"]
            if (v["method"], v["reference"], v["probe"])
            == (entry["method"], entry["reference"], entry["probe"])
        ]
        assert len(cells) == len(entry["verdicts"])  # every point of the axis it was run at
        rejected = holm([c["p_value"] for c in cells], alpha)[1]
        for cell, ok, got in zip(cells, rejected, entry["verdicts"], strict=True):
            assert got["at_point"] == cell["verdict"]
            assert got["verdict"] == (cell["verdict"] if ok else "no detectable cost")


@pytest.mark.chapters
@pytest.mark.xdist_group("readers")
def test_only_a_difference_decided_both_ways_depends_on_the_axis(protocol: dict) -> None:
    for entry in protocol["axis_verdicts"]:
        if (entry["reference"], entry["probe"]) != ("raw", "linear") or entry["method"] not in (
            "info_nce",
            "barlow_twins",
            "vicreg",
        ):
            continue
        seen = {c["verdict"] for c in entry["verdicts"]}
        setting, factor, method = entry["setting"], entry["factor"], entry["method"]
        reverses = method in protocol["reverses"][setting][factor]
        assert reverses == ({"costs", "gains"} <= seen)
        partly = method in protocol["partly_decided"][setting][factor]
        assert partly == (len(seen) == 2 and "no detectable cost" in seen)
