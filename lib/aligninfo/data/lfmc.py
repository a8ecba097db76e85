"""Live fuel moisture content (LFMC): Sentinel-1 + Sentinel-2 (+ ERA5, SRTM) time series.

2313 samples from Presto's ``data/fuel_moisture`` (Tseng et al. 2023; labels from the US National
Fuel Moisture Database as compiled by Rao et al. 2020). Each sample is the 3-month window ending
at a field measurement, 18 bands aggregated over an 80 m neighbourhood of the site, with the live
fuel moisture content (%) as regression target and an official split that holds out whole sites.

Example::

    from aligninfo.data import lfmc
    data = lfmc.load()
    sar = data.modality("sar")  # (2313, 3, 2): VV, VH in dB at 3 monthly steps
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aligninfo.data.reading import frozen, read_npy
from aligninfo.data.registry import DataDir, DataFileError, fetch

DATASET = "lfmc"
N_SAMPLES = 2313
"""Samples in the registered files (the loader takes the count from the files themselves)."""
N_STEPS = 3

BANDS: tuple[str, ...] = (
    "VV", "VH",
    "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B11", "B12",
    "temperature_2m", "total_precipitation",
    "elevation", "slope",
    "NDVI",
)  # fmt: skip
"""Band names in file order: Sentinel-1 (dB), Sentinel-2 (reflectance x 1e4), ERA5 (K, m),
SRTM (m, degrees), NDVI (derived from Sentinel-2 B8 and B4)."""

MODALITIES: dict[str, tuple[str, ...]] = {
    "optical": ("B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B11", "B12", "NDVI"),
    "sar": ("VV", "VH"),
    "context": ("temperature_2m", "total_precipitation", "elevation", "slope"),
}
"""Bands of each modality: Sentinel-2 (with NDVI), Sentinel-1, and ERA5 + SRTM context."""


@dataclass(frozen=True, eq=False)
class LFMC:
    """The LFMC data set; arrays are read-only and indexed by sample on axis 0.

    Attributes:
        x: (n, 3, 18) float64, the 18 :data:`BANDS` at 3 monthly steps, raw units.
        y: (n,) float64, the target: live fuel moisture content in % (about 31.7 to 319.2).
        months: (n, 3) int64, month index 0-11 of each step, as in the source files.
        sites: (n,) unicode, name of the sampling site.
        latlon: (n, 2) float64, latitude and longitude in degrees.
        is_test: (n,) bool, the official split (True = test, about 32 %); whole sites held out.
        bands: Names of the last axis of ``x``.
    """

    x: np.ndarray
    y: np.ndarray
    months: np.ndarray
    sites: np.ndarray
    latlon: np.ndarray
    is_test: np.ndarray
    bands: tuple[str, ...] = BANDS

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.y.shape[0])

    @property
    def target(self) -> np.ndarray:
        """The same array as :attr:`y` (the name chapter 8 reads)."""
        return self.y

    @property
    def train_idx(self) -> np.ndarray:
        """Indices of the official training samples, ascending."""
        return np.flatnonzero(~self.is_test)

    @property
    def test_idx(self) -> np.ndarray:
        """Indices of the official test samples, ascending."""
        return np.flatnonzero(self.is_test)

    def band_indices(self, modality: str) -> list[int]:
        """Return the positions in :attr:`bands` of a modality's bands.

        Args:
            modality: ``"optical"``, ``"sar"`` or ``"context"``.

        Returns:
            Indices into the last axis of :attr:`x`, in file order.

        Raises:
            KeyError: For an unknown modality.
        """
        if modality not in MODALITIES:
            known = list(MODALITIES)
            raise KeyError(f"unknown LFMC modality {modality!r}; expected one of {known}")
        return [self.bands.index(band) for band in MODALITIES[modality]]

    def modality(self, modality: str, flatten: bool = False) -> np.ndarray:
        """Return one modality's bands.

        Args:
            modality: ``"optical"``, ``"sar"`` or ``"context"``.
            flatten: If True, return (n, 3 * n_bands) with the step as the slower index.

        Returns:
            (n, 3, n_bands) or (n, 3 * n_bands) float64 array (a copy), raw units.
        """
        values = self.x[:, :, self.band_indices(modality)]
        return values.reshape(self.n, -1) if flatten else values

    def feature_names(self, modality: str) -> list[str]:
        """Return the names of the columns of ``modality(modality, flatten=True)``.

        Args:
            modality: ``"optical"``, ``"sar"`` or ``"context"``.

        Returns:
            Names ``"<band>@t<step>"``, step 0 being the oldest month.
        """
        return [f"{band}@t{step}" for step in range(N_STEPS) for band in MODALITIES[modality]]


def load(data_dir: DataDir = None) -> LFMC:
    """Fetch (if needed), check and load the LFMC data set.

    Args:
        data_dir: Data directory holding ``lfmc/``; defaults to ``$ALIGNINFO_DATA`` or pooch's
            cache (see :func:`aligninfo.data.registry.fetch`).

    Returns:
        The data set, with read-only arrays.

    Raises:
        DataFileError: If a file is missing, damaged, of the wrong shape or dtype (every file
            must hold as many samples as ``s1_s2_era5_srtm.npy``), holds NaN, or if the
            per-sample split disagrees with ``train_test_split.json``.
    """
    x = read_npy(DATASET, "s1_s2_era5_srtm.npy", (None, N_STEPS, len(BANDS)), "f", data_dir)
    n = x.shape[0]
    y = read_npy(DATASET, "target.npy", (n,), "f", data_dir)
    months = read_npy(DATASET, "month.npy", (n, N_STEPS), "iu", data_dir)
    sites = read_npy(DATASET, "site.npy", (n,), "U", data_dir)
    latlon = read_npy(DATASET, "latlon.npy", (n, 2), "f", data_dir)
    is_test = read_npy(DATASET, "is_test.npy", (n,), "iub", data_dir)
    _check_values(months, is_test)
    _check_split(sites, is_test.astype(bool), fetch(DATASET, "train_test_split.json", data_dir))
    return LFMC(
        x=frozen(x),
        y=frozen(y),
        months=frozen(months.astype(np.int64)),
        sites=frozen(sites),
        latlon=frozen(latlon),
        is_test=frozen(is_test.astype(bool)),
    )


def _check_values(months: np.ndarray, is_test: np.ndarray) -> None:
    """Stop if month indices leave 0-11 or the split flags are not 0/1."""
    if months.min() < 0 or months.max() > 11:
        raise DataFileError("lfmc/month.npy: expected month indices 0-11")
    if not np.isin(is_test, (0, 1)).all():
        raise DataFileError("lfmc/is_test.npy: expected only 0 (train) and 1 (test)")


def _check_split(sites: np.ndarray, is_test: np.ndarray, split_path: Path) -> None:
    """Stop unless every sample's split matches its site's split in ``train_test_split.json``."""
    try:
        split = json.loads(split_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataFileError(f"{split_path}: cannot be read as JSON ({err})") from err
    missing = sorted(set(sites.tolist()) - set(split))
    if missing:
        raise DataFileError(f"{split_path}: expected every site of site.npy, missing {missing[:3]}")
    expected = np.array([split[site] == "test" for site in sites.tolist()])
    wrong = int((expected != is_test).sum())
    if wrong:
        raise DataFileError(
            f"lfmc/is_test.npy disagrees with {split_path} on {wrong} samples; "
            "expected the split of each sample's site"
        )
