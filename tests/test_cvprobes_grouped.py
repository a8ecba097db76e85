"""Inner cross-validation over groups: a group never lies on both sides of an inner split."""

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from aligninfo.cvprobes import (
    GroupLogisticProbe,
    GroupRidgeProbe,
    KNNCVProbe,
    MLPProbe,
    chosen_hyperparameters,
    make_probe,
)
from aligninfo.probes import LogisticProbe


def sites(n_groups, per_group, seed):
    """Samples of groups (sites): a weak shared signal plus a per-site signature and offset.

    Features identify the site (a site-specific random vector in 30 dimensions); the target
    is a small linear function of two features plus a site offset that no feature predicts
    at a new site. Within-site interpolation looks useful; across sites it is not.
    """
    rng = np.random.default_rng(seed)
    signature = rng.standard_normal((n_groups, 30))
    offset = 2.0 * rng.standard_normal(n_groups)
    groups = np.repeat(np.arange(n_groups), per_group)
    z = signature[groups] + 0.1 * rng.standard_normal((len(groups), 30))
    shared = rng.standard_normal((len(groups), 2))
    z = np.hstack([z, shared])
    y = 0.3 * shared[:, 0] + offset[groups] + 0.1 * rng.standard_normal(len(groups))
    return z, y, groups


def test_grouped_selection_penalises_more_and_transfers_better():
    z, y, groups = sites(40, 25, 0)
    z_new, y_new, _ = sites(40, 25, 1)  # other sites
    grouped = GroupRidgeProbe().fit(z, y, groups)
    shuffled = GroupRidgeProbe().fit(z, y)
    assert grouped.alpha_ > shuffled.alpha_
    assert grouped.score(z_new, y_new) > shuffled.score(z_new, y_new)
    assert grouped.cv_scores_[grouped.alpha_] == max(grouped.cv_scores_.values())


def test_group_ridge_predicts_as_scikit_learn_with_the_chosen_penalty():
    z, y, groups = sites(12, 10, 2)
    probe = GroupRidgeProbe(alphas=(0.1, 10.0, 1000.0)).fit(z, y, groups)
    reference = make_pipeline(StandardScaler(), Ridge(alpha=probe.alpha_)).fit(z, y)
    np.testing.assert_allclose(probe.predict(z), reference.predict(z), rtol=1e-10, atol=1e-10)
    assert chosen_hyperparameters(probe) == {"alpha": probe.alpha_}


@pytest.mark.parametrize("shape", [(), (1,), (2,)], ids=["(n,)", "(n, 1)", "(n, 2)"])
def test_group_ridge_refit_is_scikit_learns_for_every_target_shape(shape):
    z, y, groups = sites(12, 10, 5)
    z = 40 * z + 7.0  # offsets and scales the standardisation must undo
    z[:, 3] = 2.5  # a constant column: scale 1, as StandardScaler
    y = y.reshape(len(y), *[1] * len(shape)) * np.arange(1, 1 + (shape or (1,))[0]) + 3.0
    probe = GroupRidgeProbe(alphas=(0.1, 10.0, 1000.0)).fit(z, y, groups)
    reference = make_pipeline(StandardScaler(), Ridge(alpha=probe.alpha_)).fit(z, y)
    z_new = z[::7] + 0.5
    assert probe.predict(z_new).shape == reference.predict(z_new).shape
    np.testing.assert_allclose(probe.predict(z_new), reference.predict(z_new), rtol=1e-10)


def test_ridge_path_matches_refits_on_each_inner_fold():
    """The inner scores are those of scikit-learn's ridge refitted on each fold."""
    from sklearn.model_selection import GroupKFold

    z, y, groups = sites(10, 8, 3)
    probe = GroupRidgeProbe(alphas=(0.5, 50.0), cv=5).fit(z, y, groups)
    for alpha in (0.5, 50.0):
        pred = np.empty_like(y)
        for tr, te in GroupKFold(5).split(z, y, groups):
            pred[te] = (
                make_pipeline(StandardScaler(), Ridge(alpha=alpha)).fit(z[tr], y[tr]).predict(z[te])
            )
        expected = 1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2)
        assert probe.cv_scores_[alpha] == pytest.approx(expected, abs=1e-10)


