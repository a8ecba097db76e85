"""Probes on data with known answers; σ-informativeness against a Monte Carlo with noise draws."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError, UndefinedMetricWarning
from sklearn.linear_model import LinearRegression, LogisticRegressionCV, RidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from aligninfo.probes import (
    FAST_SCORERS,
    KNNProbe,
    LogisticProbe,
    RidgeProbe,
    block_r2,
    r2,
    retrieval_accuracy,
    sigma_informativeness,
)


def correlated(n, seed):
    """Z (n, 3) with unequal, correlated columns and y (n,) partly explained by Z."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 3)) @ np.array([[2.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.0, 0.0, 0.4]])
    y = z @ np.array([0.5, -1.0, 2.0]) + 0.8 * rng.standard_normal(n)
    return z + 5.0, y  # an offset: the estimate must centre


# ----------------------------------------------------------------- σ-informativeness


def monte_carlo_fit(z, y, sigma, draws, rng):
    """Rescale as the convention says, add explicit noise, fit least squares on all draws."""
    zc = z - z.mean(0)
    zs = zc / np.sqrt(np.trace(np.cov(zc, rowvar=False, bias=True)) / z.shape[1])
    noisy = np.concatenate([zs + sigma * rng.standard_normal(zs.shape) for _ in range(draws)])
    ys = np.tile(y, draws)
    fit = LinearRegression().fit(noisy, ys)
    return fit, fit.score(noisy, ys)


@pytest.mark.parametrize("sigma", [0.0, 0.4, 1.5])
def test_sigma_informativeness_matches_monte_carlo(sigma):
    z, y = correlated(300, seed=0)
    _, r2_mc = monte_carlo_fit(z, y, sigma, draws=200, rng=np.random.default_rng(1))
    (r2,) = sigma_informativeness(z, y, [sigma])
    assert r2 == pytest.approx(r2_mc, abs=0.01)


def test_held_out_sigma_informativeness_matches_monte_carlo():
    z, y = correlated(300, seed=0)
    z_test, y_test = correlated(200, seed=2)
    z_test = z_test * 1.3  # a test set with different statistics (the train scale is kept)
    sigma, rng = 0.7, np.random.default_rng(3)
    fit, _ = monte_carlo_fit(z, y, sigma, draws=300, rng=rng)
    s = np.sqrt(np.trace(np.cov(z, rowvar=False, bias=True)) / 3)
    errors = [
        np.var(y_test - fit.predict(z_test / s + sigma * rng.standard_normal(z_test.shape)))
        for _ in range(400)
    ]
    r2_mc = 1 - np.mean(errors) / np.var(y_test)
    (r2,) = sigma_informativeness(z, y, [sigma], z_test, y_test)
    assert r2 == pytest.approx(r2_mc, abs=0.01)


def test_sigma_informativeness_limits_and_invariances():
    z, y = correlated(400, seed=4)
    sigmas = np.array([0.0, 0.1, 0.5, 1.0, 3.0, 100.0])
    r2 = sigma_informativeness(z, y, sigmas)
    assert r2.shape == sigmas.shape
    assert r2[0] == pytest.approx(LinearRegression().fit(z, y).score(z, y), rel=1e-10)
    assert np.all(np.diff(r2) < 0) and r2[-1] < 1e-3
    np.testing.assert_allclose(sigma_informativeness(7 * z - 2, y, sigmas), r2, rtol=1e-10)
    # a redundant copy of a column changes the mean variance, hence the noise-to-signal ratio
    assert sigma_informativeness(np.hstack([z, z[:, :1]]), y, [0.0])[0] == pytest.approx(r2[0])


def test_sigma_informativeness_multi_output_is_variance_weighted():
    z, y1 = correlated(300, seed=5)
    y2 = 3 * z[:, 0] + np.random.default_rng(6).standard_normal(300)
    sigmas = [0.0, 0.8]
    both = sigma_informativeness(z, np.column_stack([y1, y2]), sigmas)
    parts = [sigma_informativeness(z, y, sigmas) * np.var(y) for y in (y1, y2)]
    np.testing.assert_allclose(both, sum(parts) / (np.var(y1) + np.var(y2)), rtol=1e-10)


