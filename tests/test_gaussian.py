import dataclasses

import numpy as np
import pytest
from fixtures import UNEVEN

from aligninfo.gaussian import NAMES, GaussianModel
from aligninfo.linalg import principal_angles

N = 200_000
SE = 1 / np.sqrt(N)  # scale of Monte Carlo errors

MODELS = {
    "default": dict(seed=0),
    "uneven": UNEVEN,
    "noisy": dict(
        d_shared=1,
        d_unique=(2, 3),
        dims=(5, 6),
        noise=1.0,
        unique_share=0.5,
        target_noise=0.5,
        seed=2,
    ),
}
_SAMPLES: dict[str, tuple[GaussianModel, dict]] = {}


@pytest.fixture(params=list(MODELS))
def model_and_data(request):
    if request.param not in _SAMPLES:
        m = GaussianModel.random(**MODELS[request.param])
        _SAMPLES[request.param] = m, m.sample(N, seed=123)
    return _SAMPLES[request.param]


def ols_r2(y, x):
    """In-sample R² of least squares (data are zero-mean by construction)."""
    if x.shape[1] == 0:
        return 0.0
    coef = np.linalg.lstsq(x, y, rcond=None)[0]
    return 1 - np.sum((y - x @ coef) ** 2) / np.sum(y**2)


def stack(data, *names):
    return np.hstack([data[n] for n in names])


# ------------------------------------------------------------------------- model & samples
def test_samples_follow_the_model_equations(model_and_data):
    m, d = model_and_data
    assert set(d) == set(NAMES) and all(v.shape[0] == N for v in d.values())
    assert d["Y1"].shape == (N, 1) and d["X1"].shape == (N, m.dims[0])
    for i, k in enumerate("12"):
        latent = np.hstack([d["S"], d["U" + k]])
        eps = d["X" + k] - latent @ m.mixing[i].T
        np.testing.assert_allclose(
            eps.var(0), m.noise[i] ** 2, rtol=6 * SE * np.sqrt(2), atol=1e-12
        )
        assert np.abs(eps.T @ latent / N).max() <= 6 * SE * max(m.noise[i], 1e-12)
        y = d["S"] @ m.target_shared[i] + d["U" + k] @ m.target_unique[i]
        eta = d["Y" + k][:, 0] - y
        assert eta.var() == pytest.approx(m.target_noise[i] ** 2, rel=6 * SE * 2, abs=1e-12)


def test_covariance_matches_samples(model_and_data):
    m, d = model_and_data
    c = m.covariance(*NAMES)
    emp = np.cov(stack(d, *NAMES), rowvar=False)
    sd = np.sqrt((np.outer(np.diag(c), np.diag(c)) + c**2) / N)
    assert np.all(np.abs(emp - c) <= 6 * sd + 1e-12)
    p = m.dims[0] + 1
    joint = m.covariance("X1", "Y1", "S")
    np.testing.assert_array_equal(m.cross_covariance(("X1", "Y1"), "S"), joint[:p, p:])


def test_random_model_targets(model_and_data):
    m, _ = model_and_data
    kw = next(MODELS[key] for key, (model, _) in _SAMPLES.items() if model is m)
    share = np.broadcast_to(kw.get("unique_share", (0.7, 0.5)), 2)
    tn = np.broadcast_to(kw.get("target_noise", 0.0), 2)
    for i, k in enumerate("12"):
        assert m.covariance("Y" + k)[0, 0] == pytest.approx(1.0)
        assert m.unique_share[i] == pytest.approx(share[i])
        assert m.r2("Y" + k, "U" + k) == pytest.approx(share[i] * (1 - tn[i] ** 2))
        assert m.r2("Y" + k, "S") == pytest.approx((1 - share[i]) * (1 - tn[i] ** 2))
        assert m.r2("Y" + k, ("S", "U" + k)) == pytest.approx(1 - tn[i] ** 2)
        assert np.linalg.matrix_rank(m.mixing[i]) == m.mixing[i].shape[1]


