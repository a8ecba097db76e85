"""Tests of the pre-training diagnosis (aligninfo.diagnose) and its command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fixtures import fake_registry

from aligninfo.book.cli import main
from aligninfo.diagnose import (
    RECOMMENDATIONS,
    DiagnoseInputError,
    copula_normal,
    diagnose,
)
from aligninfo.diagnose.estimates import assign_folds, choose_k, nested_predictions
from aligninfo.diagnose.inputs import group_ids
from aligninfo.gaussian import GaussianModel
from aligninfo.pid import aligned_unique, sample_pid
from aligninfo.regimes import aligned_limit, specific_r2


def _model(share: float) -> GaussianModel:
    return GaussianModel.random(
        d_shared=3,
        d_unique=(3, 3),
        dims=(8, 8),
        noise=0.3,
        unique_share=(share, 0.5),
        target_noise=0.3,
        seed=1,
    )


def _sample(share: float, n: int = 2000, seed: int = 0) -> dict[str, np.ndarray]:
    return _model(share).sample(n, seed)


@pytest.mark.parametrize(
    ("share", "expected"),
    [(0.0, "align"), (0.4, "align + specificity"), (0.9, "do not align")],
)
def test_recovers_the_recommendation_of_synthetic_data(share: float, expected: str) -> None:
    """Unique share 0 -> align, a large one -> do not align, in between -> + specificity."""
    s = _sample(share)
    d = diagnose(s["X1"], s["X2"], s["Y1"][:, 0], n_boot=30, progress=False)
    assert d.k == 3  # the model's d_shared, found from out-of-fold correlations
    assert d.recommendation == expected, d.summary()
    m = _model(share)
    truth = 1 - m.alignment_ceiling() / m.r2("Y1", "X1")
    assert d.lost_share["X1"].low - 0.03 <= truth <= d.lost_share["X1"].high + 0.03


def test_pairs_that_hold_out_of_fold_by_chance_are_not_aligned() -> None:
    """Few rows: a null canonical pair's out-of-fold correlation can pass RHO_MIN by chance;
    it must also have an interval above 0, so k is the model's d_shared on every sample."""
    m = _model(0.9)
    for seed in range(8):
        s = m.sample(250, seed)
        d = diagnose(s["X1"], s["X2"], s["Y1"][:, 0], n_boot=30, seed=seed, progress=False)
        assert d.k == 3, (seed, d.rho_oof, d.rho_oof_low)
        assert d.rho_oof_low[2] > 0


def test_reasons_say_how_the_lost_share_moves_with_k() -> None:
    """The first reason gives the lost share with one aligned variate fewer and one more."""
    s = _sample(0.4, n=1000)
    d = diagnose(s["X1"], s["X2"], s["Y1"], n_boot=20, progress=False)
    curve, r2 = d.r2_aligned_curve["X1"], d.r2["X1"].estimate
    fewer, more = ((r2 - curve[j - 1]) / r2 for j in (d.k - 1, d.k + 1))
    assert (
        f"lost share {fewer:.2f} with k = {d.k - 1} and {more:.2f} with k = {d.k + 1}"
        in (d.reasons[0])
    )
    assert fewer > d.lost_share["X1"].estimate > more


def test_nested_predictions_equal_one_fit_per_k() -> None:
    """The cumulative (Cholesky) fits equal a least-squares fit on the top j variates, each j."""
    rng = np.random.default_rng(3)
    data = rng.standard_normal((400, 9)) @ rng.standard_normal((9, 9))
    cov = np.cov(data, rowvar=False)
    xs, ts = slice(0, 6), slice(6, 9)
    w = rng.standard_normal((4, 6))
    u = data[:50, xs] @ w.T
    got = nested_predictions(cov, w, xs, ts, u)
    for j in range(1, 5):
        wj = w[:j]
        coef = np.linalg.solve(wj @ cov[xs, xs] @ wj.T, wj @ cov[xs, ts])
        assert np.allclose(got[j - 1], u[:, :j] @ coef)


