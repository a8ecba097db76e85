"""Closed-form regime grids agree with GaussianModel point by point; the variance split adds up."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from aligninfo.gaussian import GaussianModel
from aligninfo.losses import info_nce
from aligninfo.regimes import (
    aligned_basis,
    aligned_split,
    infonce_optimum_r2,
    sigma_r2_grid,
    sigma_spectrum,
    temperature_limit_gaps,
)


@pytest.fixture(scope="module")
def model() -> GaussianModel:
    return GaussianModel.random(
        d_shared=2,
        d_unique=(3, 2),
        dims=(7, 6),
        noise=(0.4, 0.2),
        unique_share=(0.5, 0.3),
        seed=3,
        target_noise=(0.2, 0.1),
    )


@pytest.mark.parametrize("modality", [1, 2])
def test_grid_matches_pointwise(model: GaussianModel, modality: int) -> None:
    w = np.random.default_rng(0).standard_normal((4, model.dims[modality - 1]))
    shares, sigmas = np.linspace(0, 1, 6), np.array([0.0, 0.1, 0.5, 2.0])
    grid = sigma_r2_grid(model, w, shares, sigmas, modality)
    assert grid.shape == (6, 4)
    for i, u in enumerate(shares):
        pair = (u, model.unique_share[1]) if modality == 1 else (model.unique_share[0], u)
        ref = model.with_unique_share(pair).sigma_informativeness(
            w, f"Y{modality}", modality, sigmas
        )
        np.testing.assert_allclose(grid[i], ref, atol=1e-12)


def test_grid_scale_invariant_and_decreasing(model: GaussianModel) -> None:
    w = model.pca_projection(3)
    sigmas = np.logspace(-2, 1, 20)
    a = sigma_r2_grid(model, w, [0.3], sigmas)
    np.testing.assert_allclose(a, sigma_r2_grid(model, 7.5 * w, [0.3], sigmas), atol=1e-12)
    assert np.all(np.diff(a[0]) < 0)


def test_grid_rejects_bad_input(model: GaussianModel) -> None:
    w = model.pca_projection(2)
    with pytest.raises(ValueError, match="shares"):
        sigma_r2_grid(model, w, [1.5], [0.1])
    with pytest.raises(ValueError, match="sigmas"):
        sigma_r2_grid(model, w, [0.5], [-1.0])


def test_split_is_orthogonal_and_exhaustive(model: GaussianModel) -> None:
    w = np.random.default_rng(1).standard_normal((5, model.dims[0]))
    par, perp = aligned_split(model, w)
    c11, c12 = model.covariance("X1"), model.cross_covariance("X1", "X2")
    np.testing.assert_allclose(par + perp, w)
    np.testing.assert_allclose(perp @ c12, 0, atol=1e-10)
    np.testing.assert_allclose(par @ c11 @ perp.T, 0, atol=1e-10)
    basis = aligned_basis(model)
    assert basis.shape == (model.d_shared, model.dims[0])
    # rows of par lie in the span of the basis
    coef = np.linalg.lstsq(basis.T, par.T, rcond=None)[0]
    np.testing.assert_allclose(basis.T @ coef, par.T, atol=1e-10)


def test_spectrum_reconstructs_r2_sigma(model: GaussianModel) -> None:
    w = np.random.default_rng(2).standard_normal((4, model.dims[0]))
    spec = sigma_spectrum(model, w)
    sigmas = np.array([0.0, 0.3, 1.0])
    np.testing.assert_allclose(
        spec.r2_sigma(sigmas), model.sigma_informativeness(w, sigma=sigmas), atol=1e-12
    )
    assert np.isclose(spec.variance.mean(), 1.0)
    assert np.all((spec.aligned >= -1e-12) & (spec.aligned <= 1 + 1e-12))
    cca = sigma_spectrum(model, model.cca_projection(model.d_shared))
    np.testing.assert_allclose(cca.aligned, 1.0, atol=1e-10)
    np.testing.assert_allclose(cca.variance, 1.0, atol=1e-10)


def test_aligned_limit_matches_padded_variates_and_samples(model: GaussianModel) -> None:
    from aligninfo.probes import sigma_informativeness
    from aligninfo.regimes import aligned_limit

    sigmas = np.array([0.0, 0.2, 1.0])
    d_s = model.d_shared
    for k in (1, d_s, d_s + 2):
        r = min(k, d_s)
        padded = np.vstack([model.cca_projection(r), np.zeros((k - r, model.dims[0]))])
        np.testing.assert_allclose(
            aligned_limit(model, k, sigmas),
            model.sigma_informativeness(padded, sigma=sigmas),
            atol=1e-12,
        )
    # Monte Carlo: the sample estimator on encoded samples, k = d_s + 2.
    big = model.sample(200_000, seed=5)
    padded = np.vstack([model.cca_projection(d_s), np.zeros((2, model.dims[0]))])
    est = sigma_informativeness(big["X1"] @ padded.T, big["Y1"], sigmas)
    np.testing.assert_allclose(est, aligned_limit(model, d_s + 2, sigmas), atol=0.01)
    # Padding raises R²_σ (the k dependence) but not R²_0, which stays the ceiling.
    values = [aligned_limit(model, k, [0.5])[0] for k in range(d_s, d_s + 4)]
    assert np.all(np.diff(values) > 0)
    np.testing.assert_allclose(aligned_limit(model, d_s + 3, [0.0]), model.alignment_ceiling())
    with pytest.raises(ValueError, match="k must be"):
        aligned_limit(model, 0, sigmas)


def test_specific_r2_is_what_alignment_removes(model: GaussianModel) -> None:
    from aligninfo.regimes import specific_r2

    value = specific_r2(model)
    np.testing.assert_allclose(value, model.r2("Y1", "X1") - model.alignment_ceiling(), atol=1e-10)
    # Monte Carlo: regress Y1 on the features of X1 uncorrelated with X2.
    big = model.sample(200_000, seed=6)
    _, perp = aligned_split(model, np.eye(model.dims[0]))
    feats = big["X1"] @ perp.T
    coef, *_ = np.linalg.lstsq(feats, big["Y1"], rcond=None)
    resid = big["Y1"] - feats @ coef
    assert abs(1 - resid.var() / big["Y1"].var() - value) < 0.01
    # No unique share: nothing to remove.
    assert specific_r2(model.with_unique_share((0.0, 0.3))) < 1e-10


def test_infonce_optimum_r2_spans_ceiling_to_all_of_x1(model: GaussianModel) -> None:
    d_s, tau = model.d_shared, 0.3
    ceiling, own = model.alignment_ceiling("Y1"), model.r2("Y1", "X1")
    assert infonce_optimum_r2(model, d_s) == pytest.approx((ceiling, ceiling))
    least, most = infonce_optimum_r2(model, d_s + 2)
    assert least == pytest.approx(ceiling) and most == pytest.approx(own)
    assert most > least + 1e-3  # the model's Y1 has a unique part
    top = model.r2_projection("Y1", model.cca_projection(1))
    assert infonce_optimum_r2(model, 1) == pytest.approx((top, top))
    # An explicit optimal pair with a free row: W1ᵀW2 = τ M*, and its R² lies in the range.
    rho = model.canonical_correlations()[:d_s]
    a, b = model.cca_projection(d_s), model.cca_projection(d_s, modality=2)
    extra = np.random.default_rng(0).standard_normal((1, model.dims[0]))
    w1 = np.vstack([a, extra])
    w2 = np.vstack([tau * rho[:, None] * b, np.zeros((1, model.dims[1]))])
    np.testing.assert_allclose(w1.T @ w2, tau * model.infonce_bilinear_optimum(), atol=1e-10)
    r2 = model.r2_projection("Y1", w1)
    assert least - 1e-12 <= r2 <= most + 1e-12
    with pytest.raises(ValueError, match="k must be"):
        infonce_optimum_r2(model, 0)


@pytest.mark.parametrize("tau", [0.05, 0.5, 5.0])
def test_temperature_limit_gaps_bound_the_library_loss(tau: float) -> None:
    n = 64
    rng = np.random.default_rng(1)
    z1 = torch.tensor(rng.standard_normal((n, 4)))
    z2 = z1 + torch.tensor(rng.standard_normal((n, 4)))
    loss = float(info_nce(z1, z2, temperature=tau))
    s = (F.normalize(z1, dim=1) @ F.normalize(z2, dim=1).T).numpy()
    diag = np.diag(s)
    margin = np.mean(s.max(1) + s.max(0) - 2 * diag) / 2
    high, low = temperature_limit_gaps(tau, n)
    gap_high = loss - (np.log(n) - (diag.mean() - s.mean()) / tau)
    assert -1e-5 <= gap_high <= high + 1e-5
    assert -1e-5 <= tau * loss - margin <= low + 1e-5
    with pytest.raises(ValueError, match="tau"):
        temperature_limit_gaps(0.0, n)


def test_infonce_optimum_r2_ends_are_attained_by_optima(model: GaussianModel) -> None:
    """Both ends of the range are reached by explicit optimal pairs (W1ᵀW2 = τ M*), k = d_s + 1."""
    d_s, tau = model.d_shared, 0.7
    least, most = infonce_optimum_r2(model, d_s + 1)
    m_star = model.infonce_bilinear_optimum()
    a = model.cca_projection(d_s)
    best = np.linalg.solve(model.covariance("X1"), model.cross_covariance("X1", "Y1")).T
    for free_row, end in ((a[:1], least), (best, most)):
        w1 = np.vstack([a, free_row])
        # W2 solves W1ᵀ W2 = τ M* (the columns of M* lie in the row space of W1).
        w2 = np.linalg.lstsq(w1.T, tau * m_star, rcond=None)[0]
        np.testing.assert_allclose(w1.T @ w2, tau * m_star, atol=1e-10)
        assert model.r2_projection("Y1", w1) == pytest.approx(end, abs=1e-10)
