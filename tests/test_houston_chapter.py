"""Chapter 9 at smoke scale: its results file holds what chapter 10 and the sweeps read, with
the LiDAR side scored on the official test pixels and the hyperspectral side labelled optimistic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import papermill
import pytest
from fixtures import smoke_record
from papermill.exceptions import PapermillExecutionError

from aligninfo.book import run
from aligninfo.stats import VERDICTS


@pytest.mark.chapters
@pytest.mark.xdist_group("readers")
def test_houston_results_follow_the_protocol(smoke_results: Path) -> None:
    record = smoke_record("09_houston", smoke_results)
    res = record["results"]
    methods = res["methods"]
    assert {"raw", "supervised", "simclr", "info_nce", "comm"} <= set(methods)
    for m in methods:
        scores = res["scores"][m]
        for name, s in scores.items():
            assert s["low"] <= s["mean"] <= s["high"], (m, name)
            view = name.split("/")[0]
            official = view in ("z2", "p2") and not name.endswith("/cv")
            assert s["protocol"] == (
                "official test" if official else "cross-validation (optimistic)"
            ), (m, name)
    assert "z2/end to end" in res["scores"]["supervised"]  # read directly, not re-probed
    assert "p2/linear" in res["scores"]["info_nce"] and "p1/linear" in res["scores"]["info_nce"]
    assert "fused/linear" not in res["scores"]["comm"]  # CoMM's joint column is its fusion
    assert "joint/linear" in res["scores"]["comm"]
    for family in ("differences", "supervised_differences"):
        assert res[family]
        for d in res[family].values():
            assert d["verdict"] in VERDICTS and d["low"] <= d["difference"] <= d["high"]
            # the unadjusted p-value beside Holm's within the family (chapter 11 re-judges
            # groups of comparisons from it)
            assert 0 <= d["p_value"] <= d["p_holm"] <= 1
            assert (d["verdict"] == "no detectable cost") == (
                d["low"] <= 0 <= d["high"] or d["p_holm"] > 0.05
            )
    grid = res["logistic_cs"]
    for v in ("z1", "z2", "joint"):  # raw inputs: C by inner CV, from the grid
        assert all(c in grid for c in res["raw_chosen_c"][v])
    assert len(res["infonce_temperatures"]) == len(res["seeds"])
    assert all(t != 0.1 for t in res["infonce_temperatures"])  # learnt, not fixed
    head = res["headline"]
    assert set(head["raw"]) == {"z1", "z2", "joint"} and "info_nce" in head["z1"]
    assert res["optimism_lidar_knn"]["raw"] > 0
    resampling = res["official_resampling"]  # official-test intervals resample polygons
    assert 1 < resampling["n_groups"] < 12197
    widths = resampling["interval_width_raw_lidar_linear"]
    assert widths["polygons"] > widths["runs"] > widths["pixels"] > 0


@pytest.mark.chapters
@pytest.mark.xdist_group("readers")
def test_houston_cv_intervals_are_corrected_and_the_reference_tuned_on_polygons(
    smoke_results: Path,
) -> None:
    res = smoke_record("09_houston", smoke_results)["results"]
    cv = res["cv_intervals"]  # folds share training pixels: Nadeau-Bengio, coverage measured
    assert "corrected resampled t over the folds" in cv["method"]
    # one encoder per seed, read by every fold: the seed means' variance is added, and the
    # coverage is measured on a synthetic case whose seed effect all the folds share
    assert "plus the variance of the seed means" in cv["method"]
    assert cv["synthetic_seed_effect_shared"] == 1.0
    assert cv["over_seeds"] == (len(res["seeds"]) > 1)
    coverage = cv["measured_coverage_at_95"]  # by the training noise of the seeds
    assert "seed_noise 0" in coverage and len(coverage) >= 3  # a method that ignores the seed
    n_rep = {c["n_rep"] for c in coverage.values()}  # the sentence compares with a margin
    assert cv["coverage_monte_carlo_se"] == pytest.approx(np.sqrt(0.95 * 0.05 / n_rep.pop()))
    booted = [c for c in coverage.values() if "bootstrap" in c]
    assert len(booted) == 1 and booted[0]["corrected_t"] > booted[0]["bootstrap"]
    ratios = cv["seed_to_fold_sd"]  # the simulated range is compared with the chapter's own
    assert set(ratios["simulated"]) == set(coverage) and len(ratios["chapter"]) > 0
    # the supervised reference trains per fold: no shared seed effect, no seed term, and the
    # coverage of that design is measured too
    assert "supervised" in cv["per_fold_methods"]
    assert set(cv["measured_coverage_at_95_per_fold"]) == set(coverage)
    inner = res["inner_folds"]
    # every supervised fit but the pixel-drawn check chose its epochs on whole polygon groups
    assert inner["supervised_fits"] == len(res["seeds"]) * (2 * res["n_folds"] + 1)
    assert inner["max_shared_groups"] == 0
    check = inner["supervised_validation_check"]
    assert set(check) == {"polygon groups", "pixels"}
    assert len(check["polygon groups"]["epochs"]) == len(res["seeds"])
    assert len(check["pixels"]["epochs"]) == min(2, len(res["seeds"]))


@pytest.mark.chapters
@pytest.mark.xdist_group("readers")
def test_a_run_of_fewer_methods_judges_a_comparison_as_a_run_of_more(smoke_results: Path) -> None:
    """Holm's families are one method against one reference on one side (its probes), on the
    official test and in cross-validation: without SimCLR, CoMM, the random encoders and the
    supervised reference, InfoNCE against the raw inputs gets the same verdicts, intervals and
    adjusted p-values."""
    full = smoke_record("09_houston", smoke_results)["results"]
    fewer = smoke_record("09_houston", smoke_results, methods=["raw", "info_nce"])["results"]
    assert len(fewer["methods"]) < len(full["methods"])
    want = {k: d for k, d in full["differences"].items() if k.startswith("info_nce | raw |")}
    assert set(fewer["differences"]) == set(want)
    sides = {k.split(" | ")[2] for k in want}  # both evaluations: official test and CV
    assert {"LiDAR (official test)", "hyperspectral (CV)"} <= sides
    for key, d in want.items():
        assert fewer["differences"][key] == pytest.approx(d, abs=1e-12), key
    families = {tuple(k.split(" | ")[:3]) for k in full["differences"]}
    assert len(full["differences"]) == 2 * len(families)  # each family: its two probes
    assert "probes" in full["holm_family"]


@pytest.mark.chapters
@pytest.mark.parametrize("workers", [True, 0, 1.5])
def test_the_chapter_itself_refuses_a_bad_number_of_workers(tmp_path: Path, workers) -> None:
    """Run by plain papermill (no check before the kernel), ``configure`` refuses it, saying
    what it accepts: True is not one worker."""
    with pytest.raises(PapermillExecutionError, match="'workers' must be a positive integer"):
        papermill.execute_notebook(
            str(run.pair_of(run.BOOK / "09_houston.md")),
            str(tmp_path / "out.ipynb"),
            parameters={"scale": "smoke", "workers": workers, "results_dir": str(tmp_path)},
            progress_bar=False,
            cwd=str(run.BOOK),
        )