def test_aligned_pairs_are_the_leading_run() -> None:
    """A pair that fails ends the run; a strong pair whose interval reaches 0 fails."""
    assert choose_k(np.array([0.8, 0.05, 0.3]), np.array([0.7, -0.1, 0.2])) == 1
    assert choose_k(np.array([0.8, 0.4, 0.3]), np.array([0.7, -0.01, 0.2])) == 1
    assert choose_k(np.array([0.8, 0.4, 0.3]), np.array([0.7, 0.3, 0.2])) == 3
    assert choose_k(np.array([0.05, 0.01]), np.array([-0.1, -0.2])) == 1


def test_identical_rows_share_a_group() -> None:
    """Repeated rows share one group (one fold, resampled together) and are counted."""
    rows = np.arange(12.0).reshape(6, 2)
    rows[4] = rows[1]
    ids, n_groups, repeats = group_ids(None, 6, rows)
    assert n_groups is None and repeats == 1
    assert ids[4] == ids[1] and len(set(ids.tolist())) == 5
    s = _sample(0.4, n=600)
    x1, x2, y = (np.vstack([a, a]) for a in (s["X1"], s["X2"], s["Y1"]))
    d = diagnose(x1, x2, y, n_boot=20, progress=False)
    assert any("600 row(s) of (X1, X2) repeat" in r for r in d.reasons)


def test_one_row_per_group_is_said_to_be_independent_rows() -> None:
    """Groups of one row each are no groups: the optimism warning stays."""
    s = _sample(0.4, n=500)
    d = diagnose(s["X1"], s["X2"], s["Y1"], groups=np.arange(500), n_boot=20, progress=False)
    assert any("independent samples" in r for r in d.reasons)


def test_regime_map_and_pids_match_the_model_closed_forms() -> None:
    """On many samples: the data's place on the map and its PIDs are the model's closed forms."""
    m = _model(0.5)
    s = m.sample(40_000, 1)
    d = diagnose(s["X1"], s["X2"], s["Y1"][:, 0], n_boot=20, progress=False)
    assert d.regime is not None and d.regime.k == 3
    assert d.regime.share_hat == pytest.approx(specific_r2(m) / m.r2("Y1", "X1"), abs=0.02)
    # The standardised X1 read whole, against chapter 5's aligned limit of the same size.
    standardise = np.diag(1 / np.sqrt(np.diag(m.covariance("X1"))))
    sig = d.regime.sigmas
    delta = m.sigma_informativeness(standardise, sigma=sig) - aligned_limit(m, 8, sig)
    assert np.abs(d.regime.delta_hat - delta).max() < 0.03
    # The estimated PIDs, with and without alignment, are the model's exact ones.
    exact = aligned_unique(m)
    for name in ("mi1", "unique1", "redundant", "synergy"):
        assert d.pid[name].estimate == pytest.approx(getattr(exact.pid, name), abs=0.03)
        assert d.pid_aligned[name].estimate == pytest.approx(
            getattr(exact.aligned_pid, name), abs=0.03
        )


def test_intervals_contain_their_estimates() -> None:
    """Every interval holds its estimate, R² intervals are ordered, and the JSON is complete."""
    s = _sample(0.4, n=1000)
    d = diagnose(s["X1"], s["X2"], s["Y1"], n_boot=40, progress=False)
    for group in (d.rho, d.r2.values(), d.cost.values(), d.pid.values()):
        for i in group:
            assert i.low <= i.estimate <= i.high
    record = d.to_dict()
    assert record["recommendation"] in RECOMMENDATIONS and record["reasons"]
    assert set(record["pid"]) >= {"redundant", "unique1", "unique2", "synergy"}
    assert "digamma" in record["bias_correction"]
    assert record["settings"]["folds"] == 5 and record["seed"] == 0


