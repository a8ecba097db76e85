"""Chapter 10 at smoke scale: what it says of multiplicity, of the kNN probe along k and of the
budget axis is what its own points hold."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fixtures import smoke_record

from aligninfo.axes import OBJECTIVE_GROUPS
from aligninfo.axes import along as along_axis
from aligninfo.book import run
from aligninfo.book.chapter import configure
from aligninfo.stats import holm, require_holm_draws

PURE = OBJECTIVE_GROUPS["pure alignment"]


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
        scores = {
            k: {(s["method"], s["probe"]): s["mean"] for s in p["scores"]} for k, p in along.items()
        }
        # the mean compares like with like: the objectives with both probes at every k
        common = [m for m in PURE if all((m, q) in sc for sc in scores.values() for q in PROBES)]
        assert protocol["knn_objectives"][setting] == common and common
        for r in rows:
            score = scores[r["k"]]
            raw = score["raw", "knn"] - score["raw", "linear"]
            assert r["raw_knn_minus_linear"] == pytest.approx(raw)
            pure = [score[m, "knn"] - score[m, "linear"] for m in common]
            assert r["pure_knn_minus_linear"] == pytest.approx(sum(pure) / len(pure))
            assert r["raw_dim"] > 0


PROBES = ("linear", "knn")


@pytest.mark.chapters
@pytest.mark.xdist_group("readers")
def test_the_probes_are_compared_once_per_distinct_point(protocol: dict) -> None:
    for setting, counts in protocol["probe_counts"].items():
        differ = compared = 0
        for point in _distinct(protocol, setting):  # the centre once, not once per axis
            v = {(c["method"], c["reference"], c["probe"]): c["verdict"] for c in point["verdicts"]}
            for m, ref in {key[:2] for key in v}:
                if all((m, ref, q) in v for q in PROBES):
                    compared += 1
                    differ += v[m, ref, "linear"] != v[m, ref, "knn"]
        assert (counts["differ"], counts["compared"]) == (differ, compared)
        assert compared > 0


@pytest.mark.chapters
@pytest.mark.xdist_group("readers")
def test_the_verdict_figure_shows_every_counted_comparison_and_no_empty_row(protocol: dict) -> None:
    order = [m for ms in OBJECTIVE_GROUPS.values() for m in ms]
    for setting, rows in protocol["figure_rows"].items():
        counted = {
            (c["method"], c["reference"])
            for p in _distinct(protocol, setting)
            for c in p["verdicts"]
        }
        shown = [tuple(r) for r in rows]
        assert len(shown) == len(set(shown)) and set(shown) == counted
        for ref in {r for _, r in shown}:  # grouped as chapter 11 groups the objectives
            methods = [m for m, r in shown if r == ref]
            assert methods == sorted(methods, key=order.index)


@pytest.mark.chapters
@pytest.mark.xdist_group("readers")
def test_an_interval_wider_than_r2s_range_is_called_uninformative(protocol: dict) -> None:
    for setting, by_probe in protocol["undetected_below"].items():
        assert set(by_probe) == set(PROBES)  # both probes' intervals are read
        for probe, undetected in by_probe.items():
            widths = [
                c["high"] - c["low"]
                for p in _distinct(protocol, setting)
                for c in p["verdicts"]
                if c["method"] in PURE and (c["reference"], c["probe"]) == ("raw", probe)
            ]
            half = float(np.median(widths)) / 2
            assert undetected == (None if half >= 1 else pytest.approx(half))


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
    assert set(protocol["by_probe"]) == set(PROBES)
    linear = protocol["by_probe"]["linear"]  # what chapter 11 reads, under the old keys
    assert [linear[k] for k in ("readings", "reverses", "partly_decided")] == [
        protocol[k] for k in ("readings", "reverses", "partly_decided")
    ]
    for entry in protocol["axis_verdicts"]:
        if entry["reference"] != "raw" or entry["method"] not in PURE:
            continue
        seen = {c["verdict"] for c in entry["verdicts"]}
        setting, factor, method = entry["setting"], entry["factor"], entry["method"]
        found = protocol["by_probe"][entry["probe"]]
        reverses = method in found["reverses"][setting][factor]
        assert reverses == ({"costs", "gains"} <= seen)
        partly = method in found["partly_decided"][setting][factor]
        assert partly == (len(seen) == 2 and "no detectable cost" in seen)


PURE_NAMES = {
    "info_nce": "InfoNCE",
    "cca": "soft CCA",
    "barlow_twins": "Barlow Twins",
    "vicreg": "VICReg",
}


def _centre_verdicts(protocol: dict, setting: str, method: str, probe: str) -> set[str]:
    """The centre's verdicts against the raw inputs (one probe) over the axes' families."""
    return {
        c["verdict"]
        for entry in protocol["axis_verdicts"]
        if (entry["setting"], entry["method"], entry["reference"], entry["probe"])
        == (setting, method, "raw", probe)
        for c in entry["verdicts"]
        if c["centre"]
    }


@pytest.mark.chapters
@pytest.mark.xdist_group("readers")
def test_a_centre_that_reads_differently_on_two_axes_is_said_so(protocol: dict) -> None:
    # The centre is a point of every axis's Holm family: where it keeps its verdict on one axis
    # and loses it on another, each probe's reading names it in a clause of its own
    for probe in PROBES:
        for setting, reading in protocol["by_probe"][probe]["readings"].items():
            clause = reading.split("at the centre, ")[1] if "at the centre, " in reading else ""
            said = {m for m, name in PURE_NAMES.items() if f"{name} " in clause}
            split = {
                m for m in PURE_NAMES if len(_centre_verdicts(protocol, setting, m, probe)) > 1
            }
            assert said == split, (setting, probe, reading)


def _defines(node: ast.stmt) -> str | None:
    """The name a top-level statement defines: a function's, or a single assignment's target."""
    if isinstance(node, ast.FunctionDef):
        return node.name
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        return target.id if isinstance(target, ast.Name) else None
    return None


def _chapter_functions(names: set[str], **env: object) -> dict[str, Any]:
    """Chapter 10's functions (and assigned names) ``names``, defined from its code cells in
    ``env``, in the chapter's order (no run)."""
    text = (run.BOOK / "10_protocol.md").read_text()
    cells = re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", text, re.S)
    tree = ast.parse("\n".join(line for c in cells for line in c.split("\n") if line[:1] != ":"))
    wanted = [n for n in tree.body if _defines(n) in names]
    assert {_defines(n) for n in wanted} == names
    scope: dict[str, Any] = dict(env)
    exec(compile(ast.Module(list[ast.stmt](wanted), []), "10_protocol", "exec"), scope)
    return scope


