"""Image patches of two sensors: tiling into sub-patches, and quantities one sensor measures.

::

    s2, s1 = ...                          # (n, 12, 120, 120) reflectance x 1e4, (n, 2, 120, 120) dB
    x1, patch = tile(s2, size=16, stride=8)   # (n * 196, 12, 16, 16), the patch of each
    x2, _ = tile(s1, size=16, stride=8)
    ndre = band_quantity(x1, "red_edge", S2_BANDS)   # (n * 196,)

The quantities of :data:`QUANTITIES` are computed from one sensor's pixels: a red-edge index and
the vegetation index NDVI from Sentinel-2, the VH / VV ratio from Sentinel-1. Radar backscatter
also responds to vegetation (volume scattering), so NDVI may be partly seen by both sensors;
whether the other sensor predicts each quantity is a measurement (chapter 13), not an
assumption.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


def tile(images: NDArray[np.floating], size: int, stride: int) -> tuple[NDArray, NDArray]:
    """Cut every image into square sub-patches on a regular grid.

    Sub-patches start at ``0, stride, 2 * stride, ...`` along each axis and lie wholly inside
    the image (a strip narrower than ``size`` at the right or bottom edge is not covered).

    Args:
        images: ``(n, channels, height, width)``.
        size: Side of a sub-patch, in pixels.
        stride: Step between sub-patches (``stride < size``: they overlap).

    Returns:
        ``(n * m, channels, size, size)`` sub-patches, image by image in row-major order, and
        ``(n * m,)`` the index of the image each comes from.
    """
    if images.ndim != 4:
        raise ValueError(f"images must be (n, channels, height, width), got {images.shape}")
    height, width = images.shape[2:]
    if not 1 <= size <= min(height, width):
        raise ValueError(f"size must be in [1, {min(height, width)}], got {size}")
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    rows, cols = range(0, height - size + 1, stride), range(0, width - size + 1, stride)
    cut = [images[:, :, i : i + size, j : j + size] for i in rows for j in cols]
    patches = np.stack(cut, axis=1).reshape(-1, images.shape[1], size, size)
    return patches, np.repeat(np.arange(len(images)), len(cut))


def _band(x: NDArray, bands: Sequence[str], name: str) -> Array:
    if name not in bands:
        raise ValueError(f"band {name!r} is not among {list(bands)}")
    return np.asarray(x[:, list(bands).index(name)], dtype=np.float64)


def normalised_difference(x: NDArray, bands: Sequence[str], a: str, b: str) -> Array:
    """Mean over each patch's pixels of ``(a - b) / (a + b)``.

    Args:
        x: ``(n, channels, h, w)`` non-negative values (e.g. reflectance).
        bands: Name of each channel.
        a: First band.
        b: Second band.

    Returns:
        ``(n,)``; a pixel where ``a + b = 0`` counts as 0.
    """
    va, vb = _band(x, bands, a), _band(x, bands, b)
    total = va + vb
    ratio = np.divide(va - vb, total, out=np.zeros_like(total), where=total != 0)
    return ratio.mean(axis=(1, 2))


@dataclass(frozen=True)
class Quantity:
    """A per-patch quantity computed from one sensor's bands.

    Attributes:
        sensor: ``"s2"`` or ``"s1"``: the sensor whose pixels define it.
        label: How the book names it.
        compute: ``(x (n, channels, h, w), bands) -> (n,)``.
    """

    sensor: str
    label: str
    compute: Callable[[NDArray, Sequence[str]], Array]


QUANTITIES: Mapping[str, Quantity] = {
    "red_edge": Quantity(
        "s2",
        "red-edge index (B8A - B05) / (B8A + B05)",
        lambda x, bands: normalised_difference(x, bands, "B8A", "B05"),
    ),
    "vegetation": Quantity(
        "s2",
        "vegetation index NDVI (B08 - B04) / (B08 + B04)",
        lambda x, bands: normalised_difference(x, bands, "B08", "B04"),
    ),
    "cross_ratio": Quantity(
        "s1",
        "VH / VV ratio (mean of VH - VV, dB)",
        lambda x, bands: (_band(x, bands, "VH") - _band(x, bands, "VV")).mean(axis=(1, 2)),
    ),
}
"""The quantities chapter 13 probes, by name."""


def band_quantity(x: NDArray, name: str, bands: Sequence[str]) -> Array:
    """The quantity ``name`` of :data:`QUANTITIES` for every patch.

    Args:
        x: ``(n, channels, h, w)`` patches of the quantity's sensor.
        name: A key of :data:`QUANTITIES`.
        bands: Name of each channel of ``x``.

    Returns:
        ``(n,)``.
    """
    if name not in QUANTITIES:
        raise ValueError(f"unknown quantity {name!r}; choose from {sorted(QUANTITIES)}")
    if x.ndim != 4 or x.shape[1] != len(bands):
        raise ValueError(
            f"x must be (n, {len(bands)}, h, w) for bands {list(bands)}, got {x.shape}"
        )
    return QUANTITIES[name].compute(x, bands)


def within_group_correlation(y: NDArray, pred: NDArray, groups: NDArray) -> Array:
    """Pearson correlation of ``pred`` with ``y`` inside each group (image), by group.

    A probe scored on held-out images is scored mostly on how far apart the images are (their
    means); this scores how well it follows the variation inside each one. A correlation is
    bounded, so an image whose values hardly vary does not dominate a mean over images, as its
    R² would.

    Args:
        y: ``(n,)`` true values.
        pred: ``(n,)`` predictions.
        groups: ``(n,)`` group (image) of each value.

    Returns:
        ``(n_groups,)`` correlations, in the order of ``np.unique(groups)``; 0 for a group
        whose predictions are constant.
    """
    y, pred, groups = np.asarray(y, float), np.asarray(pred, float), np.asarray(groups)
    if not y.shape == pred.shape == groups.shape or y.ndim != 1:
        shapes = (y.shape, pred.shape, groups.shape)
        raise ValueError(f"y, pred and groups must be (n,) each, got {shapes}")
    out = []
    for g in np.unique(groups):
        a, b = y[groups == g], pred[groups == g]
        a, b = a - a.mean(), b - b.mean()
        if not a.any():
            raise ValueError(f"y is constant in group {g!r}: its correlation is undefined")
        norm = np.sqrt((a @ a) * (b @ b))
        out.append(float(a @ b / norm) if norm > 0 else 0.0)
    return np.array(out)
