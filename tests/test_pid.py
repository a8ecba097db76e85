"""Tests of the exact and estimated Gaussian PID (aligninfo.pid)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from aligninfo.gaussian import GaussianModel
from aligninfo.pid import (
    aligned_unique,
    broja_gaussian_numeric,
    gaussian_mi,
    gaussian_pid,
    logdet_bias,
    mmi_pid,
    model_pid,
    sample_pid,
)


def _model(seed: int, **kw: object) -> GaussianModel:
    args: dict[str, object] = {
        "d_shared": 2,
        "d_unique": (2, 1),
        "dims": (4, 3),
        "noise": (0.4, 0.6),
        "unique_share": (0.5, 0.3),
        "target_noise": (0.3, 0.3),
        "seed": seed,
    }
    args.update(kw)
    return GaussianModel.random(**args)  # type: ignore[arg-type]


def _blocks(m: GaussianModel) -> tuple[range, range, int]:
    p1, p2 = m.dims
    return range(p1), range(p1, p1 + p2), p1 + p2


@pytest.mark.parametrize("seed", range(4))
def test_closed_form_matches_numeric_broja(seed: int) -> None:
    """The MMI closed form equals BROJA's union information minimised numerically."""
    m = _model(seed, noise=(0.2 + 0.3 * seed, 0.5), unique_share=(0.2 * seed, 0.4))
    cov = m.covariance("X1", "X2", "Y1")
    exact = model_pid(m)
    numeric = broja_gaussian_numeric(cov, *_blocks(m), starts=3, seed=seed)
    for name, value in exact.as_dict().items():
        assert getattr(numeric, name) == pytest.approx(value, abs=1e-6), name


def test_atoms_sum_and_one_unique_is_zero() -> None:
    """The four atoms add up to I(X1, X2; Y) and min(unique1, unique2) = 0 (scalar target)."""
    for seed in range(5):
        pid = model_pid(_model(seed))
        atoms = pid.redundant + pid.unique1 + pid.unique2 + pid.synergy
        assert atoms == pytest.approx(pid.mi_joint, rel=1e-12)
        assert min(pid.unique1, pid.unique2) == 0.0
        assert pid.redundant + pid.unique1 == pytest.approx(pid.mi1)
        assert pid.synergy >= -1e-12


def test_mutual_informations_match_monte_carlo() -> None:
    """Each mutual information equals the mean log-density ratio over samples (scipy)."""
    m = _model(7)
    cov = m.covariance("X1", "X2", "Y1")
    x1, x2, y = _blocks(m)
    z = np.random.default_rng(0).multivariate_normal(np.zeros(len(cov)), cov, size=40_000)
    for a in (list(x1), list(x2), list(x1) + list(x2)):
        ab = a + [y]
        ratio = (
            multivariate_normal(cov=cov[np.ix_(ab, ab)]).logpdf(z[:, ab])
            - multivariate_normal(cov=cov[np.ix_(a, a)]).logpdf(z[:, a])
            - multivariate_normal(cov=cov[y, y]).logpdf(z[:, y])
        )
        se = ratio.std() / np.sqrt(len(ratio))
        assert abs(ratio.mean() - gaussian_mi(cov, a, [y])) < 4 * se


def test_pid_matches_model_mutual_information() -> None:
    """gaussian_pid's informations agree with GaussianModel.mutual_information."""
    m = _model(3)
    pid = model_pid(m, "Y2")
    assert pid.mi1 == pytest.approx(m.mutual_information("X1", "Y2"))
    assert pid.mi2 == pytest.approx(m.mutual_information("X2", "Y2"))
    assert pid.mi_joint == pytest.approx(m.mutual_information(("X1", "X2"), "Y2"))


def test_aligned_information_is_the_alignment_ceiling() -> None:
    """I(Z; Y1) of the aligned variates is -log(1 - ceiling) / 2, and kept is in [0, 1]."""
    for seed in range(4):
        m = _model(seed)
        out = aligned_unique(m)
        ceiling = m.alignment_ceiling("Y1", 1)
        assert out.aligned_pid.mi1 == pytest.approx(-0.5 * np.log1p(-ceiling), rel=1e-9)
        assert out.mi_lost >= -1e-12
        assert out.aligned_pid.unique1 <= out.pid.unique1 + 1e-12
        assert np.isnan(out.kept) or 0 <= out.kept <= 1


def test_redundant_target_keeps_all_unique_information() -> None:
    """Unique share 0 and a noisy X2: X1 has unique information and alignment keeps it all."""
    m = _model(1, noise=(0.1, 2.0), unique_share=(0.0, 0.3))
    out = aligned_unique(m)
    assert out.pid.unique1 > 0.1
    assert out.mi_lost == pytest.approx(0.0, abs=1e-9)
    assert out.kept == pytest.approx(1.0, abs=1e-9)


def test_specific_target_loses_information() -> None:
    """Unique share 1: alignment removes most of X1's information on Y1."""
    m = _model(2, noise=(0.1, 0.1), unique_share=(1.0, 0.3))
    out = aligned_unique(m)
    assert out.mi_lost > 0.5 * out.pid.mi1


def test_aligned_unique_for_modality_two() -> None:
    """Aligning X2 leaves X1's information untouched and caps X2's."""
    m = _model(4)
    out = aligned_unique(m, target="Y2", modality=2)
    assert out.aligned_pid.mi1 == pytest.approx(out.pid.mi1)
    assert out.aligned_pid.mi2 == pytest.approx(-0.5 * np.log1p(-m.alignment_ceiling("Y2", 2)))


