"""The diagnosis places data on Kamai et al.'s phase diagram, and resamples given groups."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aligninfo.book.cli import main
from aligninfo.diagnose import diagnose
from aligninfo.diagnose.core import class_strata
from aligninfo.diagnose.estimates import cross_prediction_directions, draw_groups
from aligninfo.diagnose.phase import regime_of, separation
from aligninfo.diagnose.settings import SIGNAL_SHARE
from aligninfo.gaussian import GaussianModel
from aligninfo.nuisance import REGIMES, NuisanceModel, cross_prediction_values, recovery


def _spiked(r_signal: float, r_nuisance: float, copies: tuple[int, int]) -> NuisanceModel:
    """A separable spiked model whose X2 the diagnosis reads as it is (unit-variance columns).

    X1 (two columns, rotated) sees the signal s and the nuisance N once each, with
    correlation r_signal (r_nuisance) to each of X2's columns; X2 holds ``copies`` near-copies
    of s and of N (noise variance 0.1, then scaled to unit variance). The target is s. Each
    X2 column sees one latent, so standardising it keeps the model separable: the regime is
    that of :func:`aligninfo.nuisance.recovery` on this very model. Copies make a latent
    loud for cross-prediction (its value grows like sqrt(copies)) but not for alignment.
    """
    g2 = 0.1
    scale = 1 / np.sqrt(1 + g2)
    r1 = (
        np.array([r_signal, r_nuisance]) / scale
    )  # correlation of each X1 coordinate with its latent
    load1 = np.diag(r1)  # X1 coordinates: r1 * latent + sqrt(1 - r1²) * own noise
    noise1 = np.diag(np.sqrt(1 - r1**2))
    turn = np.array([[np.cos(0.7), -np.sin(0.7)], [np.sin(0.7), np.cos(0.7)]])
    m_s, m_n = copies
    shared2 = np.vstack([np.tile([1.0, 0.0], (m_s, 1)), np.tile([0.0, 1.0], (m_n, 1))])
    own2 = np.sqrt(g2) * np.eye(m_s + m_n)
    mixing = (turn @ np.hstack([load1, noise1]), scale * np.hstack([shared2, own2]))
    target = np.array([1.0, 0.0])
    model = GaussianModel(mixing, (0.0, 0.0), (target, target), (np.zeros(2), np.zeros(m_s + m_n)))
    return NuisanceModel(model, 1)


CASES = {
    "both": (0.7, 0.3, (1, 1)),
    "alignment only": (0.6, 0.4, (1, 4)),
    "prediction only": (0.4, 0.6, (4, 1)),
    "neither": (0.3, 0.7, (1, 1)),
}


def test_the_test_models_are_in_their_regimes() -> None:
    """The population regime of each test model (the library's recovery, an independent
    route: the share of E[S | X1] that the top canonical / cross-prediction direction keeps)
    is the one named, with margins, and the columns of X2 already have unit variance."""
    for regime, (rs, rn, copies) in CASES.items():
        nm = _spiked(rs, rn, copies)
        assert np.allclose(np.diag(nm.model.covariance("X2")), 1.0)
        rec = recovery(nm, k=1)
        assert rec.regime == regime
        for delta in (rec.delta_alignment, rec.delta_prediction):
            assert abs(np.log(delta)) > np.log(1.2), (regime, rec)


@pytest.mark.parametrize("regime", list(CASES))
def test_synthetic_spiked_data_is_placed_in_its_regime(regime: str) -> None:
    """Samples of a spiked model in each regime are placed in it, by most resamples, and the
    separations' intervals hold the population values."""
    nm = _spiked(*CASES[regime])
    s = nm.model.sample(3000, seed=1)
    d = diagnose(s["X1"], s["X2"], s["Y1"][:, 0], n_boot=40, progress=False)
    p = d.phase
    assert p is not None and p.regime == regime, d.summary()
    assert p.sureness >= 0.8, p.regime_shares
    assert p.signal_alignment.count(True) == 1 and p.signal_prediction.count(True) == 1
    rec = recovery(nm, k=1)
    assert p.delta_alignment.low <= rec.delta_alignment <= p.delta_alignment.high
    assert p.delta_prediction.low <= rec.delta_prediction <= p.delta_prediction.high
    # The placed point has the signal's correlation, kappa² / (kappa² + 1), and nu.
    rho = np.sort(nm.model.canonical_correlations())[::-1][:2]
    signal_rho = rho[0] if regime in ("both", "alignment only") else rho[1]
    kappa = p.kappa.estimate
    assert kappa**2 / (kappa**2 + 1) == pytest.approx(signal_rho, abs=0.05)
    assert p.nu.estimate == pytest.approx(rho.sum() - signal_rho, abs=0.05)
    record = json.loads(json.dumps(d.to_dict()))
    assert record["phase"]["regime"] == regime
    assert record["settings"]["signal_share"] == SIGNAL_SHARE
    assert any("phase diagram" in r for r in d.reasons)
    # Where alignment misses the signal, the reasons say which embedding size the advice needs.
    missing = regime in ("prediction only", "neither")
    assert p.settled or not missing, d.summary()
    assert any("keeps the nuisance, not the task" in r for r in d.reasons) == missing
    if missing:
        assert "embedding of at least 2 variate(s)" in d.summary()


