"""Chapter 9's probes choose their hyperparameters on inner folds by polygon group.

The training pixels of Houston 2013 come from a few labelled polygons per class; inner folds
that put pixels of one polygon on both sides choose penalties that interpolate within a
polygon. The chapter records, for every probe it fits, how many polygon groups an inner split
shares between its two sides (it must be none), and the grouped inner folds of class labels
balance the classes as far as whole groups allow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixtures import smoke_record

from aligninfo.cvprobes import GroupLogisticProbe, KNNCVProbe, chosen_hyperparameters
from aligninfo.data import houston
from aligninfo.groups import scan_order_groups


def labelled_groups(sizes: list[tuple[int, ...]]) -> tuple[np.ndarray, np.ndarray]:
    """Labels and groups ``(n,)``: class ``c`` holds one group of each size in ``sizes[c]``."""
    y = np.concatenate([np.full(s, c) for c, ss in enumerate(sizes) for s in ss])
    g = np.concatenate([np.full(s, i) for i, s in enumerate(s for ss in sizes for s in ss)])
    return y, g


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "make",
    [
        lambda s: GroupLogisticProbe((0.1, 10.0), 2, seed=s),
        lambda s: KNNCVProbe("classification", ks=(1, 3), cv=2, seed=s),
    ],
)
def test_grouped_inner_folds_of_classes_see_every_class_on_both_sides(make, seed) -> None:
    """Two groups per class, sized so that folds balanced by size alone (``GroupKFold``) put
    both groups of one class on the same side; balanced by class, each side sees every class."""
    y, g = labelled_groups([(9, 5), (14, 49), (40, 55)])
    z = np.random.default_rng(seed).standard_normal((len(y), 3)) + y[:, None]
    probe = make(seed).fit(z, y, g)
    for train, held in probe.inner_splits_:
        assert not set(g[train]) & set(g[held])
        assert set(y[train]) == set(y[held]) == set(y), "a class on one side only"


@pytest.mark.chapters
@pytest.mark.xdist_group("readers")
def test_houston_inner_folds_never_split_a_polygon_group(
    smoke_results: Path, data_dir: Path
) -> None:
    record = smoke_record("09_houston", smoke_results)
    inner = record["results"]["inner_folds"]
    y = houston.load(data_dir).y
    groups = scan_order_groups(y, record["results"]["official_resampling"]["polygon_gap"])
    assert inner["n_groups"] == len(np.unique(groups))
    # every probe of every method: official test (LiDAR views) and each outer fold
    assert inner["probe_fits"] >= len(record["results"]["methods"]) * 2
    assert inner["supervised_fits"] > 0
    assert inner["max_shared_groups"] == 0, "an inner split put a polygon group on both sides"
    # the penalties are chosen per fit, on these folds, from the grid
    assert all(
        c in record["results"]["logistic_cs"]
        for cs in record["results"]["raw_chosen_c"].values()
        for c in cs
    )


def test_grouped_logistic_can_choose_its_penalty_by_accuracy() -> None:
    """With ``scoring="accuracy"`` the chosen C has the best mean inner accuracy, refitted."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    y, g = labelled_groups([(30,), (20, 25), (15, 35)])  # class 0: one group, unseen once
    rng = np.random.default_rng(5)
    z = (
        rng.standard_normal((len(y), 4))
        + 0.7 * y[:, None]
        + 0.5 * rng.standard_normal((g.max() + 1, 4))[g]
    )
    grid = (0.01, 0.1, 1.0, 10.0)
    probe = GroupLogisticProbe(grid, 2, seed=1, solver="newton-cg", scoring="accuracy")
    probe.fit(z, y, g)
    x = StandardScaler().fit_transform(z)
    accuracy = {
        c: np.mean(
            [
                LogisticRegression(C=c, solver="newton-cg", max_iter=1000)
                .fit(x[a], y[a])
                .score(x[b], y[b])
                for a, b in probe.inner_splits_
            ]
        )
        for c in grid
    }
    best = max(accuracy.values())
    assert chosen_hyperparameters(probe)["C"] == min(c for c, v in accuracy.items() if v == best)
    # the log-loss of the unseen group's class drives C to the grid's smallest value here
    by_log_loss = GroupLogisticProbe(grid, 2, seed=1, solver="newton-cg").fit(z, y, g)
    assert (
        chosen_hyperparameters(by_log_loss)["C"] == min(grid) < chosen_hyperparameters(probe)["C"]
    )
