"""Real Earth-observation data: fetched by address and SHA-256, checked, and standardised.

Modules:
    registry: addresses and hashes of every file, and :func:`fetch`.
    reading: the loaders' shared reading (``.npy``, ``.mat``), checking and freezing of arrays.
    lfmc: Sentinel-1/Sentinel-2 (+ ERA5, SRTM) time series with live fuel moisture targets.
    houston: Houston 2013 hyperspectral + LiDAR pixels, 15 land-cover classes.
    raster: paired patches cut from two sensors' rasters (rasterio, the ``data`` extra), imported
        on first use so that the other loaders work without rasterio.
    bigearthnet: BigEarthNet v1 Sentinel-2 / Sentinel-1 patch pairs, labels and official
        splits, and the real example pairs of ``bigearthnet-common`` (the ``data`` extra),
        imported on first use likewise.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from aligninfo.data import houston, lfmc
from aligninfo.data.registry import DataFileError, fetch

__all__ = ["DataFileError", "Standardiser", "bigearthnet", "fetch", "houston", "lfmc", "raster"]

_LAZY = ("raster", "bigearthnet")
"""Submodules that need the optional ``data`` extra, imported when first named."""


def __getattr__(name: str) -> ModuleType:
    """Import an optional submodule (``aligninfo.data.raster``) on first access."""
    if name in _LAZY:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True, eq=False)
class Standardiser:
    """Zero-mean, unit-variance scaling per feature, with statistics from training rows only.

    Statistics are taken over every axis but the last: per feature for (n, features) arrays, per
    band (pooled over time steps) for (n, steps, bands) time series.

    Attributes:
        mean: (features,) mean of the training rows.
        scale: (features,) standard deviation of the training rows; 1 where it is 0.
    """

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, train_idx: np.ndarray) -> Standardiser:
        """Fit on the rows ``x[train_idx]`` only.

        Args:
            x: (n, ..., features) array of all rows.
            train_idx: Integer indices (or boolean mask) of the training rows.

        Returns:
            The fitted standardiser.

        Raises:
            ValueError: If ``train_idx`` selects no rows.
        """
        rows = np.asarray(x, dtype=np.float64)[train_idx]
        if rows.shape[0] == 0:
            raise ValueError("cannot fit a Standardiser on zero training rows")
        axes = tuple(range(rows.ndim - 1))
        std = rows.std(axis=axes)
        return cls(mean=rows.mean(axis=axes), scale=np.where(std > 0, std, 1.0))

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Standardise any rows (training or not) with the training statistics.

        Args:
            x: (m, ..., features) array.

        Returns:
            float64 array of the same shape.
        """
        return (np.asarray(x, dtype=np.float64) - self.mean) / self.scale

    @classmethod
    def fit_transform(cls, x: np.ndarray, train_idx: np.ndarray) -> np.ndarray:
        """Fit on ``x[train_idx]`` and standardise all of ``x``.

        Args:
            x: (n, ..., features) array of all rows.
            train_idx: Integer indices (or boolean mask) of the training rows.

        Returns:
            float64 array of the same shape as ``x``.
        """
        return cls.fit(x, train_idx).transform(x)