def test_out_of_fold_values_estimate_the_cross_prediction_spectrum() -> None:
    """The diagnosis's cross-prediction values (held out) approach the model's closed form."""
    nm = _spiked(*CASES["prediction only"])
    s = nm.model.sample(20_000, seed=2)
    d = diagnose(s["X1"], s["X2"], s["Y1"][:, 0], n_boot=20, progress=False)
    assert d.phase is not None
    closed = cross_prediction_values(nm.model)[:2]
    assert np.allclose(d.phase.cross_prediction, closed, atol=0.03)


def test_pooled_held_out_features_keep_one_sign_across_folds() -> None:
    """In a rotated basis the SVD's signs can differ by fold; the pooled values must not cancel
    (before a sign convention, draws 5 and 7 read 0.81 / 0.27 against 1.31 / 0.44 in sample)."""
    from aligninfo.diagnose.estimates import Blocks, out_of_fold, weighted_cross_prediction

    n, d = 1_000, 10
    b, folds = Blocks(d, d, 0), np.arange(n) % 5
    for seed in range(8):
        rng = np.random.default_rng(seed)
        latent = rng.standard_normal((n, 2))  # two shared directions of unequal strength
        x1 = np.hstack([latent, rng.standard_normal((n, d - 2))]) @ _rotation(d, rng)
        x2 = np.hstack([1.5 * latent[:, :1], 0.4 * latent[:, 1:], rng.standard_normal((n, d - 2))])
        data = np.hstack([x1, x2 @ _rotation(d, rng)])
        data = (data - data.mean(axis=0)) / data.std(axis=0)
        f1 = out_of_fold(data, b, folds, 3)["f1"]
        pooled = weighted_cross_prediction(f1, data[:, d:], np.ones((1, n)))[0]
        in_sample = cross_prediction_directions(np.cov(data, rowvar=False), b)[0]
        assert np.allclose(pooled[:2], in_sample[:2], atol=0.03), (seed, pooled, in_sample)


def _rotation(d: int, rng: np.random.Generator) -> np.ndarray:
    return np.linalg.qr(rng.standard_normal((d, d)))[0]


def test_cross_prediction_directions_are_uncorrelated_unit_features() -> None:
    """W C11 Wᵀ = I and the values are the singular values of C11^{-1/2} C12."""
    rng = np.random.default_rng(0)
    data = rng.standard_normal((500, 7)) @ rng.standard_normal((7, 7))
    cov = np.cov(data, rowvar=False)
    from aligninfo.diagnose.estimates import Blocks

    s, w = cross_prediction_directions(cov, Blocks(4, 3, 0))
    assert np.allclose(w @ cov[:4, :4] @ w.T, np.eye(3), atol=1e-5)
    lam, vec = np.linalg.eigh(cov[:4, :4])
    expected = np.linalg.svd((vec / np.sqrt(lam)) @ vec.T @ cov[:4, 4:], compute_uv=False)
    assert np.allclose(s, expected, atol=1e-5)


