import numpy as np
import pytest
import scipy.linalg

from aligninfo.linalg import (
    cca_from_cov,
    inv_sqrtm_pd,
    logdet_pd,
    principal_angles,
    r2_from_cov,
    sqrtm_psd,
    top_eigenvectors,
)


def random_pd(p, seed, rank=None):
    a = np.random.default_rng(seed).standard_normal((p, rank or p + 2))
    return a @ a.T


def test_principal_angles_identical_and_orthogonal():
    a = np.random.default_rng(0).standard_normal((3, 7))
    mix = np.random.default_rng(1).standard_normal((3, 3))
    np.testing.assert_allclose(principal_angles(a, mix @ a), 0.0, atol=1e-7)
    eye = np.eye(6)
    np.testing.assert_allclose(principal_angles(eye[:2], eye[2:5]), np.pi / 2, atol=1e-12)


def test_principal_angles_known_angle_and_order():
    t = 0.3
    a = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    b = np.array([[np.cos(t), np.sin(t), 0.0], [0.0, 0.0, 2.0]])
    np.testing.assert_allclose(principal_angles(a, b), [0.0, t], atol=1e-12)


def test_principal_angles_match_scipy_and_handle_rank():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((3, 9)), rng.standard_normal((4, 9))
    ours = principal_angles(a, b)
    ref = np.sort(scipy.linalg.subspace_angles(a.T, b.T))
    np.testing.assert_allclose(ours, ref, atol=1e-10)
    assert np.all(np.diff(ours) >= 0)
    assert principal_angles(np.vstack([a, a[:1]]), b).shape == (3,)
    with pytest.raises(ValueError, match="columns"):
        principal_angles(a, b[:, :5])


def test_sqrt_and_inverse_sqrt():
    c = random_pd(5, 3)
    r = sqrtm_psd(c)
    np.testing.assert_allclose(r, r.T, atol=1e-12)
    np.testing.assert_allclose(r @ r, c, atol=1e-9)
    q = inv_sqrtm_pd(c)
    np.testing.assert_allclose(q @ c @ q, np.eye(5), atol=1e-9)
    with pytest.raises(ValueError, match="singular"):
        inv_sqrtm_pd(random_pd(5, 3, rank=3))


def test_logdet():
    c = random_pd(6, 4)
    assert logdet_pd(c) == pytest.approx(np.linalg.slogdet(c)[1], rel=1e-10)
    assert logdet_pd(np.zeros((0, 0))) == 0.0
    with pytest.raises(ValueError, match="Cov\\(X\\) is singular"):
        logdet_pd(random_pd(6, 4, rank=5), "Cov(X)")
    with pytest.raises(ValueError, match="square"):
        logdet_pd(np.ones((2, 3)))


def test_r2_from_cov_matches_direct_solve_and_ridge():
    full = random_pd(5, 5)  # 4 predictors and one target
    c_gg, c_gt, c_tt = full[:4, :4], full[:4, 4], full[4:, 4:]
    direct = c_gt @ np.linalg.solve(c_gg, c_gt) / c_tt[0, 0]
    assert float(r2_from_cov(c_gg, c_gt, c_tt)) == pytest.approx(direct, rel=1e-10)
    v = np.array([0.0, 0.5, 2.0])
    expected = [c_gt @ np.linalg.solve(c_gg + vi * np.eye(4), c_gt) / c_tt[0, 0] for vi in v]
    np.testing.assert_allclose(r2_from_cov(c_gg, c_gt, c_tt, v), expected, rtol=1e-10)
    with pytest.raises(ValueError, match="noise_var"):
        r2_from_cov(c_gg, c_gt, c_tt, -1.0)


def test_r2_from_cov_singular_predictors():
    # duplicating a predictor changes nothing; the pseudo-inverse handles the singular C_gg
    full = random_pd(4, 6)
    c_gg, c_gt, c_tt = full[:3, :3], full[:3, 3], full[3:, 3:]
    dup = np.array([0, 1, 2, 2])
    r_dup = r2_from_cov(c_gg[np.ix_(dup, dup)], c_gt[dup], c_tt)
    assert float(r_dup) == pytest.approx(float(r2_from_cov(c_gg, c_gt, c_tt)), rel=1e-8)


def test_cca_from_cov():
    full = random_pd(7, 7)
    c11, c12, c22 = full[:3, :3], full[:3, 3:], full[3:, 3:]
    rho, w1, w2 = cca_from_cov(c11, c12, c22)
    assert w1.shape == (3, 3) and w2.shape == (4, 4) and rho.shape == (3,)
    eig = np.linalg.eigvals(np.linalg.solve(c11, c12) @ np.linalg.solve(c22, c12.T))
    np.testing.assert_allclose(rho, np.sqrt(np.sort(eig.real)[::-1]), atol=1e-9)
    np.testing.assert_allclose(w1 @ c11 @ w1.T, np.eye(3), atol=1e-9)
    np.testing.assert_allclose(w2 @ c22 @ w2.T, np.eye(4), atol=1e-9)
    expected = np.hstack([np.diag(rho), np.zeros((3, 1))])
    np.testing.assert_allclose(w1 @ c12 @ w2.T, expected, atol=1e-9)


def test_top_eigenvectors():
    c = random_pd(5, 8)
    w = top_eigenvectors(c, 2)
    lam = np.sort(np.linalg.eigvalsh(c))[::-1]
    np.testing.assert_allclose(w @ w.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(w @ c @ w.T, np.diag(lam[:2]), atol=1e-9)
    with pytest.raises(ValueError, match="k must"):
        top_eigenvectors(c, 6)


def test_mean_variance_is_the_mean_of_the_diagonal() -> None:
    from aligninfo.linalg import mean_variance

    assert mean_variance(np.diag([1.0, 2.0, 6.0])) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="W X has zero variance"):
        mean_variance(np.zeros((2, 2)), "W X")
