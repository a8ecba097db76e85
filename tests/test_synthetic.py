import numpy as np
import pytest
from fixtures import UNEVEN
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from aligninfo.data.synthetic import SyntheticModel, g
from aligninfo.gaussian import NAMES, GaussianModel

KEYS = (*NAMES, "Y12", "C1", "C2", "C12")


def ols_r2(y, x):
    """In-sample R² of least squares with an intercept, per column of y."""
    x = np.column_stack([x, np.ones(len(x))])
    resid = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    return 1 - resid.var(axis=0) / y.var(axis=0)


@pytest.mark.parametrize("kwargs", [dict(seed=0), UNEVEN])
def test_linear_option_reproduces_gaussian_model(kwargs):
    gauss = GaussianModel.random(**kwargs)
    synth = SyntheticModel.random(**kwargs, mixing="linear", target="linear")
    ref, data = gauss.sample(500, seed=7), synth.sample(500, seed=7)
    for name in NAMES:
        assert np.array_equal(data[name], ref[name]), name


def test_mlp_and_nonlinear_options_share_the_gaussian_draws():
    gauss = GaussianModel.random(**UNEVEN)
    ref = gauss.sample(300, seed=3)
    data = SyntheticModel.random(**UNEVEN, mixing="mlp").sample(300, seed=3)
    for name in ("S", "U1", "U2", "Y1", "Y2"):
        assert np.array_equal(data[name], ref[name]), name
    assert not np.allclose(data["X1"], ref["X1"])
    m = SyntheticModel.random(**UNEVEN, mixing="mlp", target="nonlinear")
    data = m.sample(300, seed=3)
    for i in (0, 1):
        latent = np.hstack([ref["S"], ref[f"U{i + 1}"]])
        sensor_noise = ref[f"X{i + 1}"] - latent @ gauss.mixing[i].T
        np.testing.assert_allclose(
            data[f"X{i + 1}"] - m.mixers[i](latent), sensor_noise, atol=1e-12
        )
        b_s, b_u = gauss.target_shared[i], gauss.target_unique[i]
        target_noise = ref[f"Y{i + 1}"][:, 0] - ref["S"] @ b_s - ref[f"U{i + 1}"] @ b_u
        noise_free = np.linalg.norm(b_s) * g(ref["S"] @ b_s / np.linalg.norm(b_s)) + np.linalg.norm(
            b_u
        ) * g(ref[f"U{i + 1}"] @ b_u / np.linalg.norm(b_u))
        np.testing.assert_allclose(data[f"Y{i + 1}"][:, 0] - noise_free, target_noise, atol=1e-12)


def test_seeded_determinism():
    m = SyntheticModel.random(seed=4, target="nonlinear")
    a, b, c = m.sample(200, seed=1), m.sample(200, seed=1), m.sample(200, seed=2)
    for name in KEYS:
        assert np.array_equal(a[name], b[name]), name
    assert not np.allclose(a["X1"], c["X1"])
    rebuilt = SyntheticModel.random(seed=4, target="nonlinear").sample(200, seed=1)
    assert all(np.array_equal(a[name], rebuilt[name]) for name in KEYS)
    other = SyntheticModel.random(seed=5, target="nonlinear").sample(200, seed=1)
    assert not np.allclose(a["X1"], other["X1"])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_shapes_and_dtypes(dtype):
    m = SyntheticModel.random(**UNEVEN, n_classes=3)
    data = m.sample(50, seed=0, dtype=dtype)
    shapes = {
        "S": (50, 2),
        "U1": (50, 4),
        "U2": (50, 1),
        "X1": (50, 7),
        "X2": (50, 10),
        "Y1": (50, 1),
        "Y2": (50, 1),
        "Y12": (50, 1),
        "C1": (50,),
        "C2": (50,),
        "C12": (50,),
    }
    assert set(data) == set(shapes)
    for name, shape in shapes.items():
        assert data[name].shape == shape, name
        assert data[name].dtype == (np.int64 if name.startswith("C") else dtype), name
    assert set(np.unique(data["C1"])) <= {0, 1, 2}


@pytest.mark.parametrize("mixing,depth", [("mlp", 0), ("mlp", 2), ("mlp", 4), ("linear", 2)])
def test_exact_inverse_recovers_latents(mixing, depth):
    m = SyntheticModel.random(**{**UNEVEN, "noise": 0.0}, mixing=mixing, depth=depth)
    data = m.sample(2000, seed=0)
    for i in (1, 2):
        latent = np.hstack([data["S"], data[f"U{i}"]])
        np.testing.assert_allclose(m.invert(data[f"X{i}"], modality=i), latent, atol=1e-8)


def test_mlp_mixing_is_nonlinear_and_slope_one_is_linear():
    data = SyntheticModel.random(noise=0.0, depth=2, slope=0.2).sample(20_000, seed=0)
    latent = np.hstack([data["S"], data["U1"]])
    assert ols_r2(latent, data["X1"]).max() < 0.97
    data = SyntheticModel.random(noise=0.0, depth=2, slope=1.0).sample(2_000, seed=0)
    latent = np.hstack([data["S"], data["U1"]])
    np.testing.assert_allclose(ols_r2(latent, data["X1"]), 1.0, atol=1e-10)


