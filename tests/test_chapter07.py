"""Chapter 7 as one point of a sweep: its parameters, and the layout of its results file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from papermill.exceptions import PapermillExecutionError
from scipy.stats import ttest_1samp

from aligninfo.bench import same_results
from aligninfo.book import run
from aligninfo.book.chapter import load_results
from aligninfo.stats import VERDICTS, holm

POINT = {
    "scale": "smoke",
    "embedding_dim": 16,
    "temperature": 0.2,
    "width": 16,
    "methods": ["raw", "info_nce", "simclr"],
}


@pytest.mark.chapters
def test_one_sweep_point_saves_what_the_sweep_reads(tmp_path: Path) -> None:
    run.run_chapter("07_synthetic", None, POINT | {"results_dir": str(tmp_path)}, progress=False)
    record = load_results("07_synthetic", POINT, tmp_path)
    assert record is not None
    res = record["results"]
    assert set(res["summary"]) == {"raw", "info_nce", "simclr"}
    assert res["protocol"]["temperature"] == 0.2
    for method, views in (("raw", ("z1",)), ("info_nce", ("z1", "p1")), ("simclr", ("z1", "p1"))):
        for view in views:
            for block in ("S", "U1", "Y1"):
                for probe in ("linear", "knn"):
                    entry = res["summary"][method][view][f"{block}/{probe}"]
                    assert entry["low"] <= entry["mean"] <= entry["high"]
    # a fixed temperature is not learnt, so no method reports one
    assert all("model" not in views for views in res["summary"].values())
    for ref in ("raw", "simclr"):
        for view in ("z1", "p1"):
            for block in ("S", "U1", "Y1"):
                for probe in ("linear", "knn"):
                    d = res["differences"][ref]["info_nce"][view][f"{block}/{probe}"]
                    assert d["verdict"] in VERDICTS and d["low"] <= d["high"]
                    assert d["level"] >= 0.95 and d["p"] <= d["p_holm"] <= 1
    # the difference is the paired difference of the two means
    d = res["differences"]["raw"]["info_nce"]["z1"]["U1/linear"]
    means = [res["summary"][m]["z1"]["U1/linear"]["mean"] for m in ("info_nce", "raw")]
    assert d["estimate"] == pytest.approx(means[0] - means[1])
    assert np.isfinite(res["headline"]["z1"]["info_nce"])
    # each seed draws its own data: intervals are Student's over the seeds, and differences
    # are paired t tests on the same seeds (not a bootstrap over so few seeds)
    runs = {(r["method"], r["draw"]): r for r in res["runs"]}
    seeds = range(record["parameters"]["n_seeds"])
    per_seed = {m: np.array([runs[m, j]["U1/z1"] for j in seeds]) for m in ("info_nce", "raw")}
    ci = ttest_1samp(per_seed["info_nce"], 0.0).confidence_interval(0.95)
    assert (entry := res["summary"]["info_nce"]["z1"]["U1/linear"])["mean"] == pytest.approx(
        per_seed["info_nce"].mean()
    )
    assert (entry["low"], entry["high"]) == pytest.approx((ci.low, ci.high))
    paired = ttest_1samp(per_seed["info_nce"] - per_seed["raw"], 0.0)
    assert d["p"] == pytest.approx(paired.pvalue)
    ci = paired.confidence_interval(d["level"])
    assert (d["low"], d["high"]) == pytest.approx((ci.low, ci.high))
    # Holm's family: one method against one reference on one view (every block and probe),
    # whichever other methods run, so that sweep points are judged like the full chapter
    family = {
        f"{block}/{probe}": ttest_1samp(
            np.array([runs["info_nce", j][key] - runs["raw", j][key] for j in seeds]), 0.0
        ).pvalue
        for block in ("S", "U1", "Y1")
        for probe, key in (("linear", f"{block}/z1"), ("knn", f"{block}/z1/knn"))
    }
    adjusted, _ = holm(np.array(list(family.values())))
    recorded = res["differences"]["raw"]["info_nce"]["z1"]
    assert [recorded[name]["p_holm"] for name in family] == pytest.approx(list(adjusted))


@pytest.mark.chapters
@pytest.mark.parametrize(
    "name, value",
    [
        ("temperature", -0.1),
        ("methods", ["info_nce"]),
        ("methods", ["raw", "clip"]),
        # workers: refused before a kernel starts (tests/test_chapter_config.py)
    ],
)
def test_bad_sweep_parameters_stop_the_chapter(tmp_path: Path, name: str, value: object) -> None:
    with pytest.raises(PapermillExecutionError, match=name):
        run.run_chapter(
            "07_synthetic",
            None,
            {"scale": "smoke", name: value, "results_dir": str(tmp_path)},
            progress=False,
        )


@pytest.mark.chapters
def test_a_lean_sweep_point_computes_only_what_the_sweep_reads(tmp_path: Path) -> None:
    point = {"scale": "smoke", "extras": False, "methods": ["raw", "info_nce"]}
    run.run_chapter("07_synthetic", None, point | {"results_dir": str(tmp_path)}, progress=False)
    record = load_results("07_synthetic", point, tmp_path)
    assert record is not None
    res = record["results"]
    assert res["sweep"] is None  # no linear control, no unique-share sweep
    for method in ("raw", "info_nce"):
        z1 = res["summary"][method]["z1"]
        assert {"U1/linear", "U1/knn", "S/knn", "Y1/knn"} <= set(z1)
        assert "top1_gallery" not in z1 and "c12_z1" not in z1  # no galleries, no synergy
    # each block from the backbone that carries it only: no head, no joint view
    head = res["summary"]["info_nce"].get("p1", {})  # retrieval only, no probe of a block
    assert not [k for k in head if k.split("/")[0] in ("S", "U1", "Y1")], head
    assert "joint" not in res["summary"]["raw"]
    assert set(res["summary"]["raw"]["z2"]) == {"U2/linear", "Y2/linear"}
    assert res["differences"]["raw"]["info_nce"]["z1"]["U1/knn"]["verdict"] in VERDICTS


@pytest.mark.chapters
def test_one_pool_for_every_draw_and_the_control_gives_the_serial_results(tmp_path: Path) -> None:
    point = {"scale": "smoke", "methods": ["raw", "info_nce"], "n_shares": 2}
    records = {}
    for workers in (1, 2):  # the draws of both seeds and the linear control's jobs: one pool
        folder = tmp_path / str(workers)
        parameters = point | {"workers": workers, "results_dir": str(folder)}
        run.run_chapter("07_synthetic", None, parameters, progress=False)
        records[workers] = load_results("07_synthetic", point, folder)
    serial, parallel = records[1], records[2]
    assert serial is not None and parallel is not None
    assert serial["results"]["sweep"]["measured"]["linear control"]["info_nce"]  # it ran
    assert same_results(serial["results"], parallel["results"])  # bit for bit, timings aside
