"""Group-held-out splits and the group (cluster) bootstrap of R²."""

import numpy as np
import pytest
from sklearn.metrics import r2_score

from aligninfo.groups import bootstrap_r2, holdout_groups, scan_order_groups, weighted_r2


def grouped(n_groups=30, per=7, seed=0):
    rng = np.random.default_rng(seed)
    groups = np.repeat([f"site{i}" for i in range(n_groups)], per)
    y = np.repeat(rng.standard_normal(n_groups), per) + 0.5 * rng.standard_normal(len(groups))
    return groups, y, rng


def test_holdout_takes_whole_groups_in_the_asked_share():
    groups, _, _ = grouped()
    mask = holdout_groups(groups, 0.2, seed=3)
    held, kept = set(groups[mask]), set(groups[~mask])
    assert not held & kept
    assert len(held) == 6 and len(kept) == 24
    assert np.array_equal(mask, holdout_groups(groups, 0.2, seed=3)), "seeded"
    assert not np.array_equal(mask, holdout_groups(groups, 0.2, seed=4))


def test_holdout_keeps_at_least_one_group_each_side():
    groups = np.array(["a", "a", "b"])
    assert holdout_groups(groups, 0.01).sum() >= 1
    assert (~holdout_groups(groups, 0.99)).sum() >= 1
    with pytest.raises(ValueError, match="fraction"):
        holdout_groups(groups, 1.0)
    with pytest.raises(ValueError, match="two groups"):
        holdout_groups(np.array(["a", "a"]), 0.5)


def test_weighted_r2_with_integer_weights_is_r2_of_the_repeated_data():
    rng = np.random.default_rng(1)
    y, pred = rng.standard_normal(20), rng.standard_normal((2, 20))
    w = rng.integers(0, 3, 20)
    w[0] = 1
    rep = np.repeat(np.arange(20), w)
    got = weighted_r2(y, pred, w)
    assert got.shape == (1, 2)
    for j in range(2):
        assert got[0, j] == pytest.approx(r2_score(y[rep], pred[j, rep]))
    assert weighted_r2(y, pred, np.ones(20))[0, 0] == pytest.approx(r2_score(y, pred[0]))


def test_bootstrap_r2_is_paired_centred_and_perfect_when_exact():
    groups, y, rng = grouped()
    good = y + 0.3 * rng.standard_normal(len(y))
    bad = y + 1.0 * rng.standard_normal(len(y))
    r2s = bootstrap_r2(y, [good, bad, y], groups, n_boot=400, seed=0)
    assert r2s.shape == (400, 3)
    assert np.allclose(r2s[:, 2], 1.0)
    assert np.all(r2s[:, 0] > r2s[:, 1]), "paired draws: the better predictor wins every draw"
    full = r2_score(y, good)
    assert abs(np.median(r2s[:, 0]) - full) < 0.05
    assert np.array_equal(r2s, bootstrap_r2(y, [good, bad, y], groups, n_boot=400, seed=0))


def test_bootstrap_spread_reflects_groups_not_samples():
    """Group-level errors make a cluster bootstrap wider than one over samples."""
    groups, y, rng = grouped(n_groups=20, per=20)
    shift = np.repeat(rng.standard_normal(20), 20)
    pred = y + shift
    by_group = bootstrap_r2(y, pred, groups, n_boot=500, seed=0)[:, 0].std()
    by_sample = bootstrap_r2(y, pred, np.arange(len(y)), n_boot=500, seed=0)[:, 0].std()
    assert by_group > 2 * by_sample


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="expected y"):
        weighted_r2(np.zeros(3), np.zeros(4), np.ones(3))
    with pytest.raises(ValueError, match="non-negative"):
        weighted_r2(np.arange(3.0), np.zeros(3), -np.ones(3))
    with pytest.raises(ValueError, match="groups"):
        bootstrap_r2(np.zeros(3), np.zeros(3), np.zeros(4))


def raster_with_polygons():
    """A 20 x 30 label raster (0: unlabelled) with five rectangles, their ids known.

    Two rectangles of class 1 far apart, one of class 2 beside the first (sharing its scan
    lines), one of class 3, and a class-1 rectangle touching another class-1 one.
    """
    classes = np.zeros((20, 30), dtype=int)
    ids = np.full((20, 30), -1)
    boxes = [  # (class, rows, columns)
        (1, slice(2, 6), slice(1, 8)),
        (2, slice(2, 6), slice(10, 14)),
        (1, slice(12, 18), slice(20, 27)),
        (3, slice(8, 11), slice(3, 25)),
        (1, slice(12, 18), slice(27, 29)),  # touches the class-1 box before it
    ]
    for i, (c, rows, cols) in enumerate(boxes):
        classes[rows, cols], ids[rows, cols] = c, i
    return classes, ids


def test_scan_order_groups_recover_the_polygons_of_a_raster():
    classes, ids = raster_with_polygons()
    for order in ("C", "F"):  # row-major and column-major scans
        scan = classes.ravel(order=order)
        labelled = scan > 0
        y, truth = scan[labelled], ids.ravel(order=order)[labelled]
        line = classes.shape[1] if order == "C" else classes.shape[0]
        got = scan_order_groups(y, max_gap=line)
        # same partition as the polygons, except the two touching class-1 boxes, merged
        truth = np.where(truth == 4, 2, truth)
        pairs = set(zip(got.tolist(), truth.tolist(), strict=True))
        assert len(pairs) == len(set(got)) == len(set(truth)) == 4, order
        assert got[0] == 0 and set(got) == set(range(4)), "ids 0.. in order of appearance"


def test_scan_order_groups_split_runs_farther_apart_than_the_gap():
    y = np.array([1, 1, 2, 2, 1, 1, 3, 2, 2, 1])
    assert scan_order_groups(y, 1).tolist() == [0, 0, 1, 1, 2, 2, 3, 4, 4, 5]
    assert scan_order_groups(y, 3).tolist() == [0, 0, 1, 1, 0, 0, 2, 3, 3, 4]
    assert scan_order_groups(y, 5).tolist() == [0, 0, 1, 1, 0, 0, 2, 1, 1, 0]
    with pytest.raises(ValueError, match="max_gap"):
        scan_order_groups(y, 0)
    with pytest.raises(ValueError, match="1-D"):
        scan_order_groups(y[:, None], 2)
