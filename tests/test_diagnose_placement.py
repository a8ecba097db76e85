"""The phase placement's rules: the noise floor, a scaled signal threshold, X2's scale, the
resample shares, the sentences, and inputs that cannot be placed."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from test_diagnose_phase import CASES, _spiked

from aligninfo.book.cli import main
from aligninfo.diagnose import diagnose
from aligninfo.diagnose.estimates import choose_k, holds
from aligninfo.diagnose.phase import PhasePlacement, regime_of, separation
from aligninfo.diagnose.recommend import phase_sentence
from aligninfo.diagnose.settings import (
    N_REPEATS,
    RHO_MIN,
    RHO_NEAR_COPY,
    SIGNAL_SHARE,
    SIGNAL_SHARES_CHECKED,
)
from aligninfo.stats import Interval


def _with_noise_columns(case: tuple, n: int, extra: int, seed: int) -> dict[str, np.ndarray]:
    """A spiked model's sample with ``extra`` pure-noise columns added to X1 and X2."""
    s = _spiked(*case).model.sample(n, seed=seed)
    rng = np.random.default_rng(seed)
    return {
        "x1": np.hstack([s["X1"], rng.standard_normal((n, extra))]),
        "x2": np.hstack([s["X2"], rng.standard_normal((n, extra))]),
        "y": s["Y1"][:, 0],
    }


# ------------------------------------------------------------------------ F2: noise floor
def test_pairs_that_do_not_hold_count_at_the_noise_floor() -> None:
    """A pair that does not hold out of fold counts as RHO_MIN, signal or nuisance; both
    extremes at the floor are a tie (NaN), which the regime calls unsettled."""
    values = np.array([0.5, 0.4, 0.02])
    signal, held = np.array([True, True, False]), np.array([True, True, False])
    assert separation(values, signal, held) == pytest.approx(0.4 / RHO_MIN)
    weak = separation(np.array([0.05, 0.5, 0.03]), signal[[0, 2, 1]], np.array([0, 1, 0], bool))
    assert weak == pytest.approx(RHO_MIN / 0.5)
    tie = separation(np.array([0.05, 0.03]), np.array([True, False]), np.zeros(2, bool))
    assert np.isnan(tie) and regime_of(tie, 2.0) == "unsettled"


def test_holds_is_the_rule_that_chooses_k() -> None:
    """One rule: k is the leading run of the pairs that hold."""
    rho, low = np.array([0.6, 0.3, 0.05, 0.4]), np.array([0.5, 0.2, 0.01, 0.3])
    assert list(holds(rho, low)) == [True, True, False, True]
    assert choose_k(rho, low) == 2


def test_noise_pairs_do_not_set_the_nuisance_floor() -> None:
    """Near the boundary (signal 0.5, nuisance 0.45) both pairs can be read as signal; the
    floor then came from noise pairs near 0 and Δ_align read 19 (population 1.1). It is now
    bounded by the largest correlation over RHO_MIN."""
    d = diagnose(
        **_with_noise_columns((0.5, 0.45, (1, 1)), 500, 8, 3), seed=3, n_boot=40, progress=False
    )
    p = d.phase
    assert p is not None
    assert p.delta_alignment.estimate <= max(p.rho) / RHO_MIN + 1e-9, p.delta_alignment


def test_a_nuisance_read_as_signal_through_tied_pairs_is_not_settled() -> None:
    """Across the boundary (signal 0.45 < nuisance 0.5: 'neither' in the population), the
    sample's two nearly equal canonical pairs share the task, both read as signal, and the
    data were placed in 'both' (97 % of resamples). Counting the one that gains less as
    nuisance moves the placement: it is reported as not settled, and the sentence says why."""
    for seed in (0, 3):
        d = diagnose(
            **_with_noise_columns((0.45, 0.5, (1, 1)), 500, 8, seed),
            seed=seed,
            n_boot=40,
            progress=False,
        )
        p = d.phase
        assert p is not None and p.regime == "both" and p.signal_alignment[:2] == [True, True]
        assert p.untied_regime not in ("", "both") and not p.settled
        assert "tied in value" in phase_sentence(p)
    far = diagnose(**_with_noise_columns(CASES["both"], 500, 8, 0), n_boot=40, progress=False)
    assert far.phase is not None and far.phase.settled