def test_determinism():
    a, b = GaussianModel.random(seed=5), GaussianModel.random(seed=5)
    np.testing.assert_array_equal(a.mixing[0], b.mixing[0])
    np.testing.assert_array_equal(a.sample(10, seed=1)["X2"], b.sample(10, seed=1)["X2"])
    assert not np.array_equal(a.sample(10, seed=1)["X2"], a.sample(10, seed=2)["X2"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.noise = (0.0, 0.0)  # type: ignore[misc]
    with pytest.raises(ValueError):
        a.mixing[0][0, 0] = 1.0


# ----------------------------------------------------------------------------- R² and MI
@pytest.mark.parametrize("given", ["X1", "X2", "S", ("X1", "X2"), ("S", "U2")])
@pytest.mark.parametrize("target", ["Y1", "Y2"])
def test_r2_matches_least_squares(model_and_data, target, given):
    m, d = model_and_data
    x = stack(d, *((given,) if isinstance(given, str) else given))
    expected = ols_r2(d[target], x)
    assert m.r2(target, given) == pytest.approx(expected, abs=6 * SE + x.shape[1] / N)


def test_canonical_correlations(model_and_data):
    m, d = model_and_data
    rho = m.canonical_correlations()
    assert rho.shape == (min(m.dims),) and np.all(np.diff(rho) <= 1e-12)
    assert np.sum(rho > 1e-6) == m.d_shared and np.all(rho[m.d_shared :] < 1e-7)
    emp = np.cov(stack(d, "X1", "X2"), rowvar=False)
    p = m.dims[0]
    c11, c12, c22 = emp[:p, :p], emp[:p, p:], emp[p:, p:]
    eig = np.linalg.eigvals(np.linalg.solve(c11, c12) @ np.linalg.solve(c22, c12.T))
    emp_rho = np.sqrt(np.clip(np.sort(eig.real)[::-1], 0, None))[: rho.size]
    np.testing.assert_allclose(emp_rho[: m.d_shared], rho[: m.d_shared], atol=6 * SE)
    assert np.all(emp_rho[m.d_shared :] < 6 * np.sqrt(sum(m.dims) / N))


def test_mutual_information_formulas(model_and_data):
    m, d = model_and_data
    rho = m.canonical_correlations()
    mi = m.mutual_information("X1", "X2")
    assert mi == pytest.approx(-0.5 * np.sum(np.log1p(-(rho**2))), rel=1e-9)
    assert m.mutual_information("X2", "X1") == pytest.approx(mi, rel=1e-9)
    # scalar target: I(X; Y) = -1/2 log(1 - R²(Y | X))
    for given in ["X1", ("X1", "X2"), "S"]:
        r2 = m.r2("Y1", given)
        assert m.mutual_information(given, "Y1") == pytest.approx(-0.5 * np.log1p(-r2), rel=1e-8)
    # Monte Carlo: Gaussian plug-in from the sample covariance
    emp = np.cov(stack(d, "X1", "X2"), rowvar=False)
    p = m.dims[0]
    ld = [np.linalg.slogdet(c)[1] for c in (emp[:p, :p], emp[p:, p:], emp)]
    assert 0.5 * (ld[0] + ld[1] - ld[2]) == pytest.approx(mi, abs=10 * SE + p * p / N)


def test_conditional_mutual_information():
    m = GaussianModel.random(seed=3, target_noise=(0.4, 0.2))
    # partial R² of Y1 on U1 given S, through the independent R² code path
    r_s, r_su = m.r2("Y1", "S"), m.r2("Y1", ("S", "U1"))
    partial = (r_su - r_s) / (1 - r_s)
    cmi = m.conditional_mutual_information("U1", "Y1", "S")
    assert cmi == pytest.approx(-0.5 * np.log1p(-partial), rel=1e-8)
    assert m.conditional_mutual_information(("U1",), ("Y1",), ("S", "U2")) == pytest.approx(cmi)
    # Monte Carlo: residualise on S, then Gaussian plug-in MI of the residuals
    d = m.sample(N, seed=4)
    s = d["S"]
    res = [v - s @ np.linalg.lstsq(s, v, rcond=None)[0] for v in (d["U1"], d["Y1"])]
    c = np.cov(np.hstack(res), rowvar=False)
    ld = [np.linalg.slogdet(x)[1] for x in (c[:3, :3], c[3:, 3:], c)]
    assert 0.5 * (ld[0] + ld[1] - ld[2]) == pytest.approx(cmi, abs=10 * SE)


def test_noiseless_chain_rule_of_exact_alignment():
    # with invertible noiseless mixing, I(X1; Y1) = I(S; Y1) + I(U1; Y1 | S)
    m = GaussianModel.random(dims=(6, 6), noise=0.0, target_noise=0.3, seed=7)
    lhs = m.mutual_information("X1", "Y1")
    rhs = m.mutual_information("S", "Y1") + m.conditional_mutual_information("U1", "Y1", "S")
    assert lhs == pytest.approx(rhs, rel=1e-7)
    assert m.mutual_information("S", "Y1") < lhs


def test_singular_covariances_raise():
    m = GaussianModel.random(noise=0.0, seed=0)  # 8 dims, 6 sources: X has no density
    with pytest.raises(ValueError, match="singular"):
        m.mutual_information("X1", "X2")
    m = GaussianModel.random(seed=0)  # target_noise = 0: Y1 is a function of (S, U1)
    with pytest.raises(ValueError, match="infinite"):
        m.conditional_mutual_information("U1", "Y1", "S")
    # R² does not need a density
    assert GaussianModel.random(noise=0.0, unique_share=0.0).r2("Y1", "X1") == pytest.approx(1)


# ---------------------------------------------------------------------------- hand model
def hand_model(sigma):
    """X_m = [S; U_m] + sigma eps_m, Y_m = S: everything is known by hand."""
    eye = np.eye(2)
    return GaussianModel(
        (eye, eye), (sigma, sigma), (np.ones(1), np.ones(1)), (np.zeros(1), np.zeros(1))
    )


@pytest.mark.parametrize("sigma", [0.0, 0.5, 2.0])
def test_hand_model_known_values(sigma):
    m = hand_model(sigma)
    rho = 1 / (1 + sigma**2)  # corr(S + sigma e1, S + sigma e2)
    np.testing.assert_allclose(m.canonical_correlations(), [rho, 0.0], atol=1e-12)
    assert m.r2("Y1", "X1") == pytest.approx(rho)
    assert m.r2("Y1", "X2") == pytest.approx(rho)
    assert m.unique_share == (0.0, 0.0)
    if sigma > 0:
        assert m.mutual_information("X1", "X2") == pytest.approx(-0.5 * np.log(1 - rho**2))


# ----------------------------------------------------------------------- alignment ceiling
def test_alignment_ceiling_known_values():
    m = GaussianModel.random(unique_share=0.0, noise=0.0, seed=11)
    assert m.alignment_ceiling() == pytest.approx(1.0, abs=1e-9)
    assert m.alignment_ceiling() == pytest.approx(m.r2("Y1", "X1"), abs=1e-9)
    m = GaussianModel.random(unique_share=0.0, noise=1e-3, seed=11)
    assert m.alignment_ceiling() == pytest.approx(m.r2("Y1", "X1"), abs=1e-4)
    # noiseless: E[X2 | X1] recovers S exactly, so the ceiling is R²(Y1 | S) = 1 - unique share
    m = GaussianModel.random(unique_share=(0.6, 0.2), noise=0.0, seed=12)
    assert m.alignment_ceiling("Y1", 1) == pytest.approx(0.4, abs=1e-9)
    assert m.alignment_ceiling("Y2", 2) == pytest.approx(0.8, abs=1e-9)
    assert m.r2("Y1", "X1") == pytest.approx(1.0, abs=1e-9)


def test_alignment_ceiling_equivalent_forms(model_and_data):
    m, _ = model_and_data
    ceiling = m.alignment_ceiling("Y1", 1)
    assert ceiling < m.r2("Y1", "X1") - 1e-3  # unique_share > 0 in every model here
    # the canonical variates with rho > 0 span E[X2 | X1] ...
    cca = m.cca_projection(m.d_shared, 1)
    assert m.r2_projection("Y1", cca, 1) == pytest.approx(ceiling, rel=1e-8)
    # ... and so does E[S | X1]
    e_s = m.cross_covariance("S", "X1") @ np.linalg.inv(m.covariance("X1"))
    assert m.r2_projection("Y1", e_s, 1) == pytest.approx(ceiling, rel=1e-8)
    assert principal_angles(cca, e_s).max() < 1e-6


def test_alignment_ceiling_monte_carlo(model_and_data):
    m, d = model_and_data
    half = N // 2
    x1, x2, y = d["X1"], d["X2"], d["Y1"]
    b = np.linalg.lstsq(x1[:half], x2[:half], rcond=None)[0]  # E[X2 | X1] fitted on one half
    # the population map has rank d_shared; estimation noise fills the other directions, which
    # least squares would rescale, so keep the rank-d_shared part (reduced-rank regression)
    u, _, _ = np.linalg.svd(x1[:half] @ b, full_matrices=False)
    proj = np.linalg.lstsq(x1[:half], u[:, : m.d_shared], rcond=None)[0]
    emp = ols_r2(y[half:], x1[half:] @ proj)
    assert emp == pytest.approx(m.alignment_ceiling("Y1", 1), abs=6 * np.sqrt(2) * SE + 0.002)


# ----------------------------------------------------------------------------- projections
def test_r2_projection(model_and_data):
    m, d = model_and_data
    w = np.random.default_rng(0).standard_normal((2, m.dims[0]))
    r = m.r2_projection("Y1", w, 1)
    assert r == pytest.approx(ols_r2(d["Y1"], d["X1"] @ w.T), abs=6 * SE)
    mix = np.array([[2.0, 1.0], [0.5, -3.0]])
    assert m.r2_projection("Y1", mix @ w, 1) == pytest.approx(r, rel=1e-9)
    assert m.r2_projection("Y1", np.eye(m.dims[0]), 1) == pytest.approx(m.r2("Y1", "X1"))
    w2 = np.random.default_rng(1).standard_normal((3, m.dims[1]))
    assert m.r2_projection("Y1", w2, 2) == pytest.approx(
        ols_r2(d["Y1"], d["X2"] @ w2.T), abs=6 * SE
    )


def test_split_covariance(model_and_data):
    m, d = model_and_data
    for mod, (x, other) in {1: ("X1", "X2"), 2: ("X2", "X1")}.items():
        sh, res = m.split_covariance(mod)
        fitted = d[other] @ np.linalg.lstsq(d[other], d[x], rcond=None)[0]
        np.testing.assert_allclose(fitted.T @ fitted / N, sh, atol=10 * SE)
        assert np.linalg.matrix_rank(sh, tol=1e-8) == m.d_shared
        assert np.linalg.eigvalsh(res).min() > 0
        np.testing.assert_allclose(sh + res, m.covariance(x), atol=1e-12)


def test_cca_projection(model_and_data):
    m, d = model_and_data
    rho = m.canonical_correlations()
    k = min(m.dims)
    w1, w2 = m.cca_projection(k, 1), m.cca_projection(k, 2)
    z1, z2 = d["X1"] @ w1.T, d["X2"] @ w2.T
    np.testing.assert_allclose(np.cov(z1, rowvar=False), np.eye(k), atol=10 * SE)
    np.testing.assert_allclose(z1.T @ z2 / N, np.diag(rho), atol=10 * SE)
    # a canonical variate keeps exactly rho² of alignment
    for i in range(m.d_shared):
        assert m.alignment_kept(w1[i : i + 1], 1) == pytest.approx(rho[i] ** 2, rel=1e-8)
    assert m.cca_projection(max(m.dims[0], 1), 1).shape == (m.dims[0], m.dims[0])


def test_pca_projection(model_and_data):
    m, _ = model_and_data
    w = m.pca_projection(3, 2)
    lam = np.sort(np.linalg.eigvalsh(m.covariance("X2")))[::-1]
    np.testing.assert_allclose(w @ w.T, np.eye(3), atol=1e-10)
    np.testing.assert_allclose(w @ m.covariance("X2") @ w.T, np.diag(lam[:3]), atol=1e-10)


def test_tradeoff_projection(model_and_data):
    m, _ = model_and_data
    k = m.d_shared + 1
    pca = m.pca_projection(k, 1)
    assert principal_angles(m.tradeoff_projection(k, 1.0, 1), pca).max() < 1e-6
    # gamma = 0 with k = d_shared spans the range of C12 (variance predictable from X2)
    w0 = m.tradeoff_projection(m.d_shared, 0.0, 1)
    c12 = m.cross_covariance("X1", "X2")
    assert principal_angles(w0, c12.T).max() < 1e-6
    assert m.alignment_kept(w0, 1) > m.alignment_kept(pca[: m.d_shared], 1)
    # along the frontier: alignment kept falls and residual variance rises with gamma
    sh, res = m.split_covariance(1)
    kept, resid = [], []
    for gamma in np.linspace(0, 2, 9):
        w = m.tradeoff_projection(k, gamma, 1)
        kept.append(m.alignment_kept(w, 1))
        resid.append(np.trace(w @ res @ w.T))
    assert np.all(np.diff(kept) <= 1e-10) and kept[0] > kept[-1]
    assert np.all(np.diff(resid) >= -1e-10)


def test_alignment_kept_monte_carlo(model_and_data):
    m, d = model_and_data
    w = np.random.default_rng(2).standard_normal((2, m.dims[0]))
    z = d["X1"] @ w.T
    fitted = d["X2"] @ np.linalg.lstsq(d["X2"], z, rcond=None)[0]
    emp = np.sum(fitted**2) / np.sum(z**2)
    assert m.alignment_kept(w, 1) == pytest.approx(emp, abs=10 * SE)


# ----------------------------------------------------------------------- σ-informativeness
def test_sigma_informativeness_basic(model_and_data):
    m, _ = model_and_data
    rng = np.random.default_rng(3)
    p = m.dims[0]
    for w in [
        m.pca_projection(3, 1),
        m.cca_projection(2, 1),
        rng.standard_normal((4, p)),
        np.vstack([np.eye(p)[:2]] * 2),
    ]:  # the last one has rank 2 < k = 4
        assert m.sigma_informativeness(w, "Y1", 1, 0.0) == pytest.approx(
            m.r2_projection("Y1", w, 1), rel=1e-8
        )
        sigmas = np.array([0.0, 0.05, 0.2, 0.5, 1.0, 3.0])
        curve = m.sigma_informativeness(w, "Y1", 1, sigmas)
        assert curve.shape == sigmas.shape and np.all(np.diff(curve) < 0)
        assert curve[2] == pytest.approx(m.sigma_informativeness(w, "Y1", 1, 0.2))
        assert m.sigma_informativeness(7.0 * w, "Y1", 1, sigmas) == pytest.approx(curve)
        assert m.sigma_informativeness(w, "Y1", 1, 1e4) < 1e-6


def test_sigma_informativeness_one_dimension():
    # k = 1: Z' has unit variance, so R²_σ = R²_0 / (1 + σ²)
    m = GaussianModel.random(seed=9)
    w = np.random.default_rng(0).standard_normal((1, m.dims[0]))
    r0 = m.r2_projection("Y1", w, 1)
    for sigma in [0.1, 0.7, 2.0]:
        assert m.sigma_informativeness(w, "Y1", 1, sigma) == pytest.approx(r0 / (1 + sigma**2))


@pytest.mark.parametrize("sigma", [0.3, 1.0])
def test_sigma_informativeness_monte_carlo(model_and_data, sigma):
    m, d = model_and_data
    w = np.random.default_rng(4).standard_normal((3, m.dims[0]))
    z = d["X1"] @ w.T
    z = z / np.sqrt(np.mean(z.var(0)))  # unit mean variance per dimension
    z = z + sigma * np.random.default_rng(5).standard_normal(z.shape)  # explicit noise draws
    assert ols_r2(d["Y1"], z) == pytest.approx(
        m.sigma_informativeness(w, "Y1", 1, sigma), abs=6 * SE + 3 / N
    )


# ------------------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(unique_share=1.5), "unique_share"),
        (dict(unique_share=(0.5, -0.1)), "unique_share"),
        (dict(d_shared=0, unique_share=0.5), "unique_share"),
        (dict(noise=-0.1), "noise"),
        (dict(noise=(0.1, 0.2, 0.3)), "noise"),
        (dict(dims=(4, 8)), "dims"),
        (dict(target_noise=1.0), "target_noise"),
        (dict(d_shared=-1), "d_shared"),
        (dict(d_unique=(2, -1)), "d_unique"),
    ],
)
def test_random_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        GaussianModel.random(**kwargs)