def test_sigma_informativeness_agrees_with_the_gaussian_closed_form():
    gaussian = pytest.importorskip("aligninfo.gaussian")
    model = gaussian.GaussianModel.random(seed=0)
    w = np.random.default_rng(1).standard_normal((3, model.dims[0]))
    samples = model.sample(40_000, seed=2)
    sigmas = np.array([0.0, 0.5, 2.0])
    closed = model.sigma_informativeness(w, "Y1", 1, sigmas)
    estimated = sigma_informativeness(samples["X1"] @ w.T, samples["Y1"], sigmas)
    np.testing.assert_allclose(estimated, closed, atol=0.01)


def test_sigma_informativeness_rejects_bad_input():
    z, y = correlated(50, seed=0)
    with pytest.raises(ValueError, match="sigmas"):
        sigma_informativeness(z, y, [-0.1])
    with pytest.raises(ValueError, match="sigmas"):
        sigma_informativeness(z, y, [np.nan])
    with pytest.raises(ValueError, match="different numbers"):
        sigma_informativeness(z, y[:10], [0.0])
    with pytest.raises(ValueError, match="zero variance"):
        sigma_informativeness(np.ones((50, 2)), y, [0.0])
    with pytest.raises(ValueError, match="both"):
        sigma_informativeness(z, y, [0.0], z_test=z)


def test_sigma_informativeness_of_a_constant_target_is_an_error():
    z, y = correlated(50, seed=0)
    with pytest.raises(ValueError, match="y has zero variance"):
        sigma_informativeness(z, np.full(50, 3.0), [0.0, 1.0])
    with pytest.raises(ValueError, match="y has zero variance"):
        sigma_informativeness(z, np.column_stack([np.ones(50), np.zeros(50)]), [0.0])
    with pytest.raises(ValueError, match="y_test has zero variance"):
        sigma_informativeness(z, y, [0.5], z[:20], np.full(20, -1.0))
    # one constant column of several is fine: the R² is the share of the total variance
    (r2,) = sigma_informativeness(z, np.column_stack([y, np.ones(50)]), [0.0])
    assert r2 == pytest.approx(sigma_informativeness(z, y, [0.0])[0])


def test_closed_form_sigma_informativeness_of_a_zero_variance_target_is_an_error():
    gaussian = pytest.importorskip("aligninfo.gaussian")
    regimes = pytest.importorskip("aligninfo.regimes")
    m = gaussian.GaussianModel.random(seed=0)
    silent = gaussian.GaussianModel(  # Y1 = 0: no weight on S or U1, no target noise
        m.mixing,
        m.noise,
        (0 * m.target_shared[0], m.target_shared[1]),
        (0 * m.target_unique[0], m.target_unique[1]),
    )
    w = np.random.default_rng(1).standard_normal((2, silent.dims[0]))
    with pytest.raises(ValueError, match="Y1 has zero variance"):
        silent.sigma_informativeness(w, "Y1", 1, [0.0, 1.0])
    with pytest.raises(ValueError, match="Y1 has zero variance"):
        regimes.sigma_r2_grid(silent, w, [0.0, 0.5], [0.0, 1.0])
    with pytest.raises(ValueError, match="Y1 has zero variance"):
        regimes.sigma_spectrum(silent, w)
    assert np.isfinite(silent.sigma_informativeness(w, "Y2", 1, 0.5))  # Y2 is not silent


# ----------------------------------------------------------------- supervised probes