# ------------------------------------------------------------- F3: the signal threshold
def test_a_weak_task_is_placed_by_a_threshold_scaled_with_its_r2() -> None:
    """A task with R²(Y | X1) near 0.01 (its signal pair gains less than 0.01, the former
    absolute threshold, which read it as 'neither') is placed in its regime."""
    nm = _spiked(*CASES["both"])
    s = nm.model.sample(4000, seed=4)
    y = s["Y1"][:, 0] + 7.0 * np.random.default_rng(4).standard_normal(4000)
    d = diagnose(s["X1"], s["X2"], y, n_boot=40, progress=False)
    p = d.phase
    assert p is not None and d.r2["X1"].estimate < 0.1
    assert p.threshold == pytest.approx(SIGNAL_SHARE * d.r2["X1"].estimate)
    assert max(p.gain_alignment) < 0.01
    assert p.regime == "both", d.summary()
    assert list(p.sensitivity) == [f"{q:g}" for q in SIGNAL_SHARES_CHECKED]
    assert p.sensitivity[f"{SIGNAL_SHARE:g}"] == p.regime


# ------------------------------------------------------------------ F4: the scale of X2
def test_keeping_the_scale_of_x2_can_change_the_prediction_answer() -> None:
    """'alignment only': the nuisance is loud for cross-prediction (four copies in X2). Made
    ten times louder, the one signal column of X2 draws the prediction when its scale is kept
    (Kamai et al.'s setting) but not once standardised; canonical correlations do not move."""
    nm = _spiked(*CASES["alignment only"])
    s = nm.model.sample(3000, seed=1)
    x2 = s["X2"] * np.array([10.0, 1, 1, 1, 1])
    kept = diagnose(s["X1"], x2, s["Y1"][:, 0], n_boot=20, progress=False, x2_scale="as given")
    std = diagnose(s["X1"], x2, s["Y1"][:, 0], n_boot=20, progress=False)
    assert kept.phase is not None and std.phase is not None
    assert std.phase.regime == "alignment only" and std.phase.x2_scale == "standardised"
    assert kept.phase.regime == "both" and kept.phase.x2_scale == "as given"
    assert np.allclose(kept.rho_oof, std.rho_oof)