def test_constructor_rejects_bad_arguments():
    a, b2, b1 = np.ones((4, 3)), np.ones(2), np.ones(1)
    ok = dict(mixing=(a, a), noise=(0.1, 0.1), target_shared=(b2, b2), target_unique=(b1, b1))
    GaussianModel(**ok)
    for key, value, name in [
        ("target_shared", (b2, np.ones(3)), "target_shared"),
        ("target_unique", (b1, b2), "mixing\\[1\\]"),
        ("mixing", (a, np.ones(4)), "mixing\\[1\\]"),
        ("mixing", (a, np.full((4, 3), np.nan)), "mixing\\[1\\]"),
        ("noise", (0.1, -1.0), "noise"),
        ("target_noise", (np.inf, 0.0), "target_noise"),
    ]:
        with pytest.raises(ValueError, match=name):
            GaussianModel(**{**ok, key: value})


def test_methods_reject_bad_arguments():
    m = GaussianModel.random(seed=0)
    w = m.pca_projection(2, 1)
    for call, name in [
        (lambda: m.r2("Y1", "X3"), "X3"),
        (lambda: m.covariance("S", "Z"), "Z"),
        (lambda: m.r2_projection("Y1", np.ones((2, 5)), 1), "W"),
        (lambda: m.r2_projection("Y1", w, 3), "modality"),
        (lambda: m.sigma_informativeness(w, sigma=-1.0), "sigma"),
        (lambda: m.sigma_informativeness(np.zeros((2, 8))), "W"),
        (lambda: m.cca_projection(0), "k"),
        (lambda: m.pca_projection(9), "k"),
        (lambda: m.tradeoff_projection(2, -1.0), "gamma"),
        (lambda: m.alignment_kept(w[:, :3]), "W"),
    ]:
        with pytest.raises(ValueError, match=name):
            call()


