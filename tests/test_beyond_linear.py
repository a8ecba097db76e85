"""Closed forms beyond linear CCA: the PMI, bilinear InfoNCE, Lancaster spectrum, resampling.

Each is checked against an independent computation: SciPy densities, Monte Carlo, brute force.
"""

import itertools
import math

import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermeval
from scipy.stats import multivariate_normal

from aligninfo.gaussian import GaussianModel
from aligninfo.linalg import maximal_correlation_spectrum

MODELS = [
    dict(seed=0),
    dict(d_shared=2, d_unique=(4, 1), dims=(7, 10), noise=(0.5, 0.2), unique_share=0.4, seed=1),
]


@pytest.fixture(params=range(len(MODELS)))
def model(request):
    return GaussianModel.random(**MODELS[request.param])


def pmi(model, x1, x2):
    """log p(x1, x2) - log p(x1) - log p(x2) from SciPy's Gaussian densities."""
    joint = multivariate_normal(cov=model.covariance("X1", "X2"))
    return (
        joint.logpdf(np.concatenate([x1, x2]))
        - multivariate_normal(cov=model.covariance("X1")).logpdf(x1)
        - multivariate_normal(cov=model.covariance("X2")).logpdf(x2)
    )


def test_pmi_cross_matrix_is_the_mixed_term_of_the_density_ratio(model):
    rng = np.random.default_rng(0)
    p1, p2 = model.dims
    cross = model.pmi_cross_matrix()
    for _ in range(3):
        x1, x2 = rng.standard_normal(p1), rng.standard_normal(p2)
        z1, z2 = np.zeros(p1), np.zeros(p2)
        mixed = pmi(model, x1, x2) - pmi(model, x1, z2) - pmi(model, z1, x2) + pmi(model, z1, z2)
        assert mixed == pytest.approx(x1 @ cross @ x2, rel=1e-8, abs=1e-8)
    assert np.linalg.matrix_rank(cross, tol=1e-8) == model.d_shared


def test_pmi_cross_matrix_refuses_noiseless_modalities():
    with pytest.raises(ValueError, match="infinite"):
        GaussianModel.random(dims=(6, 6), noise=0.0, seed=0).pmi_cross_matrix()


def monte_carlo_infonce(model, m, n=20_000, n_neg=4_000, seed=0):
    """-E f(X1, X2) + E_X1 log E_X2' exp f(X1, X2'), negatives from an independent pool."""
    data = model.sample(n, seed=seed)
    negatives = model.sample(n_neg, seed=seed + 1)["X2"]
    x1, x2 = data["X1"], data["X2"]
    positive = np.einsum("ij,jk,ik->i", x1, m, x2)
    logits = x1 @ m @ negatives.T
    top = logits.max(axis=1, keepdims=True)
    log_mean = top[:, 0] + np.log(np.exp(logits - top).mean(axis=1))
    return -positive.mean() + log_mean.mean()


def test_infonce_bilinear_loss_matches_monte_carlo(model):
    rng = np.random.default_rng(1)
    for m in (0.5 * model.infonce_bilinear_optimum(), 0.1 * rng.standard_normal(model.dims)):
        assert monte_carlo_infonce(model, m) == pytest.approx(
            model.infonce_bilinear_loss(m), abs=0.02
        )


def test_infonce_bilinear_optimum_is_the_minimiser(model):
    c11, c22 = model.covariance("X1"), model.covariance("X2")
    c12 = model.cross_covariance("X1", "X2")
    best = model.infonce_bilinear_optimum()
    np.testing.assert_allclose(best, np.linalg.solve(c11, c12) @ np.linalg.inv(c22), atol=1e-10)
    rng = np.random.default_rng(2)
    value = model.infonce_bilinear_loss(best)
    for _ in range(5):
        step = 1e-3 * rng.standard_normal(model.dims)
        assert model.infonce_bilinear_loss(best + step) > value
    assert np.linalg.matrix_rank(best, tol=1e-8) == model.d_shared