def test_ridge_probe_recovers_the_explained_variance():
    rng = np.random.default_rng(0)
    z, z_test = rng.standard_normal((2, 2000, 4))
    beta = np.array([1.0, -2.0, 0.0, 0.5])
    noise = 1.5  # R² = |beta|² / (|beta|² + noise²)
    y, y_test = z @ beta + noise * rng.standard_normal(2000), z_test @ beta
    expected = beta @ beta / (beta @ beta + noise**2)
    probe = RidgeProbe().fit(z, y)
    assert probe.score(z_test, y_test + noise * rng.standard_normal(2000)) == pytest.approx(
        expected, abs=0.02
    )
    assert RidgeProbe().fit(z, rng.standard_normal(2000)).score(z_test, y_test) < 0.02


def test_logistic_probe_separable_and_random_labels():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((600, 3))
    labels = np.where(z[:, 0] + z[:, 1] > 0, 2, 0) + (z[:, 2] > 0)  # 4 linear classes
    probe = LogisticProbe(cv=3).fit(z[:400], labels[:400])
    assert probe.score(z[400:], labels[400:]) > 0.9
    assert probe.predict_proba(z[400:]).shape == (200, 4)
    random_labels = rng.integers(0, 2, 600)
    chance = LogisticProbe(cv=3).fit(z[:400], random_labels[:400])
    assert abs(chance.score(z[400:], random_labels[400:]) - 0.5) < 0.1
    fixed = LogisticProbe(c=10.0).fit(z[:400], labels[:400])
    assert fixed.score(z[400:], labels[400:]) > 0.9
    weak = LogisticProbe(c=1e-6).fit(z[:400], labels[:400])  # regularised to near-constant
    assert weak.score(z[400:], labels[400:]) < 0.5