def test_groups_stay_in_one_fold_and_are_resampled() -> None:
    """Folds never split a group; the diagnosis reports the groups it resampled."""
    ids = np.repeat(np.arange(40), 25)
    folds = assign_folds(ids, np.random.default_rng(0))
    for g in range(40):
        assert len(set(folds[ids == g])) == 1
    s = _sample(0.0, n=1000)
    d = diagnose(s["X1"], s["X2"], s["Y1"], groups=ids, n_boot=20, progress=False)
    assert d.n_groups == 40 and not any("independent samples" in r for r in d.reasons)
    alone = diagnose(s["X1"], s["X2"], s["Y1"], n_boot=20, progress=False)
    assert any("independent samples" in r for r in alone.reasons)


def test_without_target_only_correlations() -> None:
    """Without Y: canonical correlations, no recommendation, and the reason why."""
    s = _sample(0.0, n=500)
    d = diagnose(s["X1"], s["X2"], n_boot=20, progress=False)
    assert d.recommendation is None and d.target is None and "no target" in d.reasons[0]
    assert len(d.rho) == 8 and d.rho[0].estimate > d.rho[-1].estimate


def test_class_target() -> None:
    """An integer target with few values is read as classes (one-hot)."""
    s = _sample(0.9, n=1500)
    y = np.digitize(s["Y1"][:, 0], [-0.5, 0.5])
    d = diagnose(s["X1"], s["X2"], y, n_boot=20, progress=False)
    assert d.target == "categorical" and d.n_classes == 3
    assert d.recommendation == "do not align"
    assert any("classes" in r for r in d.reasons)


def test_class_seen_in_one_group_only() -> None:
    """A class confined to one group: resamples that miss the group are singular; they are
    left out of the intervals and counted, not raised."""
    s = _sample(0.4, n=900)
    y = np.digitize(s["Y1"][:, 0], [0.0])
    groups = np.arange(900) // 30
    y[groups == 0] = 2  # class 2 lives in group 0 only
    d = diagnose(s["X1"], s["X2"], y, groups=groups, n_boot=40, progress=False)
    assert d.n_classes == 3 and d.recommendation in RECOMMENDATIONS
    assert any("resamples had a singular covariance" in r for r in d.reasons)
    assert all(np.isfinite([d.pid[a].low, d.pid[a].high]).all() for a in d.pid)


def test_numbers_stored_as_text_read_when_said_continuous() -> None:
    """A target of numbers as text is refused as classes (too many) but read as numbers when
    the caller says it is continuous, with the same diagnosis as the numbers."""
    s = _sample(0.4, n=500)
    y = s["Y1"][:, 0]
    with pytest.raises(DiagnoseInputError, match="say the target is continuous"):
        diagnose(s["X1"], s["X2"], y.astype(str), n_boot=20, progress=False)
    text = diagnose(s["X1"], s["X2"], y.astype(str), n_boot=20, target="continuous", progress=False)
    numbers = diagnose(s["X1"], s["X2"], y, n_boot=20, progress=False)
    assert text.target == "continuous"
    assert text.lost_share["X1"].estimate == pytest.approx(numbers.lost_share["X1"].estimate)


