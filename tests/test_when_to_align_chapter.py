"""Chapter 11 at smoke scale: its advice reads each group it picks among as one Holm family,
shows both probes, and says what each setting's CoMM rows read; its sweep figure reads chapter
10's axis families and its sweep advice each point's own verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from aligninfo.advice import advise, rejudge
from aligninfo.axes import OBJECTIVE_GROUPS
from aligninfo.book import run
from aligninfo.book.chapter import load_results
from aligninfo.stats import holm_draws

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
    open_ |= {"learned representation costs"}
    decided = {"align", "mixed", "align + specificity", "keep non-aligned", "not run"}
    for setting, kind in results["advice_kind"].items():
        if kind in open_ | decided:
            assert results["undecided"][setting] == (kind in open_), (setting, kind)
    for r in results["verdicts"]:
        if r["method"] == "comm":
            assert f"read on {r['representation']} in " in results["comm_reads"]


@pytest.fixture(scope="module")
def protocol(results: dict, smoke_results: Path) -> dict:
    record = load_results("10_protocol", SMOKE, smoke_results)  # run by chapter 11
    assert record is not None
    return record["results"]


def point_groups(point: dict, ref: str, alpha: float) -> dict[str, dict[str, str]]:
    """{pool: {method: verdict}} against ``ref`` at one sweep point, each pool one family."""
    out: dict[str, dict[str, str]] = {}
    for pool in ("pure alignment", "rescue"):
        saved = [
            v
            for v in point["verdicts"]
            if POOL.get(v["method"]) == pool and (v["reference"], v["probe"]) == (ref, "linear")
        ]
        fields = ("verdict", "p_value", "estimate")
        out[pool] = rejudge(*({v["method"]: v[f] for v in saved} for f in fields), alpha)
    return out


@pytest.mark.chapters
@pytest.mark.xdist_group("readers")
def test_the_sweep_advice_reads_each_points_own_specificity_and_fusion(
    results: dict, protocol: dict
) -> None:
    got = results["sweep_advice"]
    assert len(got) == len(protocol["points"])
    for point, saved in zip(protocol["points"], got, strict=True):
        raw, learned = (point_groups(point, ref, results["alpha"]) for ref in ("raw", "simclr"))
        against = learned["pure alignment"] | learned["rescue"]
        wanted = advise(raw["pure alignment"], raw["rescue"], against or None)
        assert saved["kind"] == wanted.kind, (point["setting"], point["label"])
    # the centres train the objectives with a specificity term or fusion: their advice reads them
    assert any(point_groups(p, "raw", results["alpha"])["rescue"] for p in protocol["points"])


@pytest.mark.chapters
@pytest.mark.xdist_group("readers")
def test_the_sweep_figure_reads_chapter_10s_axis_families(results: dict, protocol: dict) -> None:
    counts: dict[tuple, list[int]] = {}
    for a in protocol["axis_verdicts"]:
        if POOL.get(a["method"]) == "pure alignment" and (a["reference"], a["probe"]) == (
            "raw",
            "linear",
        ):
            for c in a["verdicts"]:
                n = counts.setdefault((a["setting"], a["factor"], c["point"]), [0, 0])
                n[0] += 1
                n[1] += c["verdict"] == "costs"
    shown = {
        (s, f, t): [n, c] for s, bars in results["sweep_figure"].items() for f, t, n, c in bars
    }
    assert shown == counts


@pytest.mark.chapters
@pytest.mark.xdist_group("readers")
def test_the_bootstrap_draws_can_decide_every_group_read(results: dict) -> None:
    sizes: dict[tuple, int] = {}
    for r in results["verdicts"]:
        key = (r["chapter"], r["setting"], r["reference"], r["probe"], POOL[r["method"]])
        sizes[key] = sizes.get(key, 0) + 1
    assert {"08_lfmc", "09_houston"} <= set(results["draws"])
    for chapter, d in results["draws"].items():
        assert d["largest_group"] >= max(n for k, n in sizes.items() if k[0] == chapter)
        assert d["n_boot"] >= holm_draws(d["largest_group"], results["alpha"])