FUNCTIONS = {"axis_points", "cells", "along", "centre_along", "centre_note"}


def _row(factor: str, label: object, verdict: str, p: float) -> dict[str, Any]:
    cell = ("info_nce", "raw", "linear")
    return {"setting": "s", "factor": factor, "label": label, "tau": 0.1, "n_boot": None,
            "verdicts": {cell: (0.0, -1.0, 1.0, verdict)}, "p": {cell: p}}  # fmt: skip


def test_the_centre_note_names_a_centre_kept_on_one_axis_and_removed_on_another() -> None:
    # the centre (p = 0.02) is alone on the budget axis, so Holm keeps its cost there; on the k
    # axis four undecided points join its family and Holm removes it
    table = [_row("k", "centre", "costs", 0.02)] + [
        _row("k", k, "no detectable cost", 0.5) for k in (8, 16, 64, 128)
    ]
    table += [_row("tau", "centre", "costs", 0.02), _row("budget", "centre", "costs", 0.02)]
    env = {
        "TABLE": table, "SETTINGS": {"s": ("08_lfmc", "S: s")}, "ALPHA": {"08_lfmc": 0.05},
        "CENTRE": {"08_lfmc": {"embedding_dim": 32, "epochs": 20, "width": 64}},
        "FACTORS": ("k", "tau", "budget"), "PURE": ["info_nce"], "NAMES": {"info_nce": "InfoNCE"},
        "AXIS_WORD": {"k": "k", "tau": "τ", "budget": "budget"}, "holm": holm,
        "VERB": {"costs": "costs", "no detectable cost": "shows no detectable cost",
                 "gains": "gains"},
        "require_holm_draws": require_holm_draws, "along_axis": along_axis,
    }  # fmt: skip
    ns = _chapter_functions(FUNCTIONS, **env)
    assert ns["centre_along"]("s", "info_nce", "raw", "linear") == {
        "k": "no detectable cost", "tau": "costs", "budget": "costs"
    }  # fmt: skip
    note = ns["centre_note"]("s")
    assert note.endswith(
        "at the centre, InfoNCE shows no detectable cost along k, costs along τ, costs along budget"
    )
    env["TABLE"] = [r for r in table if r["factor"] != "k" or r["label"] == "centre"]
    assert _chapter_functions(FUNCTIONS, **env)["centre_note"]("s") == ""


BOOK_CENTRE = {"embedding_dim": 8, "temperature": None, "epochs": 15, "width": 64, "n_seeds": 5}


def test_the_book_scales_budget_axis_holds_an_epochs_and_a_width_point() -> None:
    # the parameters cell's defaults: every size set by the book scale
    sizes = ("embedding_dims", "temperatures", "epoch_factors", "width_factors", "methods",
             "budget_methods")  # fmt: skip
    env: dict[str, object] = {"scale": "book", "seed": 0, "workers": 2, "results_dir": "results"}
    env |= dict.fromkeys(sizes) | {"configure": configure}
    env["CENTRE"] = dict.fromkeys(("07_synthetic", "08_lfmc"), BOOK_CENTRE)
    names = {"cfg", "CHAPTERS", "LEAN", "TAU_METHODS", "design", "budget_text"}
    ns = _chapter_functions(names, **env)
    for chapter in ns["CHAPTERS"]:
        budget = [(label, p) for factor, label, p in ns["design"](chapter) if factor == "budget"]
        assert [label for label, _ in budget] == ["epochs ×2", "width ×2"]
        (_, epochs), (_, width) = budget  # each moves one of the two from the centre, alone
        assert (epochs["epochs"], "width" in epochs) == (2 * BOOK_CENTRE["epochs"], False)
        assert (width["width"], "epochs" in width) == (2 * BOOK_CENTRE["width"], False)
        # paid for by training fewer objectives there than along k
        assert epochs["methods"] == width["methods"] == ["raw", "info_nce"]
    text = ns["budget_text"](["epochs ×2", "width ×2"])
    assert "2 points" in text and "epochs ×2" in text and "width ×2" in text
    assert "not varied" not in text
    assert ns["budget_text"](["epochs ×2"]).endswith("the encoder width is not varied")