def test_logdet_bias_matches_simulation() -> None:
    """The Wishart log-determinant bias equals the mean error of the plug-in log-det."""
    rng = np.random.default_rng(1)
    cov = np.array([[1.0, 0.5, 0.2], [0.5, 1.0, 0.3], [0.2, 0.3, 1.0]])
    n = 15
    draws = rng.multivariate_normal(np.zeros(3), cov, size=(4000, n))
    logdets = [np.linalg.slogdet(np.cov(d, rowvar=False))[1] for d in draws]
    err = np.array(logdets) - np.linalg.slogdet(cov)[1]
    assert abs(err.mean() - logdet_bias(3, n - 1)) < 4 * err.std() / np.sqrt(len(err))


def test_bias_correction_removes_mutual_information_bias() -> None:
    """On small samples the corrected I(X1, X2; Y) is unbiased, the plug-in one is not."""
    m = _model(5)
    truth = model_pid(m).mi_joint
    raw, fixed = [], []
    for seed in range(300):
        s = m.sample(30, seed)
        raw.append(sample_pid(s["X1"], s["X2"], s["Y1"], bias_correct=False).mi_joint)
        fixed.append(sample_pid(s["X1"], s["X2"], s["Y1"]).mi_joint)
    se = np.std(fixed) / np.sqrt(len(fixed))
    assert abs(np.mean(fixed) - truth) < 4 * se
    assert np.mean(raw) - truth > 6 * se


def test_sample_pid_converges() -> None:
    """With many samples the estimate approaches the exact PID."""
    m = _model(6)
    s = m.sample(200_000, 0)
    est, exact = sample_pid(s["X1"], s["X2"], s["Y1"]), model_pid(m)
    for name, value in exact.as_dict().items():
        assert getattr(est, name) == pytest.approx(value, abs=0.01), name


def test_mmi_pid_from_informations() -> None:
    """The MMI split of three given informations."""
    pid = mmi_pid(0.3, 0.5, 0.9)
    assert (pid.redundant, pid.unique1, pid.unique2) == (0.3, 0.0, pytest.approx(0.2))
    assert pid.synergy == pytest.approx(0.4)
    assert sum(pid.shares().values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("x1", "x2", "y", "match"),
    [
        ([0, 1], [1, 2], 3, "overlap"),
        ([0], [1], [2, 3], "scalar target"),
        ([0], [], 3, "distinct indices"),
        ([0], [9], 3, "distinct indices"),
    ],
)
def test_bad_indices_refused(x1: list[int], x2: list[int], y: object, match: str) -> None:
    """Overlapping, empty or out-of-range indices and a vector target are refused."""
    cov = np.eye(4) + 0.1
    with pytest.raises(ValueError, match=match):
        gaussian_pid(cov, x1, x2, y)  # type: ignore[arg-type]


def test_singular_and_asymmetric_refused() -> None:
    """A target that is a function of the sources, or a non-symmetric matrix, is refused."""
    m = _model(0, noise=(0.0, 0.0), target_noise=(0.0, 0.0))
    with pytest.raises(ValueError, match="singular"):
        model_pid(m)
    with pytest.raises(ValueError, match="symmetric"):
        gaussian_pid(np.triu(np.ones((3, 3))) + np.eye(3), [0], [1], 2)
    with pytest.raises(ValueError, match="more than"):
        sample_pid(np.ones((4, 3)), np.ones((4, 2)), np.ones(4))


def test_degraded_coupling_reaches_the_union_bound() -> None:
    """The module doc's argument, built: re-couple the weaker source as a degraded copy of the
    stronger (through the scalar statistics b_i·X_i = E[Y | X_i]); the pairs (X_i, Y) are kept
    and I_q(Y; X1, X2) = max_i I(X_i; Y), so BROJA's union information is the MMI one."""
    rng = np.random.default_rng(5)
    for _ in range(20):
        p1, p2 = (int(v) for v in rng.integers(1, 5, 2))
        loading = rng.standard_normal((p1 + p2 + 1, p1 + p2 + 3))
        cov = loading @ loading.T
        blocks, iy = [list(range(p1)), list(range(p1, p1 + p2))], p1 + p2
        pid = gaussian_pid(cov, blocks[0], blocks[1], iy)
        var_y = cov[iy, iy]
        stats = []
        for idx in blocks:
            c_xy = cov[idx, iy]
            b = np.linalg.solve(cov[np.ix_(idx, idx)], c_xy)
            stats.append((idx, c_xy, b @ c_xy / var_y))  # r_i = R²(Y | X_i)
        strong, weak = sorted(stats, key=lambda s: -s[2])
        (i_s, c_s, r_s), (i_w, c_w, r_w) = strong, weak
        # Cov_q(X_w, X_s) = Cov(X_w, T_w) Cov(T_w, X_s) / Var(T_w), T_w = (r_w / r_s) T_s + noise
        cross = np.outer(c_w, (r_w / r_s) * c_s) / (r_w * var_y)
        q = cov.copy()
        q[np.ix_(i_w, i_s)], q[np.ix_(i_s, i_w)] = cross, cross.T
        assert np.linalg.eigvalsh(q).min() > -1e-9
        union = gaussian_mi(q, blocks[0] + blocks[1], [iy])
        assert union == pytest.approx(max(pid.mi1, pid.mi2), abs=1e-9)
        assert gaussian_mi(q, i_w, [iy]) == pytest.approx(gaussian_mi(cov, i_w, [iy]))