def test_separation_and_regime() -> None:
    """Δ is min signal / max nuisance; 0 without signal; inf without nuisance."""
    values = np.array([0.9, 0.5, 0.3])
    assert separation(values, np.array([False, True, False])) == pytest.approx(0.5 / 0.9)
    assert separation(values, np.array([True, False, False])) == pytest.approx(0.9 / 0.5)
    assert separation(values, np.zeros(3, bool)) == 0.0
    assert separation(values, np.ones(3, bool)) == np.inf
    assert [regime_of(a, p) for a, p in ((2, 2), (2, 0.5), (0.5, 2), (0.5, 0.5))] == list(REGIMES)


# ------------------------------------------------------------------ groups resampled only
def test_strata_keep_every_class_in_every_resample() -> None:
    """Groups of one class each are drawn within their class: each class keeps its count of
    groups; groups of mixed classes give no strata."""
    y = np.repeat([0, 0, 1, 2, 2, 2], 10)
    ids = np.repeat(np.arange(6), 10)
    onehot = (y[:, None] == np.arange(2)[None]).astype(float)  # last class dropped
    strata = class_strata(ids, onehot)
    assert strata is not None and strata.tolist() == [0, 0, 1, 2, 2, 2]
    rng = np.random.default_rng(0)
    for _ in range(50):
        drawn = draw_groups(6, strata, rng)
        assert sorted(strata[drawn].tolist()) == [0, 0, 1, 2, 2, 2]
    mixed = ids.copy()
    mixed[:5] = 2  # group 2 now holds classes 0 and 1
    assert class_strata(mixed, onehot) is None


def test_resample_groups_are_resampled_and_the_folds_split_them() -> None:
    """resample_groups: the intervals resample the groups (within classes here), the reasons
    say the folds split them; with groups as well the call is refused."""
    nm = _spiked(*CASES["both"])
    s = nm.model.sample(1200, seed=3)
    y = np.digitize(s["Y1"][:, 0], [-0.4, 0.4])
    order = np.argsort(y, kind="stable")
    x1, x2, y = s["X1"][order], s["X2"][order], y[order]
    groups = np.concatenate(
        [np.full(c, 10 * k) + np.arange(c) * 4 // c for k, c in enumerate(np.bincount(y))]
    )  # 4 groups per class, one class each
    d = diagnose(x1, x2, y, resample_groups=groups, n_boot=20, progress=False)
    assert d.n_groups == 12 and d.resampling == "groups, split by the folds, within classes"
    assert any("the intervals resample the 12 groups within each class" in r for r in d.reasons)
    assert not any("independent samples" in r for r in d.reasons)
    with pytest.raises(ValueError, match="not both"):
        diagnose(x1, x2, y, groups=groups, resample_groups=groups, n_boot=20, progress=False)
    rows = diagnose(x1, x2, y, n_boot=20, progress=False)
    assert rows.resampling == "rows"
    assert rows.lost_share["X1"].estimate == pytest.approx(d.lost_share["X1"].estimate)


def test_cli_resample_groups(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--resample-groups reads one label per row and says what the intervals resample."""
    nm = _spiked(*CASES["both"])
    s = nm.model.sample(600, seed=4)
    for name in ("X1", "X2"):
        np.save(tmp_path / f"{name}.npy", s[name])
    np.save(tmp_path / "y.npy", s["Y1"][:, 0])
    np.save(tmp_path / "g.npy", np.arange(600) // 50)
    files = [str(tmp_path / f) for f in ("X1.npy", "X2.npy", "y.npy")]
    options = ["--resample-groups", str(tmp_path / "g.npy"), "--n-boot", "20"]
    assert main(["diagnose", *files, *options]) == 0
    out = capsys.readouterr().out
    assert "12 groups; intervals resample groups, split by the folds" in out
    assert "phase diagram (Kamai et al.): BOTH" in out
    both = ["--groups", str(tmp_path / "g.npy"), *options]
    assert main(["diagnose", *files, *both]) == 2
    assert "not both" in capsys.readouterr().err