def test_cli_text_class_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A .csv target of text labels under a header is read as classes."""
    s = _sample(0.0, n=600)
    np.save(tmp_path / "x1.npy", s["X1"])
    np.save(tmp_path / "x2.npy", s["X2"])
    labels = np.where(s["Y1"][:, 0] > 0, "wet", "dry")
    np.savetxt(tmp_path / "y.csv", labels, fmt="%s", header="moisture", comments="")
    files = [str(tmp_path / f) for f in ("x1.npy", "x2.npy", "y.csv")]
    assert main(["diagnose", *files, "--n-boot", "20", "--out", str(tmp_path / "out")]) == 0
    record = json.loads((tmp_path / "out" / "diagnosis.json").read_text())
    assert record["target"] == "categorical" and record["n_classes"] == 2


def test_copula_normalisation_ignores_monotone_transforms() -> None:
    """Normal scores of ranks: the PID estimate is the same after exp() of every column."""
    s = _sample(0.4, n=800)
    z = copula_normal(s["X1"])
    assert np.allclose(np.sort(z[:, 0]), np.sort(z[:, 3]))
    a = sample_pid(copula_normal(s["X1"]), copula_normal(s["X2"]), copula_normal(s["Y1"]))
    b = sample_pid(
        copula_normal(np.exp(s["X1"])), copula_normal(s["X2"] ** 3), copula_normal(s["Y1"])
    )
    assert a.as_dict() == pytest.approx(b.as_dict())


# ------------------------------------------------------------------------- bad input
def _bad_inputs() -> dict[str, tuple[dict[str, Any], str]]:
    rng = np.random.default_rng(0)
    x1, x2, y = (
        rng.standard_normal((300, 4)),
        rng.standard_normal((300, 3)),
        rng.standard_normal(300),
    )
    nan = x1.copy()
    nan[5, 2] = np.nan
    inf = x2.copy()
    inf[7, 0] = np.inf
    const = x2.copy()
    const[:, 1] = 4.0
    dup = np.hstack([x1, x1[:, :1]])
    return {
        "rows": ({"x1": x1[:-1], "x2": x2, "y": y}, "rows must be paired"),
        "y rows": ({"x1": x1, "x2": x2, "y": y[:-2]}, "Y has 298"),
        "nan": ({"x1": nan, "x2": x2, "y": y}, "X1 has NaN or infinite values in 1 row"),
        "inf": ({"x1": x1, "x2": inf, "y": y}, "X2 has NaN or infinite"),
        "constant": ({"x1": x1, "x2": const, "y": y}, "constant column"),
        "no rows": ({"x1": np.empty(0), "x2": x2, "y": y}, "X1 has no rows"),
        "overflowing scale": (
            {"x1": x1 * 1e160, "x2": x2, "y": y},
            "X1 column 0 has a standard deviation of .*e[+]159, outside",
        ),
        "underflowing scale": (
            {"x1": x1, "x2": x2 * 1e-200, "y": y},
            "X2 column 0 has a standard deviation of .*e-200, outside",
        ),
        "y scale": ({"x1": x1, "x2": x2, "y": y * 1e200}, "Y column 0 has a standard deviation"),
        "few": ({"x1": x1[:30], "x2": x2[:30], "y": y[:30]}, "too few samples"),
        "dependent": ({"x1": dup, "x2": x2, "y": y}, "linearly dependent"),
        "constant y": ({"x1": x1, "x2": x2, "y": np.ones(300)}, "Y is constant"),
        "y columns": ({"x1": x1, "x2": x2, "y": x2}, "one column"),
        "groups": ({"x1": x1, "x2": x2, "y": y, "groups": np.arange(300) % 3}, "5 groups"),
        "k": ({"x1": x1, "x2": x2, "y": y, "k": 4}, "k must be"),
        "boot": ({"x1": x1, "x2": x2, "y": y, "n_boot": 3}, "n_boot"),
        "level": ({"x1": x1, "x2": x2, "y": y, "level": 95}, "level must be in"),
        "shared column": (
            {"x1": x1, "x2": np.hstack([x2, x1[:, :1]]), "y": y},
            "X1 and X2 share a column .* .as given.",
        ),
        "shared up to a monotone map": (
            {"x1": x1, "x2": np.hstack([x2, np.exp(x1[:, :1])]), "y": y},
            "X1 and X2 share a column .* .after normal scores of ranks.",
        ),
        "monotone copy within X1": (
            {"x1": np.hstack([x1, np.exp(x1[:, :1])]), "x2": x2, "y": y},
            "X1 has columns that are monotone functions of others",
        ),
        "y copies x": ({"x1": x1, "x2": x2, "y": x1[:, 1] + x2[:, 0]}, "Y is a function of X1"),
        "text": ({"x1": x1.astype(str), "x2": x2, "y": y}, "numeric"),
        "transposed": ({"x1": x1.T, "x2": x2, "y": y}, "X1 is 4 x 300: transposed"),
        "huge": (
            {"x1": rng.standard_normal((300, 1001)), "x2": x2, "y": y},
            "1001 . 3 columns, more than 1000",
        ),
        "y as text": ({"x1": x1, "x2": x2, "y": y.astype(str)}, "numbers stored as text"),
        "y ids": (
            {"x1": x1, "x2": x2, "y": np.array([f"id{i}" for i in range(300)])},
            "Y read as classes has 300 distinct values",
        ),
        "duplicates across groups": (
            {
                "x1": np.vstack([x1[:150], x1[:150]]),
                "x2": np.vstack([x2[:150], x2[:150]]),
                "y": y,
                "groups": np.arange(300) // 30,
            },
            "rows 0 and 150 of .X1, X2. are identical but in different groups",
        ),
    }


@pytest.mark.parametrize("case", list(_bad_inputs()))
def test_bad_input_refused(case: str) -> None:
    """Each bad input raises DiagnoseInputError with a message naming the problem."""
    kwargs, message = _bad_inputs()[case]
    with pytest.raises(DiagnoseInputError, match=message):
        diagnose(**kwargs, progress=False)


# ----------------------------------------------------------------------- command line
def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    return err


def test_cli_writes_report_and_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """X1 .npy, X2 .csv with a header, Y .npy and groups .csv: JSON + PNG in --out."""
    s = _sample(0.9, n=600)
    np.save(tmp_path / "x1.npy", s["X1"])
    header = ",".join(f"b{i}" for i in range(8))
    np.savetxt(tmp_path / "x2.csv", s["X2"], delimiter=",", header=header, comments="")
    np.save(tmp_path / "y.npy", s["Y1"][:, 0])
    np.savetxt(
        tmp_path / "g.csv",
        [f"site{i % 30}" for i in range(600)],
        fmt="%s",
        header="site",
        comments="",
    )
    files = [str(tmp_path / f) for f in ("x1.npy", "x2.csv", "y.npy")]
    out = tmp_path / "out"
    options = ["--groups", str(tmp_path / "g.csv"), "--out", str(out), "--n-boot", "20"]
    assert main(["diagnose", *files, *options]) == 0
    assert "recommendation: DO NOT ALIGN" in capsys.readouterr().out
    record = json.loads((out / "diagnosis.json").read_text())
    assert record["recommendation"] == "do not align" and record["n_groups"] == 30
    assert (out / "diagnosis.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (["missing.npy", "x2.npy"], "no file"),
        (["x1.txt", "x2.npy"], "neither a .npy nor a .csv"),
        (["garbage.npy", "x2.npy"], "cannot read"),
        (["x1.npy", "short.npy"], "rows must be paired"),
        (["nan.csv", "x2.npy"], "NaN"),
        (["empty.csv", "x2.npy"], "holds no values"),
        (["x1.npy", "x2.npy", "gap.csv"], "is empty (a missing value?)"),
        (["x1.npy", "x2.npy", "x1.npy", "x2.npy"], "at most 3"),
        (["sentinel3"], "unknown data set 'sentinel3'"),
        (["x1.npy"], "is one file: give X1 and X2 (and Y) files, or a data set name"),
        (["missing.csv"], "is one file: give X1 and X2 (and Y) files, or a data set name"),
        (["x1.npy", "x2.npy", "--x2-scale", "loud"], "--x2-scale 'loud': expected one of"),
        (["x1.npy", "x2.npy", "--target", "ordinal"], "--target 'ordinal': expected one of"),
    ],
)
def test_cli_refuses_in_one_line(
    files: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unreadable or mismatched files and unknown data sets: one line, exit status 2."""
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x1.npy", rng.standard_normal((200, 3)))
    np.save(tmp_path / "x2.npy", rng.standard_normal((200, 2)))
    np.save(tmp_path / "short.npy", rng.standard_normal((150, 2)))
    (tmp_path / "garbage.npy").write_bytes(b"not an array")
    (tmp_path / "x1.txt").write_text("1,2\n")
    (tmp_path / "nan.csv").write_text("a,b\n" + "1,2\n" * 150 + "nan,3\n" + "2,1\n" * 49)
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "gap.csv").write_text("0.5\n1.5\n\n" + "2.5\n" * 197 + "\n")
    words = ("sentinel3", "--x2-scale", "loud", "--target", "ordinal")  # not file names
    paths = [f if f in words else str(tmp_path / f) for f in files]
    assert main(["diagnose", *paths]) == 2
    assert message in _one_line(capsys)


