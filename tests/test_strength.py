"""The optimal strength of the mixed objective: closed form, grid search and trained frames."""

import numpy as np
import pytest

from aligninfo.gaussian import GaussianModel
from aligninfo.strength import (
    best_direction,
    family_r2,
    lambda_min,
    optimal_strength,
    train_frame,
)


def plane_model(u, seed=0, noise=0.5):
    base = GaussianModel.random(d_shared=1, d_unique=(1, 1), dims=(4, 4), noise=noise, seed=seed)
    return base.with_unique_share((u, 0.5))


def grid(lam_min, n=400):
    return np.concatenate([np.linspace(lam_min, 0, n), np.logspace(-3, 6, n)])


@pytest.mark.parametrize("seed", [0, 3])  # models whose family turns towards U1's regression
@pytest.mark.parametrize("u", [0.15, 0.3, 0.45])
def test_closed_form_strength_reaches_the_best_feature_and_beats_the_grid(seed, u):
    m = plane_model(u, seed)
    opt = optimal_strength(m)
    assert opt.on_family and opt.residual < 1e-9
    assert family_r2(m, 1, [opt.strength])[0] == pytest.approx(m.r2("Y1", "X1"), abs=1e-9)
    r = family_r2(m, 1, grid(opt.lambda_min))
    assert r.max() <= opt.r2 + 1e-9
    lams = grid(opt.lambda_min)
    assert abs(np.log1p(lams[np.argmax(r)] - opt.lambda_min)
               - np.log1p(opt.strength - opt.lambda_min)) < 0.1  # fmt: skip


def test_without_a_unique_part_the_best_strength_is_pure_alignment():
    m = plane_model(0.0)
    opt = optimal_strength(m)
    assert opt.on_family and opt.strength == pytest.approx(lambda_min(m), abs=1e-6)
    w = best_direction(m)
    cca = m.cca_projection(1)
    assert abs(w @ cca.T / np.linalg.norm(cca)) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_the_strength_grows_with_the_unique_share_until_the_family_ends(seed):
    values = [optimal_strength(plane_model(u, seed)) for u in np.linspace(0, 1, 21)]
    lams = [v.strength for v in values]
    assert all(b >= a - 1e-9 for a, b in zip(lams, lams[1:], strict=False)), lams
    off = [v for v in values if not v.on_family]
    assert off, "a large unique share leaves the family"
    for v in off:  # the better end of the family: largest alignment, or the residual's PCA
        assert v.strength in (v.lambda_min, np.inf) and v.r2_family <= v.r2 + 1e-12
    assert values[-1].strength == np.inf  # a task carried by U1 alone: the residual end


def test_off_the_family_the_best_end_is_the_best_of_the_family():
    m = plane_model(0.9)
    opt = optimal_strength(m)
    assert not opt.on_family and opt.r2_family < opt.r2 - 1e-3
    assert family_r2(m, 1, grid(opt.lambda_min)).max() <= opt.r2_family + 1e-6


def test_trained_frames_land_on_the_family():
    m = plane_model(0.3)
    s = m.sample(3000, seed=1)
    for lam in (lambda_min(m) / 2, 3.0):
        w = train_frame(s["X1"], s["X2"], 1, lam, seed=0)
        assert np.allclose(w @ w.T, np.eye(1), atol=1e-5)
        assert m.r2_projection("Y1", w) == pytest.approx(family_r2(m, 1, [lam])[0], abs=0.03)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="k <="):
        train_frame(np.zeros((10, 3)), np.zeros((10, 2)), 4, 0.0)
    with pytest.raises(ValueError, match="one length"):
        train_frame(np.zeros((10, 3)), np.zeros((9, 2)), 1, 0.0)


@pytest.mark.parametrize("seed", range(3))
def test_beyond_the_plane_model_the_family_misses_the_best_feature(seed):
    """With two unique latents the closed form's condition fails and the family loses R²."""
    base = GaussianModel.random(d_shared=1, d_unique=(2, 1), dims=(5, 4), noise=0.5, seed=seed)
    m = base.with_unique_share((0.4, 0.5))
    opt = optimal_strength(m)
    assert not opt.on_family and opt.residual > 1e-3
    best_on_grid = family_r2(m, 1, grid(opt.lambda_min)).max()
    assert best_on_grid < opt.r2 - 1e-3