def test_cli_keeps_the_scale_of_x2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--x2-scale as-given reaches the diagnosis and its JSON."""
    s = _spiked(*CASES["both"]).model.sample(600, seed=0)
    for name, a in (("x1", s["X1"]), ("x2", s["X2"]), ("y", s["Y1"][:, 0])):
        np.save(tmp_path / f"{name}.npy", a)
    files = [str(tmp_path / f"{n}.npy") for n in ("x1", "x2", "y")]
    out = tmp_path / "out"
    assert (
        main(["diagnose", *files, "--n-boot", "20", "--x2-scale", "as-given", "--out", str(out)])
        == 0
    )
    assert "as given X2" in capsys.readouterr().out
    record = json.loads((out / "diagnosis.json").read_text())
    assert record["phase"]["x2_scale"] == "as given"


def test_unknown_x2_scale_is_refused() -> None:
    from aligninfo.diagnose import DiagnoseInputError

    s = _spiked(*CASES["both"]).model.sample(300, seed=0)
    with pytest.raises(DiagnoseInputError, match="x2_scale"):
        diagnose(s["X1"], s["X2"], s["Y1"][:, 0], n_boot=20, x2_scale="raw")


# ------------------------------------------------------------ F5: what the shares mean
def test_shares_are_said_to_be_upper_bounds_and_each_fold_assignment_is_placed() -> None:
    s = _spiked(*CASES["both"]).model.sample(1500, seed=2)
    d = diagnose(s["X1"], s["X2"], s["Y1"][:, 0], n_boot=20, progress=False)
    record = d.to_dict()
    assert len(record["phase"]["repeat_regimes"]) == N_REPEATS
    assert "upper bound" in record["settings"]["placement_shares"]
    assert "at most" in d.summary() and "upper bounds" in phase_sentence(d.phase)


# ---------------------------------------------------- F6: the sentence leads with most
def _placement(regime: str, shares: dict[str, float], weak: bool) -> PhasePlacement:
    iv = Interval(0.8, 0.6, 1.2, 0.95)
    return PhasePlacement(
        rho=[0.6, 0.05],
        cross_prediction=[1.0, 0.1],
        gain_alignment=[0.0, 0.02],
        gain_prediction=[0.0, 0.02],
        signal_alignment=[False, True],
        signal_prediction=[False, True],
        holds=[True, not weak],
        delta_alignment=iv,
        delta_prediction=iv,
        regime=regime,
        regime_shares={
            r: shares.get(r, 0.0)
            for r in (
                "both",
                "alignment only",
                "prediction only",
                "neither",
                "unsettled",
                "not placed",
            )
        },
        kappa=iv,
        nu=iv,
        gamma_y_n=1.0,
        threshold=0.01,
    )


def test_the_sentence_leads_with_what_most_resamples_say_and_flags_weak_signal() -> None:
    p = _placement("alignment only", {"alignment only": 0.3, "neither": 0.6, "both": 0.1}, True)
    assert p.majority == "neither" and not p.settled and p.weak_signal == [2]
    words = phase_sentence(p)
    assert "most resamples (60%) place it in 'neither' (the data's own estimate: " in words
    assert "unsettled" in words and "weak signal: signal pair(s) 2" in words
    firm = _placement("neither", {"neither": 1.0}, False)
    assert firm.majority == "neither" and "weak signal" not in phase_sentence(firm)


def test_a_method_without_a_detected_signal_component_is_not_settled() -> None:
    """With canonical pairs carrying the task but no cross-prediction direction detected as
    signal (a weak task, few rows), Δ_pred is 0 for want of evidence: the placement ('neither'
    here, far from 1 on both Δ) is not settled, and the sentence says why. On synthetic
    'prediction only' data with a weak task (R² 0.16, n 200) such placements were all wrong."""
    zero = Interval(0.0, 0.0, 0.0, 0.95)
    p = dataclasses.replace(
        _placement("neither", {"neither": 1.0}, False),
        signal_prediction=[False, False],
        delta_alignment=Interval(0.8, 0.75, 0.85, 0.95),
        delta_prediction=zero,
    )
    assert p.one_sided == "prediction" and not p.settled
    assert "no cross-prediction direction carries the task detectably" in phase_sentence(p)
    found = dataclasses.replace(p, signal_prediction=[True, False], delta_prediction=zero)
    assert found.one_sided == "" and found.settled


# ----------------------------------------------------------------------- F7: inputs
def test_a_target_without_signal_is_not_placed() -> None:
    """A target independent of both modalities used to be placed in 'neither'."""
    s = _spiked(*CASES["both"]).model.sample(2000, seed=5)
    y = np.random.default_rng(5).standard_normal(2000)
    d = diagnose(s["X1"], s["X2"], y, n_boot=40, progress=False)
    assert d.phase is not None and d.phase.regime == "not placed", d.summary()
    assert not any(d.phase.signal_alignment) and "not placed" in phase_sentence(d.phase)


def test_near_copies_are_warned_of() -> None:
    rng = np.random.default_rng(6)
    x1 = rng.standard_normal((800, 4))
    x2 = x1 @ rng.standard_normal((4, 4)) + 0.01 * rng.standard_normal((800, 4))
    y = x1[:, 0] + rng.standard_normal(800)
    d = diagnose(x1, x2, y, n_boot=20, progress=False)
    assert d.rho[0].estimate > RHO_NEAR_COPY
    assert any("near copies" in r for r in d.reasons)
    far = diagnose(x1, rng.standard_normal((800, 3)) + x1[:, :3], y, n_boot=20, progress=False)
    assert not any("near copies" in r for r in far.reasons)


def test_a_single_column_is_not_placed() -> None:
    """One column gives one canonical pair: nothing for a nuisance to compete with (it used
    to be placed in 'both', 100 % sure)."""
    rng = np.random.default_rng(7)
    x1 = rng.standard_normal((500, 1))
    x2, y = x1 + rng.standard_normal((500, 3)), x1[:, 0] + rng.standard_normal(500)
    d = diagnose(x1, x2, y, n_boot=20, progress=False)
    assert d.phase is not None and d.phase.regime == "not placed"
    assert d.phase.regime_shares["not placed"] == 1.0
    assert "single canonical pair" in phase_sentence(d.phase)
