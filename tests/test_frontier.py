import numpy as np
import pytest

from aligninfo.frontier import (
    kept,
    max_alignment_frame,
    orthonormal_rows,
    random_frames,
    support,
    tradeoff_frontier,
)
from aligninfo.gaussian import GaussianModel
from aligninfo.linalg import principal_angles


@pytest.fixture(scope="module")
def split():
    return GaussianModel.random(d_shared=3, d_unique=(3, 3), dims=(8, 8), seed=0).split_covariance()


def test_family_matches_the_model_and_its_endpoints(split):
    sh, res = split
    m = GaussianModel.random(d_shared=3, d_unique=(3, 3), dims=(8, 8), seed=0)
    fr = tradeoff_frontier(sh, res, 3, [0.0, 0.5, 1.0])
    assert fr.frames.shape == (3, 3, 8)
    for w, g in zip(fr.frames, fr.gammas, strict=True):
        np.testing.assert_allclose(principal_angles(w, m.tradeoff_projection(3, g)), 0, atol=1e-6)
    np.testing.assert_allclose(principal_angles(fr.frames[2], m.pca_projection(3)), 0, atol=1e-6)
    np.testing.assert_allclose(fr.shared[0], np.sort(np.linalg.eigvalsh(sh))[-3:].sum())
    np.testing.assert_allclose(fr.alignment[1], m.alignment_kept(fr.frames[1]))


def test_no_frame_beats_the_support_and_monotonicity(split):
    sh, res = split
    gammas = np.concatenate([np.linspace(-2, 0, 21), np.logspace(-3, 3, 40)])
    fr = tradeoff_frontier(sh, res, 3, gammas)
    frames = random_frames(8, 3, 500, seed=1)
    ab = np.array([kept(w, sh, res) for w in frames])
    for g, a, b in zip(gammas, fr.shared, fr.residual, strict=True):
        phi = support(sh, res, 3, g)
        np.testing.assert_allclose(a + g * b, phi, rtol=1e-10, atol=1e-12)
        assert np.all(ab[:, 0] + g * ab[:, 1] <= phi + 1e-10)
    assert np.all(np.diff(fr.residual) >= -1e-10)
    pos = gammas >= 0
    assert np.all(np.diff(fr.shared[pos]) <= 1e-10)
    assert np.all(np.diff(fr.alignment[pos]) <= 1e-10)


def test_max_alignment_frame(split):
    sh, res = split
    w, alpha = max_alignment_frame(sh, res, 3)
    np.testing.assert_allclose(w @ w.T, np.eye(3), atol=1e-10)
    a, b = kept(w, sh, res)
    np.testing.assert_allclose(alpha, a / (a + b))
    others = [kept(f, sh, res) for f in random_frames(8, 3, 500, seed=2)]
    assert all(x / (x + y) <= alpha + 1e-12 for x, y in others)
    gamma = -alpha / (1 - alpha)
    fam = tradeoff_frontier(sh, res, 3, [gamma]).frames[0]
    np.testing.assert_allclose(principal_angles(w, fam), 0, atol=1e-5)
    # For k = 1 the largest alignment kept is the top squared canonical correlation.
    m = GaussianModel.random(d_shared=3, d_unique=(3, 3), dims=(8, 8), seed=0)
    np.testing.assert_allclose(
        max_alignment_frame(sh, res, 1)[1], m.canonical_correlations()[0] ** 2, rtol=1e-8
    )


def test_orthonormal_rows_and_random_frames():
    w = np.random.default_rng(0).standard_normal((3, 6))
    q = orthonormal_rows(w)
    np.testing.assert_allclose(q @ q.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(principal_angles(q, w), 0, atol=1e-7)
    with pytest.raises(ValueError, match="full row rank"):
        orthonormal_rows(np.ones((2, 4)))
    f = random_frames(5, 2, 4, seed=0)
    gram = f @ np.transpose(f, (0, 2, 1))
    np.testing.assert_allclose(gram, np.broadcast_to(np.eye(2), (4, 2, 2)), atol=1e-12)


def test_bad_inputs(split):
    sh, res = split
    with pytest.raises(ValueError, match="one shape"):
        kept(np.eye(3), sh, res[:4, :4])
    with pytest.raises(ValueError, match="k must be"):
        support(sh, res, 9, 0.0)
    with pytest.raises(ValueError, match="gammas"):
        tradeoff_frontier(sh, res, 2, [np.nan])
    with pytest.raises(ValueError, match="positive definite"):
        max_alignment_frame(sh, -sh, 2)


def test_ascent_reaches_ky_fan_without_eigenvectors(split):
    from aligninfo.frontier import ascend_frame

    sh, res = split
    for gamma in (-0.7, 0.0, 0.4, 3.0):
        w, value = ascend_frame(sh + gamma * res, 3, starts=4, seed=1)
        np.testing.assert_allclose(w @ w.T, np.eye(3), atol=1e-10)
        a, b = kept(w, sh, res)
        np.testing.assert_allclose(value, a + gamma * b, rtol=1e-12)
        phi = support(sh, res, 3, gamma)
        assert value <= phi + 1e-10
        np.testing.assert_allclose(value, phi, rtol=1e-6)


def test_change_of_coordinates_moves_the_frontier(split):
    from aligninfo.frontier import change_coordinates

    sh, res = split
    t = np.eye(8)
    t[0, 0] = 10.0
    sh_t, res_t = change_coordinates(sh, res, t)
    np.testing.assert_allclose(sh_t[0, 0], 100 * sh[0, 0])
    before = tradeoff_frontier(sh, res, 3, [0.0, 1.0]).alignment
    after = tradeoff_frontier(sh_t, res_t, 3, [0.0, 1.0]).alignment
    assert np.all(np.abs(after - before) > 1e-3)
    # Whitened budget: every frame keeps the same total variance a + b = k.
    lam, vec = np.linalg.eigh(sh + res)
    sh_w, res_w = change_coordinates(sh, res, vec @ np.diag(lam**-0.5) @ vec.T)
    totals = [sum(kept(w, sh_w, res_w)) for w in random_frames(8, 3, 50, seed=3)]
    np.testing.assert_allclose(totals, 3.0, rtol=1e-10)
    with pytest.raises(ValueError, match="invertible"):
        change_coordinates(sh, res, np.zeros((8, 8)))