def test_knn_probe_sees_nonlinear_structure_a_linear_probe_misses():
    rng = np.random.default_rng(2)
    z = rng.uniform(-3, 3, (1500, 1))
    y = np.cos(2 * z[:, 0])  # even: no linear trend
    knn = KNNProbe(k=5, task="regression", metric="euclidean").fit(z[:1000], y[:1000])
    assert knn.score(z[1000:], y[1000:]) > 0.95
    assert RidgeProbe().fit(z[:1000], y[:1000]).score(z[1000:], y[1000:]) < 0.05
    angles = rng.uniform(0, 2 * np.pi, 400)
    ring = np.column_stack([np.cos(angles), np.sin(angles)]) * rng.uniform(1, 2, (400, 1))
    sector = (angles // (np.pi / 2)).astype(int)  # four angular classes: cosine kNN
    clf = KNNProbe(k=3).fit(ring[:300], sector[:300])
    assert clf.score(ring[300:], sector[300:]) > 0.9
    with pytest.raises(ValueError, match="task"):
        KNNProbe(task="ranking").fit(ring, sector)


def test_block_r2_finds_the_latent_blocks():
    rng = np.random.default_rng(3)
    blocks = {name: rng.standard_normal((1200, d)) for name, d in (("S", 2), ("U1", 2), ("U2", 3))}
    mix = rng.standard_normal((4, 4))  # invertible mixing of S and U1
    z = np.hstack([blocks["S"], blocks["U1"]]) @ mix + 0.05 * rng.standard_normal((1200, 4))
    train = {k: v[:800] for k, v in blocks.items()}
    test = {k: v[800:] for k, v in blocks.items()}
    scores = block_r2(z[:800], train, z[800:], test)
    assert scores["S"] > 0.98 and scores["U1"] > 0.98 and abs(scores["U2"]) < 0.03
    only_s = block_r2(blocks["S"], blocks)
    assert only_s["S"] == pytest.approx(1.0, abs=1e-6) and only_s["U1"] < 0.02


# ----------------------------------------------------------------- retrieval


def brute_force_top_k(q, c, k):
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    cn = c / np.linalg.norm(c, axis=1, keepdims=True)
    order = np.argsort(-(qn @ cn.T), axis=1, kind="stable")
    return np.mean([i in order[i, :k] for i in range(len(q))])


def test_retrieval_accuracy_known_cases():
    rng = np.random.default_rng(4)
    q = rng.standard_normal((300, 8))
    assert retrieval_accuracy(q, q) == {1: 1.0, 5: 1.0}
    assert retrieval_accuracy(q, np.roll(q, 1, axis=0), ks=(1,))[1] == 0.0
    keys = q + 0.8 * rng.standard_normal(q.shape)
    got = retrieval_accuracy(q, keys, ks=(1, 5, 20), chunk=64)
    for k in (1, 5, 20):
        assert got[k] == pytest.approx(brute_force_top_k(q, keys, k))
    assert 0 < got[1] < got[5] < got[20] < 1
    euclid = retrieval_accuracy(q, keys, ks=(1,), metric="euclidean")[1]
    assert 0 < euclid < 1
    with pytest.raises(ValueError, match="same shape"):
        retrieval_accuracy(q, keys[:10])


def test_retrieval_accuracy_breaks_ties_at_random_in_expectation():
    # Constant embeddings: every key ties with the paired one, so top-k is chance, k / n.
    ones = np.ones((50, 4))
    assert retrieval_accuracy(ones, ones, ks=(1, 5, 50)) == pytest.approx(
        {1: 0.02, 5: 0.1, 50: 1.0}
    )
    assert retrieval_accuracy(ones, 2 * ones, ks=(1,), metric="euclidean")[1] == pytest.approx(0.02)
    keys = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    queries = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    # query 0: key 1 ties with its key, none above    -> top-1 1/2, top-2 1
    # query 1: key 2 above, keys 0 and 3 tie with it  -> top-1 0, top-2 (2 - 1) / 3
    # query 2: its key alone on top                   -> 1
    # query 3: its key last, no ties                  -> 0 until k = 4
    got = retrieval_accuracy(queries, keys, ks=(1, 2, 4))
    assert got == pytest.approx({1: (1 / 2 + 0 + 1 + 0) / 4, 2: (1 + 1 / 3 + 1 + 0) / 4, 4: 1.0})


@pytest.mark.parametrize(
    "probe",
    [RidgeProbe(), LogisticProbe(c=1.0), KNNProbe(k=3), KNNProbe(k=3, task="regression")],
    ids=["ridge", "logistic", "knn-classification", "knn-regression"],
)
def test_probes_refuse_predict_and_score_before_fit(probe):
    z, y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    methods = [probe.predict, *([probe.predict_proba] if hasattr(probe, "predict_proba") else [])]
    for method in methods:
        with pytest.raises(NotFittedError, match=type(probe).__name__):
            method(z)
    with pytest.raises(NotFittedError):
        probe.score(z, y)
    assert probe.fit(z + np.arange(4)[:, None], y).predict(z).shape == (4,)  # fitted: it predicts


# ----------------------------------------------------------------- equal to scikit-learn


def r2_cases():
    """Targets and predictions of every shape and dtype the probes give r2, edge cases too."""
    rng = np.random.default_rng(7)
    y = rng.standard_normal((50, 3))
    noisy = y + 0.5 * rng.standard_normal(y.shape)
    constant = y.copy()
    constant[:, 1] = 2.0  # a constant column, predicted exactly in one case, not in another
    yield y[:, 0], noisy[:, 0]
    yield y[:, :1], noisy[:, :1]
    yield y, noisy
    yield constant, np.where(np.arange(3) == 1, 2.0, noisy)
    yield constant, noisy
    yield np.full((5, 2), 3.0), np.full((5, 2), 3.0)  # every column constant
    yield np.full(5, 3.0), np.arange(5.0)
    yield y.astype(np.float32), noisy.astype(np.float32)
    yield y.astype(np.float32), noisy
    yield rng.integers(0, 5, 40), rng.integers(0, 5, 40)
    yield y, y  # perfect


@pytest.mark.parametrize("case", list(r2_cases()))
def test_r2_is_scikit_learns_variance_weighted_r2_bit_for_bit(case):
    y_true, y_pred = case
    expected = r2_score(y_true, y_pred, multioutput="variance_weighted")
    assert r2(y_true, y_pred) == float(expected)  # bit-equal, not approximately


def test_r2_hands_what_scikit_learn_refuses_to_it():
    y = np.arange(6.0)
    with pytest.raises(ValueError, match="NaN"):
        r2(y, np.where(y > 2, np.nan, y))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        r2(y, y[:4])
    with pytest.warns(UndefinedMetricWarning):
        assert np.isnan(r2(y[:1], y[:1]))


def logistic_cases():
    """Binary and 3-class labels; folds that leave a class out of a held-out part."""
    rng = np.random.default_rng(8)
    z = rng.standard_normal((240, 4))
    logits = z @ rng.standard_normal((4, 3))
    three = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
    shuffled = StratifiedKFold(4, shuffle=True, random_state=0)
    held = np.arange(240) % 4
    held[three == 2] = np.where(held[three == 2] == 3, 0, held[three == 2])  # no class 2 in fold 3
    lopsided = [(np.flatnonzero(held != f), np.flatnonzero(held == f)) for f in range(4)]
    yield z, (three == 1).astype(int), shuffled
    yield z, three, shuffled
    yield z, three + 5, lopsided  # labels that are not 0..k-1
    # separable: probabilities within eps of 0 or 1 at large C (the scorer's clipping counts)
    yield z, (z[:, 0] > 0).astype(int), shuffled
    yield z, np.digitize(z[:, 0], [-0.5, 0.5]), shuffled


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize(
    "case",
    list(logistic_cases()),
    ids=["binary", "3-class", "missing", "separable-binary", "separable-3-class"],
)
@pytest.mark.parametrize("name", ["neg_log_loss", "accuracy"])
def test_fast_scorers_score_the_inner_folds_as_scikit_learn(case, name):
    z, labels, folds = case
    folds = list(folds.split(z, labels)) if hasattr(folds, "split") else folds
    solver = "lbfgs" if name == "neg_log_loss" else "newton-cg"
    fits = [
        LogisticRegressionCV(Cs=6, cv=folds, scoring=scoring, solver=solver).fit(z, labels)
        for scoring in (name, FAST_SCORERS[name])
    ]
    reference, fast = fits
    for cls in reference.scores_:
        assert np.array_equal(fast.scores_[cls], reference.scores_[cls])  # bit-equal
    assert np.array_equal(fast.C_, reference.C_) and np.array_equal(fast.coef_, reference.coef_)


def ridge_cases():
    """Offsets and scales, a constant column, correlated columns, one and several outputs."""
    rng = np.random.default_rng(9)
    for n, k, q in [(2500, 8, 3), (2500, 24, 1), (200, 3, 1), (40, 12, 2)]:
        z = rng.standard_normal((n, k)) @ rng.standard_normal((k, k)) * 20 + rng.uniform(-50, 50, k)
        y = z @ rng.standard_normal((k, q)) + 30 * rng.standard_normal((n, q))
        yield z, y, rng.standard_normal((100, k)) * 20
    z[:, 0] = 3.0  # constant: scale 1, as StandardScaler
    yield z, y[:, 0], z[:7] + 1.0


@pytest.mark.parametrize("case", list(ridge_cases()))
def test_ridge_probe_is_scikit_learns_scaled_ridge_cv_in_closed_form(case):
    z, y, z_new = case
    alphas = tuple(np.logspace(-4, 4, 17))
    reference = make_pipeline(StandardScaler(), RidgeCV(alphas=alphas)).fit(z, y)
    probe = RidgeProbe(alphas).fit(z, y)
    assert probe.alpha_ == reference[-1].alpha_  # the same penalty
    assert probe.cv_scores_.max() == pytest.approx(reference[-1].best_score_, rel=1e-10)
    expected = reference.predict(z_new)
    assert probe.predict(z_new).shape == expected.shape
    np.testing.assert_allclose(probe.predict(z_new), expected, rtol=1e-10, atol=0)
    every = [
        RidgeCV(alphas=[a], scoring=None).fit(StandardScaler().fit_transform(z), y).best_score_
        for a in alphas
    ]
    np.testing.assert_allclose(probe.cv_scores_, every, rtol=1e-10)  # every penalty's score
