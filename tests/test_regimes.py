"""Closed-form regime grids agree with GaussianModel point by point; the variance split adds up."""

from __future__ import annotations

import numpy as np
import pytest

from aligninfo.gaussian import GaussianModel
from aligninfo.regimes import aligned_basis, aligned_split, sigma_r2_grid, sigma_spectrum


@pytest.fixture(scope="module")
def model() -> GaussianModel:
    return GaussianModel.random(d_shared=2, d_unique=(3, 2), dims=(7, 6), noise=(0.4, 0.2),
                                unique_share=(0.5, 0.3), seed=3, target_noise=(0.2, 0.1))


@pytest.mark.parametrize("modality", [1, 2])
def test_grid_matches_pointwise(model: GaussianModel, modality: int) -> None:
    w = np.random.default_rng(0).standard_normal((4, model.dims[modality - 1]))
    shares, sigmas = np.linspace(0, 1, 6), np.array([0.0, 0.1, 0.5, 2.0])
    grid = sigma_r2_grid(model, w, shares, sigmas, modality)
    assert grid.shape == (6, 4)
    for i, u in enumerate(shares):
        pair = (u, model.unique_share[1]) if modality == 1 else (model.unique_share[0], u)
        ref = model.with_unique_share(pair).sigma_informativeness(
            w, f"Y{modality}", modality, sigmas)
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
    np.testing.assert_allclose(spec.r2_sigma(sigmas), model.sigma_informativeness(w, sigma=sigmas),
                               atol=1e-12)
    assert np.isclose(spec.variance.mean(), 1.0)
    assert np.all((spec.aligned >= -1e-12) & (spec.aligned <= 1 + 1e-12))
    cca = sigma_spectrum(model, model.cca_projection(model.d_shared))
    np.testing.assert_allclose(cca.aligned, 1.0, atol=1e-10)
    np.testing.assert_allclose(cca.variance, 1.0, atol=1e-10)
