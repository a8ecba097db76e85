"""Chapter 11 at smoke scale: its advice reads each group it picks among as one Holm family,
shows both probes, and says what each setting's CoMM rows read."""

from __future__ import annotations

from pathlib import Path

import pytest

from aligninfo.advice import rejudge
from aligninfo.axes import OBJECTIVE_GROUPS
from aligninfo.book import run
from aligninfo.book.chapter import load_results

SMOKE = {"scale": "smoke"}
CHAPTER = "11_when_to_align"
RESCUE = ("alignment + specificity", "fused")  # picked among together: "such an objective gains"
POOL = {m: "rescue" if g in RESCUE else g for g, ms in OBJECTIVE_GROUPS.items() for m in ms}
SHORT = {"costs": "costs", "no detectable cost": "n.d.", "gains": "gains"}


@pytest.fixture(scope="module")
def results(smoke_results: Path) -> dict:
    record = load_results(CHAPTER, SMOKE, smoke_results)
    if record is None:  # not yet run by test_chapters in this worker
        run.run_chapter(CHAPTER, None, SMOKE | {"results_dir": str(smoke_results)}, progress=False)
        record = load_results(CHAPTER, SMOKE, smoke_results)
    assert record is not None
    return record["results"]


@pytest.mark.chapters
@pytest.mark.xdist_group("readers")
def test_each_group_the_advice_picks_among_is_one_holm_family(results: dict) -> None:
    families: dict[tuple, list[dict]] = {}
    for r in results["verdicts"]:
        key = (r["setting"], r["reference"], r["probe"], POOL[r["method"]])
        families.setdefault(key, []).append(r)
    assert any(len(members) > 1 for members in families.values())
    for members in families.values():
        fields = ("chapter_verdict", "p_value", "estimate")
        given = rejudge(*({r["method"]: r[f] for r in members} for f in fields), results["alpha"])
        assert {r["method"]: r["verdict"] for r in members} == given


@pytest.mark.chapters
@pytest.mark.xdist_group("readers")
def test_the_table_shows_both_probes_and_the_advice_of_each(results: dict) -> None:
    rows = results["verdicts"]
    by_probe = results["advice_by_probe"]
    for setting, line in results["table"].items():
        # every objective with its linear / kNN verdicts against the raw inputs
        mine = {
            (r["method"], r["probe"]): r["verdict"]
            for r in rows
            if r["setting"] == setting and r["reference"] == "raw"
        }
        for m in {m for m, _ in mine}:
            linear, knn = (SHORT.get(mine.get((m, p)), "–") for p in ("linear", "knn"))
            assert f"{m} {linear} / {knn}" in line, (m, line)
        linear, knn = by_probe["linear"][setting], by_probe["knn"][setting]
        assert linear in line and (knn == linear or f"kNN probe: {knn}" in line)


@pytest.mark.chapters
@pytest.mark.xdist_group("readers")
def test_undecided_follows_the_kind_and_comm_says_what_it_reads(results: dict) -> None:
    open_ = {"undecided", "undecided, specificity gains", "specificity undecided"}
    decided = {"align", "mixed", "align + specificity", "keep non-aligned", "not run"}
    for setting, kind in results["advice_kind"].items():
        if kind in open_ | decided:
            assert results["undecided"][setting] == (kind in open_), (setting, kind)
    for r in results["verdicts"]:
        if r["method"] == "comm":
            assert f"read on {r['representation']} in " in results["comm_reads"]