def test_mlp_mixing_keeps_the_covariance_of_each_modality():
    m = SyntheticModel.random(**UNEVEN)
    data = m.sample(100_000, seed=2)
    for name in ("X1", "X2"):
        cov = np.cov(data[name], rowvar=False)
        np.testing.assert_allclose(cov, m.gaussian.covariance(name), atol=0.04)


def test_nonlinear_target_unique_share_by_monte_carlo():
    shares, tn = (0.7, 0.2), (0.3, 0.0)
    m = SyntheticModel.random(
        d_shared=3,
        d_unique=(2, 4),
        unique_share=shares,
        target_noise=tn,
        target="nonlinear",
        seed=3,
    )
    data = m.sample(200_000, seed=0)
    for i in (0, 1):
        y = data[f"Y{i + 1}"][:, 0]
        b_s, b_u = m.gaussian.target_shared[i], m.gaussian.target_unique[i]
        t_s = data["S"] @ b_s / np.linalg.norm(b_s)
        t_u = data[f"U{i + 1}"] @ b_u / np.linalg.norm(b_u)
        part_s, part_u = np.column_stack([t_s, t_s**2]), np.column_stack([t_u, t_u**2])
        noise_free = 1 - tn[i] ** 2
        assert y.var() == pytest.approx(1.0, abs=0.02)
        assert ols_r2(y, part_u) == pytest.approx(shares[i] * noise_free, abs=0.01)
        assert ols_r2(y, part_s) == pytest.approx((1 - shares[i]) * noise_free, abs=0.01)
        assert ols_r2(y, np.hstack([part_s, part_u])) == pytest.approx(noise_free, abs=1e-3)
        # g has linear R² 1/3: the target is far from linear in the latents
        latents = np.hstack([data["S"], data[f"U{i + 1}"]])
        assert ols_r2(y, latents) == pytest.approx(noise_free / 3, abs=0.01)


def test_g_is_standardised():
    t = np.random.default_rng(0).standard_normal(400_000)
    assert g(t).mean() == pytest.approx(0.0, abs=0.01)
    assert g(t).var() == pytest.approx(1.0, abs=0.01)


def test_synergy_target_needs_both_modalities():
    m = SyntheticModel.random(d_shared=1, d_unique=1, dims=3, noise=0.1, seed=3)
    train, test = m.sample(4000, seed=1), m.sample(4000, seed=2)
    views = {
        "X1": lambda d: d["X1"],
        "X2": lambda d: d["X2"],
        "both": lambda d: np.hstack([d["X1"], d["X2"]]),
    }
    acc = {}
    for name, view in views.items():
        for probe in (KNeighborsClassifier(15), LogisticRegression()):
            probe.fit(view(train), train["C12"])
            acc[name, type(probe).__name__] = probe.score(view(test), test["C12"])
    for name in ("X1", "X2"):
        for probe in ("KNeighborsClassifier", "LogisticRegression"):
            assert abs(acc[name, probe] - 0.5) < 0.035, (name, probe, acc)
    assert acc["both", "KNeighborsClassifier"] > 0.75, acc
    assert train["Y12"].var() == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("target", ["linear", "nonlinear"])
@pytest.mark.parametrize("n_classes", [2, 4])
def test_classes_are_balanced(target, n_classes):
    m = SyntheticModel.random(**UNEVEN, target=target, n_classes=n_classes)
    data = m.sample(50_000, seed=9)
    for name in ("C1", "C2"):
        freq = np.bincount(data[name], minlength=n_classes) / 50_000
        np.testing.assert_allclose(freq, 1 / n_classes, atol=0.012)
    assert data["C12"].mean() == pytest.approx(0.5, abs=0.012)


def test_linear_two_class_threshold_is_zero():
    m = SyntheticModel.random(**UNEVEN, target="linear")
    assert m.thresholds[0].tolist() == [0.0] and m.thresholds[1].tolist() == [0.0]
    data = m.sample(100, seed=0)
    assert np.array_equal(data["C1"], (data["Y1"][:, 0] > 0).astype(int))


@pytest.mark.parametrize(
    "kwargs,name",
    [
        (dict(mixing="cubic"), "mixing"),
        (dict(depth=-1), "depth"),
        (dict(depth=1.5), "depth"),
        (dict(slope=0.0), "slope"),
        (dict(slope=1.5), "slope"),
        (dict(target="quadratic"), "target"),
        (dict(n_classes=1), "n_classes"),
        (dict(dims=(4, 8)), "dims"),
        (dict(unique_share=1.2), "unique_share"),
    ],
)
def test_bad_arguments_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        SyntheticModel.random(**kwargs)


def test_invert_checks_modality():
    with pytest.raises(ValueError, match="modality"):
        SyntheticModel.random(noise=0.0).invert(np.zeros((1, 8)), modality=3)