def test_knn_with_groups_never_uses_a_neighbour_from_the_held_out_site():
    """With one sample per site duplicated, shuffled folds find the twin, grouped ones cannot."""
    rng = np.random.default_rng(4)
    z0 = rng.standard_normal((200, 3))
    y0 = rng.standard_normal(200)  # unpredictable across sites
    z, y = np.vstack([z0, z0]), np.concatenate([y0, y0])
    groups = np.concatenate([np.arange(200), np.arange(200)])
    shuffled = KNNCVProbe("regression").fit(z, y)
    grouped = KNNCVProbe("regression").fit(z, y, groups=groups)
    assert shuffled.k_ == 1 and shuffled.cv_scores_[1] > 0.5  # the twin answers
    assert grouped.cv_scores_[1] < 0.0 and grouped.k_ > 1


def test_make_probe_grouped_families():
    assert isinstance(make_probe("linear", "regression", grouped=True), GroupRidgeProbe)
    assert isinstance(make_probe("linear", "classification", grouped=True), GroupLogisticProbe)
    assert isinstance(make_probe("knn", "regression", grouped=True), KNNCVProbe)
    assert isinstance(make_probe("mlp", "classification", grouped=True), MLPProbe)
    z, y, groups = sites(3, 5, 5)
    with pytest.raises(ValueError, match="at least cv=5 groups"):
        GroupRidgeProbe().fit(z, y, groups)


def grouped_probes():
    """Every probe family with grouped inner selection, for both tasks."""
    for task in ("regression", "classification"):
        for kind in ("linear", "knn", "mlp"):
            yield task, make_probe(kind, task, grouped=True, logistic_cs=(0.1, 10.0))


@pytest.mark.parametrize(("task", "probe"), list(grouped_probes()))
def test_no_inner_split_puts_a_group_on_both_sides(task, probe):
    z, y, groups = sites(20, 12, 6)
    target = (y > np.median(y)).astype(int) if task == "classification" else y
    probe.fit(z, target, groups)
    assert probe.inner_splits_, "the splits of the selection are recorded"
    for train, held in probe.inner_splits_:
        assert len(train) and len(held)
        assert not set(groups[train]) & set(groups[held]), type(probe).__name__
    assert np.shape(probe.predict(z)) == np.shape(target)


def test_grouped_logistic_without_groups_is_the_logistic_probe():
    z, y, _ = sites(20, 12, 7)
    labels = (y > np.median(y)).astype(int)
    mine = GroupLogisticProbe(cs=(0.01, 1.0, 100.0), cv=3, seed=2).fit(z, labels)
    reference = LogisticProbe(cs=(0.01, 1.0, 100.0), cv=3, seed=2).fit(z, labels)
    assert chosen_hyperparameters(mine) == chosen_hyperparameters(reference)
    np.testing.assert_allclose(mine.predict_proba(z), reference.predict_proba(z))
    fast = GroupLogisticProbe(cs=(0.01, 1.0, 100.0), cv=3, seed=2, solver="newton-cg")
    assert chosen_hyperparameters(fast.fit(z, labels)) == chosen_hyperparameters(reference)
    assert isinstance(
        make_probe("linear", "classification", logistic_solver="newton-cg"), GroupLogisticProbe
    )


def test_grouped_logistic_chooses_on_held_out_groups():
    """Site signatures let a weakly penalised probe memorise sites: grouped CV penalises more."""
    z, y, groups = sites(40, 25, 8)
    labels = (y > np.median(y)).astype(int)
    grid = tuple(np.logspace(-3, 3, 7))
    grouped = GroupLogisticProbe(cs=grid, cv=5).fit(z, labels, groups)
    shuffled = GroupLogisticProbe(cs=grid, cv=5).fit(z, labels)
    assert chosen_hyperparameters(grouped)["C"] < chosen_hyperparameters(shuffled)["C"]


def test_mlp_early_stopping_holds_out_whole_groups_and_is_seeded():
    z, y, groups = sites(20, 12, 9)
    a = MLPProbe(seed=3).fit(z, y, groups)
    b = MLPProbe(seed=3).fit(z, y, groups)
    np.testing.assert_array_equal(a.predict(z), b.predict(z))
    ((train, val),) = a.inner_splits_
    assert len(set(groups[val])) == 3, "15 % of 20 groups, rounded"
    assert a.n_iter_ < a.max_iter
    assert MLPProbe(seed=3).fit(z, y).inner_splits_ is None
