"""Grouped early stopping of the MLP probe for classes: no class is held out of training, every
class with two groups or more is validated, the epochs run are reported."""

from __future__ import annotations

import numpy as np
import pytest

from aligninfo.cvprobes import MLPProbe, chosen_hyperparameters, class_holdout
from aligninfo.groups import holdout_groups


def polygons(groups_per_class: list[int], per_group: int = 15, seed: int = 0):
    """Class-pure groups (polygons): ``groups_per_class[c]`` groups of class ``c``.

    Features: the class centre plus a group offset plus noise, so classes are learnable.
    """
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(groups_per_class)), np.multiply(groups_per_class, per_group))
    groups = np.repeat(np.arange(sum(groups_per_class)), per_group)
    centres = 4.0 * rng.standard_normal((len(groups_per_class), 6))
    offsets = 0.5 * rng.standard_normal((groups.max() + 1, 6))
    z = centres[y] + offsets[groups] + rng.standard_normal((len(y), 6))
    return z, y, groups


def test_class_holdout_keeps_every_class_in_training_and_validates_those_it_can() -> None:
    counts = [1, 2, 5, 1, 8]
    _, y, groups = polygons(counts)
    for seed in range(20):
        held = class_holdout(groups, y, 0.25, seed)
        assert set(y[~held]) == set(range(5)), "every class keeps a group in training"
        assert set(y[held]) == {1, 2, 4}, "classes with two groups or more are validated"
        assert not set(groups[held]) & set(groups[~held]), "whole groups only"
        per_class = [len(np.unique(groups[held & (y == c)])) for c in range(5)]
        assert per_class == [0, 1, 1, 0, 2]  # round(0.25 m), at least 1, at most m - 1


def test_class_holdout_with_groups_that_mix_classes() -> None:
    y = np.array([0, 1, 0, 1, 2, 2, 0, 2])
    groups = np.array([0, 0, 1, 1, 2, 2, 3, 4])  # group 0 and 1 hold classes 0 and 1
    for seed in range(20):
        held = class_holdout(groups, y, 0.5, seed)
        assert set(y[~held]) == {0, 1, 2}
        assert not set(groups[held]) & set(groups[~held])
    with pytest.raises(ValueError, match="fraction"):
        class_holdout(groups, y, 1.0)
    with pytest.raises(ValueError, match=r"\(n,\)"):
        class_holdout(groups, y[:-1], 0.5)


def test_the_old_group_holdout_can_hold_out_a_class_entirely() -> None:
    """What the probe used before: a random share of groups, blind to classes."""
    _, y, groups = polygons([1, 2, 5, 1, 8])
    lost = [s for s in range(20) if set(y[~holdout_groups(groups, 0.25, s)]) != set(range(5))]
    assert lost, "the constructed groups exercise the case the fix is for"


def test_mlp_probe_trains_on_a_single_group_class_and_reports_its_epochs() -> None:
    z, y, groups = polygons([1, 3, 4, 1], seed=1)
    for seed in range(5):
        probe = MLPProbe("classification", patience=4, seed=seed).fit(z, y, groups)
        ((train, val),) = probe.inner_splits_
        assert set(y[train]) == {0, 1, 2, 3} and set(y[val]) == {1, 2}
        assert probe.validation_ == "groups"
        assert probe.unvalidated_classes_.tolist() == [0, 3]
        assert probe.n_iter_ > probe.patience  # epochs run: at least patience + 1, not 1
        assert chosen_hyperparameters(probe) == {"epochs": float(probe.n_iter_)}


def test_mlp_probe_falls_back_to_a_sample_split_and_says_so() -> None:
    z, y, groups = polygons([1, 1, 1], per_group=40)
    with pytest.warns(UserWarning, match="falling back"):
        probe = MLPProbe("classification", seed=0).fit(z, y, groups)
    assert probe.validation_ == "samples" and probe.inner_splits_ is None
    assert np.mean(probe.predict(z) == y) > 0.9
    regression = MLPProbe("regression", seed=0).fit(z, z[:, 0], groups)  # groups, no classes
    assert regression.validation_ == "groups" and regression.unvalidated_classes_.size == 0