def test_with_unique_share_moves_weight_between_latents() -> None:
    m = GaussianModel.random(seed=3, unique_share=(0.4, 0.5), target_noise=(0.2, 0.0))
    for share in (0.0, 0.3, 1.0):
        moved = m.with_unique_share((share, 0.5))
        assert moved.unique_share[0] == pytest.approx(share)
        assert moved.covariance("Y1")[0, 0] == pytest.approx(m.covariance("Y1")[0, 0])
        # Without sensor noise on the latents, R²(Y1 | U1) is the share of Var(Y1) that U1 holds.
        assert moved.r2("Y1", "U1") == pytest.approx(share * (1 - 0.2**2))
        np.testing.assert_array_equal(moved.mixing[0], m.mixing[0])
    with pytest.raises(ValueError, match="unique_share"):
        m.with_unique_share((1.5, 0.5))
    with pytest.raises(ValueError, match="unique_share"):
        GaussianModel.random(unique_share=(0.0, 0.5)).with_unique_share((0.5, 0.5))


def test_with_noise_changes_only_the_sensor_noise() -> None:
    m = GaussianModel.random(seed=4, noise=(0.3, 0.3))
    louder = m.with_noise((0.6, 0.1))
    assert louder.noise == (0.6, 0.1)
    d1 = m.dims[0]
    expected = m.covariance("X1") + (0.6**2 - 0.3**2) * np.eye(d1)
    np.testing.assert_allclose(louder.covariance("X1"), expected, atol=1e-12)
    np.testing.assert_allclose(
        louder.cross_covariance("X1", "X2"), m.cross_covariance("X1", "X2"), atol=1e-12
    )