def test_cli_refuses_a_row_index_and_reads_numbered_headers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A .csv written by pandas with its index (header or not) is refused in one line; a header
    of column numbers 0..p-1 is skipped."""
    s = _sample(0.4, n=300)
    np.save(tmp_path / "x2.npy", s["X2"])
    np.save(tmp_path / "y.npy", s["Y1"][:, 0])
    rows = [f"{i}," + ",".join(f"{v:.6f}" for v in row) for i, row in enumerate(s["X1"])]
    header = "," + ",".join(str(j) for j in range(8))
    (tmp_path / "indexed.csv").write_text("\n".join([header, *rows]) + "\n")
    (tmp_path / "bare.csv").write_text("\n".join(rows) + "\n")
    yrows = [f"{i},{v:.6f}" for i, v in enumerate(s["Y1"][:, 0])]
    (tmp_path / "y.csv").write_text("\n".join([",lfmc", *yrows]) + "\n")
    for x1, y in (("indexed.csv", "y.npy"), ("bare.csv", "y.npy"), ("x1.npy", "y.csv")):
        np.save(tmp_path / "x1.npy", s["X1"])
        files = [str(tmp_path / f) for f in (x1, "x2.npy", y)]
        assert main(["diagnose", *files, "--n-boot", "20"]) == 2
        assert "counts the rows (0, 1, 2, ...): a row index" in _one_line(capsys)
    numbered = [",".join(str(j) for j in range(8))] + [r.split(",", 1)[1] for r in rows]
    (tmp_path / "numbered.csv").write_text("\n".join(numbered) + "\n")
    files = [str(tmp_path / f) for f in ("numbered.csv", "x2.npy", "y.npy")]
    assert main(["diagnose", *files, "--n-boot", "20"]) == 0
    assert "n = 300" in capsys.readouterr().out


def test_cli_refuses_an_out_file_before_working(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--out that is a file (or below one) is refused in one line before any computation."""
    s = _sample(0.4, n=300)
    for name in ("x1", "x2"):
        np.save(tmp_path / f"{name}.npy", s[name.upper()])
    (tmp_path / "taken").write_text("x")
    files = [str(tmp_path / f) for f in ("x1.npy", "x2.npy")]
    for out, message in (("taken", "is a file, not a folder"), ("taken/sub", "cannot create")):
        assert main(["diagnose", *files, "--out", str(tmp_path / out)]) == 2
        assert message in _one_line(capsys)
        assert capsys.readouterr().out == ""


