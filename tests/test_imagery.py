"""Tiling into sub-patches, per-patch quantities and the within-group R²."""

from __future__ import annotations

import numpy as np
import pytest

from aligninfo.imagery import (
    QUANTITIES,
    band_quantity,
    normalised_difference,
    tile,
    within_group_correlation,
)

BANDS = ("B05", "B08", "B8A")


def test_tile_matches_an_explicit_loop_and_names_the_source_image() -> None:
    rng = np.random.default_rng(0)
    images = rng.standard_normal((3, 2, 11, 9))
    patches, source = tile(images, size=4, stride=3)
    expected = [
        (n, images[n, :, i : i + 4, j : j + 4])
        for n in range(3)
        for i in range(0, 8, 3)
        for j in range(0, 6, 3)
    ]
    assert patches.shape == (len(expected), 2, 4, 4)
    for (n, patch), got, s in zip(expected, patches, source, strict=True):
        assert s == n and np.array_equal(got, patch)


@pytest.mark.parametrize("size, stride", [(0, 1), (12, 1), (4, 0)])
def test_tile_refuses_bad_sizes(size: int, stride: int) -> None:
    with pytest.raises(ValueError, match="size|stride"):
        tile(np.zeros((1, 1, 10, 10)), size, stride)


def test_normalised_difference_by_hand_and_zero_sums() -> None:
    x = np.zeros((2, 3, 1, 2))
    x[0, 2] = [[3.0, 1.0]]  # B8A
    x[0, 0] = [[1.0, 1.0]]  # B05
    # pixel (3 - 1) / 4 = 0.5 and (1 - 1) / 2 = 0; the second patch is all zero (counts as 0)
    np.testing.assert_allclose(normalised_difference(x, BANDS, "B8A", "B05"), [0.25, 0.0])
    np.testing.assert_allclose(band_quantity(x, "red_edge", BANDS), [0.25, 0.0])


def test_quantities_read_their_own_sensor_bands() -> None:
    rng = np.random.default_rng(1)
    s1 = rng.normal(-15, 3, (4, 2, 5, 5))
    expected = (s1[:, 1] - s1[:, 0]).mean(axis=(1, 2))
    np.testing.assert_allclose(band_quantity(s1, "cross_ratio", ("VV", "VH")), expected)
    assert {q.sensor for q in QUANTITIES.values()} == {"s1", "s2"}
    with pytest.raises(ValueError, match="band 'VH'"):
        band_quantity(s1, "cross_ratio", ("VV", "HH"))
    with pytest.raises(ValueError, match="unknown quantity"):
        band_quantity(s1, "ndvi", ("VV", "VH"))


def test_within_group_correlation_matches_numpy_and_ignores_group_offsets() -> None:
    rng = np.random.default_rng(2)
    groups = np.repeat([2, 0, 1], 30)
    y = rng.standard_normal(90) + 5 * groups
    pred = y + rng.standard_normal(90) + np.array([10.0, -3.0, 7.0])[groups]
    expected = [np.corrcoef(y[groups == g], pred[groups == g])[0, 1] for g in (0, 1, 2)]
    np.testing.assert_allclose(within_group_correlation(y, pred, groups), expected)
    assert np.corrcoef(y, pred)[0, 1] < min(expected)  # the offsets blur the pooled one
    constant = within_group_correlation(y, np.where(groups == 0, 1.0, pred), groups)
    assert constant[0] == 0 and constant[1] == pytest.approx(expected[1])
    with pytest.raises(ValueError, match="constant in group"):
        within_group_correlation(np.repeat([1.0, 2.0], 3), np.arange(6.0), np.repeat([0, 1], 3))
    with pytest.raises(ValueError, match=r"\(n,\) each"):
        within_group_correlation(y, pred[:-1], groups)