def test_rank_one_infonce_optimum_beats_random_rank_one_critics(model):
    best = model.infonce_bilinear_optimum(k=1)
    value = model.infonce_bilinear_loss(best)
    rng = np.random.default_rng(3)
    u, _, vt = np.linalg.svd(best)
    for _ in range(20):
        a = u[:, 0] + 0.2 * rng.standard_normal(model.dims[0])
        b = vt[0] + 0.2 * rng.standard_normal(model.dims[1])
        c = np.linspace(0.5, 2, 7)[:, None, None] * np.outer(a, b)
        scale = np.linalg.norm(best) / np.linalg.norm(np.outer(a, b))
        assert all(model.infonce_bilinear_loss(scale * ci) >= value - 1e-12 for ci in c)
    with pytest.raises(ValueError):
        model.infonce_bilinear_optimum(k=0)


def brute_force_spectrum(rho, k, max_degree=6):
    pos = [r for r in rho if r > 0]
    values = [
        math.prod(r**d for r, d in zip(pos, n, strict=True))
        for n in itertools.product(range(max_degree + 1), repeat=len(pos))
        if any(n)
    ]
    return np.sort(values)[::-1][:k]


@pytest.mark.parametrize("rho", [(0.95, 0.9, 0.6), (0.8, 0.0, 0.5), (0.3,), (0.9, 0.9)])
def test_maximal_correlation_spectrum_matches_brute_force(rho):
    values, degrees = maximal_correlation_spectrum(rho, 6)
    np.testing.assert_allclose(values, brute_force_spectrum(rho, 6), rtol=1e-12)
    pos = np.array([r for r in rho if r > 0])
    for value, n in zip(values, degrees, strict=True):
        assert value == pytest.approx(np.prod(pos ** np.array(n)))


def normalised_hermite_product(u, degrees):
    """∏ He_n(u_i) / sqrt(n!), shape (n_samples,)."""
    out = np.ones(len(u))
    for i, n in enumerate(degrees):
        out *= hermeval(u[:, i], [0] * n + [1]) / math.sqrt(math.factorial(n))
    return out


def test_hermite_products_reach_the_spectrum_by_monte_carlo():
    rho = np.array([0.9, 0.6])
    rng = np.random.default_rng(4)
    n = 400_000
    u = rng.standard_normal((n, 2))
    v = rho * u + np.sqrt(1 - rho**2) * rng.standard_normal((n, 2))
    values, degrees = maximal_correlation_spectrum(rho, 4)
    for value, deg in zip(values, degrees, strict=True):
        f, g = normalised_hermite_product(u, deg), normalised_hermite_product(v, deg)
        assert np.corrcoef(f, g)[0, 1] == pytest.approx(value, abs=0.01)


def test_maximal_correlation_spectrum_validates():
    with pytest.raises(ValueError):
        maximal_correlation_spectrum([1.0], 2)
    with pytest.raises(ValueError):
        maximal_correlation_spectrum([0.5], 0)
    values, _ = maximal_correlation_spectrum([0.0, 0.0], 2)
    np.testing.assert_array_equal(values, 0)


def test_resample_unaligned_keeps_the_joint_law_and_the_aligned_part(model):
    n = 200_000
    data = model.sample(n, seed=5)
    x1 = model.resample_unaligned(data["X1"], seed=6)
    # The aligned variates are unchanged.
    w = model.cca_projection(model.d_shared)
    np.testing.assert_allclose(x1 @ w.T, data["X1"] @ w.T, atol=1e-9)
    # (X1', X2) has the law of (X1, X2).
    sampled = np.cov(np.hstack([x1, data["X2"]]), rowvar=False)
    exact = model.covariance("X1", "X2")
    assert np.abs(sampled - exact).max() < 8 * np.sqrt(2 / n) * exact.diagonal().max()
    # Cov(X1', X1) = Cov(E[X1 | G]) with G = E[X2 | X1] = B X1 (an independent closed form).
    b, c11 = model.regression_map(1), model.covariance("X1")
    projected = c11 @ b.T @ np.linalg.pinv(b @ c11 @ b.T, rtol=1e-10) @ b @ c11
    cross = (x1 - x1.mean(0)).T @ (data["X1"] - data["X1"].mean(0)) / (n - 1)
    assert np.abs(cross - projected).max() < 8 * np.sqrt(2 / n) * c11.diagonal().max()
    with pytest.raises(ValueError):
        model.resample_unaligned(data["X1"][:, :3], seed=0)