def test_cli_data_set_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    """A loader name reads both modalities and the target (the small fake files are refused
    as too few samples for their dimension, in one line)."""
    with fake_registry() as root:
        assert main(["diagnose", "lfmc", "--data-dir", str(root)]) == 2
        assert "too few samples for the dimension: 24 rows" in _one_line(capsys)
        assert main(["diagnose", "houston", "--data-dir", str(root)]) == 2
        assert "30 rows for 179 columns" in _one_line(capsys)


# --------------------------------------------------------------------------- real data
@pytest.mark.parametrize("name", ["lfmc", "lfmc-context", "houston"])
def test_real_data(name: str, data_dir: Path) -> None:
    """The diagnosis of each real pair runs, finds shared directions and recommends."""
    from aligninfo.diagnose import load_named

    pair = load_named(name, data_dir)
    d = diagnose(**pair.arguments(), n_boot=20, progress=False)
    print(f"{name}: {d.recommendation}; lost share {d.lost_share['X1']}")
    assert d.recommendation in RECOMMENDATIONS
    assert d.rho_oof[0] > 0.3 and d.k >= 1
    assert d.phase is not None and d.phase.regime in d.phase.regime_shares
    # LFMC: sites held out and resampled; Houston: scan-order polygons resampled within
    # their class (one class each), the folds splitting them.
    expected = "groups" if name.startswith("lfmc") else "groups, split by the folds, within classes"
    assert d.resampling == expected and d.n_groups is not None
