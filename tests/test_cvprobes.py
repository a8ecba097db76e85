"""Probes tuned by inner cross-validation: selection on training data, nonlinear probes."""

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.preprocessing import StandardScaler

from aligninfo.cvprobes import KNNCVProbe, MLPProbe, chosen_hyperparameters, make_probe
from aligninfo.probes import LogisticProbe, RidgeProbe, r2


def smooth(n, noise, seed):
    """A nonlinear regression target on two features, with additive noise."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(-2, 2, (n, 2))
    return z, np.sin(2 * z[:, 0]) + z[:, 1] ** 2 + noise * rng.standard_normal(n)


def test_knn_chooses_more_neighbours_for_noisier_targets():
    clean = KNNCVProbe("regression").fit(*smooth(800, 0.0, 0))
    noisy = KNNCVProbe("regression").fit(*smooth(800, 3.0, 0))
    assert clean.k_ < noisy.k_
    assert set(clean.cv_scores_) == {1, 3, 5, 10, 20, 40, 80}
    assert clean.cv_scores_[clean.k_] == max(clean.cv_scores_.values())


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_knn_predicts_as_scikit_learn_with_the_chosen_k(task):
    z, y = smooth(400, 0.3, 1)
    z_test, y_test = smooth(100, 0.3, 2)
    if task == "classification":
        y, y_test = (y > 1).astype(int), (y_test > 1).astype(int)
    probe = KNNCVProbe(task, ks=(3, 7, 15)).fit(z, y)
    scaler = StandardScaler().fit(z)
    reference = (KNeighborsClassifier if task == "classification" else KNeighborsRegressor)(
        n_neighbors=probe.k_
    ).fit(scaler.transform(z), y)
    np.testing.assert_allclose(probe.predict(z_test), reference.predict(scaler.transform(z_test)))


def test_mlp_probe_reads_what_a_linear_probe_cannot():
    z, y = smooth(2000, 0.1, 3)
    z_test, y_test = smooth(500, 0.1, 4)
    mlp = MLPProbe("regression").fit(z, y)
    linear = RidgeProbe().fit(z, y)
    assert mlp.score(z_test, y_test) > linear.score(z_test, y_test) + 0.3
    assert mlp.n_iter_ < mlp.max_iter, "stopped early on the inner validation split"
    labels = (y > np.median(y)).astype(int)
    clf = MLPProbe("classification").fit(z, labels)
    assert clf.score(z_test, (y_test > np.median(y)).astype(int)) > 0.8


def test_mlp_probe_is_seeded():
    z, y = smooth(300, 0.1, 5)
    a, b = (MLPProbe(seed=1).fit(z, y).predict(z) for _ in range(2))
    np.testing.assert_array_equal(a, b)


def test_selection_depends_on_the_training_data_only():
    z, y = smooth(300, 0.5, 6)
    labels = (y > 1).astype(int)
    for kind in ("linear", "knn"):
        for task, target in (("regression", y), ("classification", labels)):
            probe = make_probe(kind, task).fit(z, target)
            again = make_probe(kind, task).fit(z.copy(), target.copy())
            assert chosen_hyperparameters(probe) == chosen_hyperparameters(again)


def test_make_probe_families_and_hyperparameters():
    z, y = smooth(200, 0.5, 7)
    assert isinstance(make_probe("linear", "regression"), RidgeProbe)
    assert isinstance(make_probe("linear", "classification"), LogisticProbe)
    assert make_probe("linear", "classification", logistic_c=3.0).c == 3.0
    assert set(chosen_hyperparameters(make_probe("linear", "regression").fit(z, y))) == {"alpha"}
    fixed = make_probe("linear", "classification", logistic_c=3.0).fit(z, y > 1)
    assert chosen_hyperparameters(fixed) == {"C": 3.0}
    assert set(chosen_hyperparameters(make_probe("mlp", "regression").fit(z, y))) == {"epochs"}
    with pytest.raises(ValueError, match="unknown probe"):
        make_probe("svm", "regression")
    with pytest.raises(ValueError, match="task"):
        make_probe("knn", "ranking")
    with pytest.raises(TypeError, match="not a probe"):
        chosen_hyperparameters(object())


# ----------------------------------------------------------------- several targets, one search


def targets(n, seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 4))
    return z, {
        "smooth": np.sin(2 * z[:, 0]) + 0.1 * rng.standard_normal(n),
        "noisy": z[:, 1] + rng.standard_normal(n),
        "block": np.stack([z[:, 2] ** 2, z[:, 3]], axis=1),
    }


def test_knn_several_targets_match_single_target_probes():
    (z, y), (zt, yt) = targets(600, 0), targets(300, 1)
    probe = KNNCVProbe("regression", seed=3).fit(z, y)
    scores = probe.score_targets(zt, yt)
    for name in ("smooth", "noisy"):
        single = KNNCVProbe("regression", seed=3).fit(z, y[name])
        assert probe.ks_[name] == single.k_
        assert probe.cv_scores_[name] == pytest.approx(single.cv_scores_)
        assert scores[name] == pytest.approx(single.score(zt, yt[name]), abs=1e-12)
        np.testing.assert_allclose(probe.predict(zt)[name], single.predict(zt))
    assert probe.ks_["smooth"] < probe.ks_["noisy"], "k is chosen per target"
    assert probe.k_ == max(probe.ks_.values())
    with pytest.raises(ValueError, match="score_targets"):
        probe.score(zt, yt["smooth"])
    with pytest.raises(ValueError, match="expected the targets"):
        probe.score_targets(zt, {"smooth": yt["smooth"]})


def test_knn_block_target_is_scored_as_a_whole():
    (z, y), (zt, yt) = targets(600, 0), targets(300, 1)
    probe = KNNCVProbe("regression").fit(z, y["block"])
    pred = probe.predict(zt)
    assert pred.shape == (300, 2)
    columns = [KNNCVProbe("regression", ks=(probe.k_,)).fit(z, y["block"][:, j]) for j in (0, 1)]
    np.testing.assert_allclose(pred, np.stack([c.predict(zt) for c in columns], axis=1))
    assert probe.score(zt, yt["block"]) == pytest.approx(r2(yt["block"], pred), abs=1e-12)


def test_knn_several_targets_share_one_neighbour_search_per_fold(monkeypatch):
    from sklearn.neighbors import NearestNeighbors

    calls = []
    original = NearestNeighbors.kneighbors

    def counted(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(NearestNeighbors, "kneighbors", counted)
    z, y = targets(300, 2)
    probe = KNNCVProbe("regression", cv=4).fit(z, y)
    assert len(calls) == 4, "one search per inner fold for the three targets"
    probe.predict(z)
    assert len(calls) == 5, "one search for the new samples"


def test_knn_several_class_targets_each_choose_k():
    z, y = targets(500, 3)
    labels = {"a": (y["smooth"] > 0).astype(int), "b": (y["noisy"] > 0).astype(int)}
    probe = KNNCVProbe("classification", seed=1).fit(z, labels)
    # several targets: shuffled folds (not stratified), those of a regression probe
    folds = KNNCVProbe("regression", seed=1).fit(z, y["smooth"]).inner_splits_
    for (a, b), (c, d) in zip(probe.inner_splits_, folds, strict=True):
        assert np.array_equal(a, c) and np.array_equal(b, d)
    pred, scores = probe.predict(z), probe.score_targets(z, labels)
    for name, target in labels.items():
        assert pred[name].dtype == target.dtype and set(np.unique(pred[name])) <= {0, 1}
        assert scores[name] == pytest.approx(np.mean(pred[name] == target))
        best = max(probe.cv_scores_[name].values())
        assert probe.cv_scores_[name][probe.ks_[name]] == best


def test_knn_choice_of_k_never_sees_the_test_data():
    (z, y), (zt, yt) = targets(600, 0), targets(300, 1)
    rng = np.random.default_rng(9)
    a = KNNCVProbe("regression").fit(z, y)
    shuffled = {name: rng.permutation(v) for name, v in yt.items()}
    b = KNNCVProbe("regression").fit(z, y)
    assert a.ks_ == b.ks_
    assert a.score_targets(zt, yt)["smooth"] > 0.5 > b.score_targets(zt, shuffled)["smooth"]


# ----------------------------------------------------------------- not fitted


@pytest.mark.parametrize("kind", ["linear", "knn", "mlp"])
@pytest.mark.parametrize("grouped", [False, True])
def test_probes_refuse_to_predict_before_fit(kind, grouped):
    from sklearn.exceptions import NotFittedError

    z, y = smooth(50, 0.1, 8)
    for task in ("regression", "classification"):
        probe = make_probe(kind, task, grouped=grouped)
        with pytest.raises(NotFittedError):
            probe.predict(z)
        with pytest.raises(NotFittedError):
            probe.score(z, y if task == "regression" else (y > 1).astype(int))
