"""Probes tuned by inner cross-validation: selection on training data, nonlinear probes."""

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.preprocessing import StandardScaler

from aligninfo.cvprobes import KNNCVProbe, MLPProbe, chosen_hyperparameters, make_probe
from aligninfo.probes import LogisticProbe, RidgeProbe


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
