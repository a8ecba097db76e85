"""The LFMC loader: shapes, ranges, the site-held-out split, modalities, damage.

Tests taking ``data`` or ``copy_dir`` run on the committed fake files and on the real data
(skipped without it); those taking ``real`` check the real files' own numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import SOURCES, load_source, set_mode

from aligninfo.data import Standardiser, lfmc
from aligninfo.data.registry import REGISTRY, DataFileError, FileEntry, sha256

DATASET = "lfmc"


@pytest.fixture(scope="module", params=SOURCES)
def data(request: pytest.FixtureRequest) -> lfmc.LFMC:
    """The data set read from the fake files, then from the real ones."""
    return load_source(request, lfmc.load)


@pytest.fixture(scope="module")
def real(data_dir: Path) -> lfmc.LFMC:
    return lfmc.load(data_dir)


def trust(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """Register ``path``'s current hash, so only the loader's own checks can catch it."""
    old = REGISTRY["lfmc"][path.name]
    monkeypatch.setitem(REGISTRY["lfmc"], path.name, FileEntry(old.url, sha256(path)))


def test_real_size(real: lfmc.LFMC) -> None:
    assert real.n == lfmc.N_SAMPLES == 2313


def test_shapes_and_dtypes(data: lfmc.LFMC) -> None:
    n = data.n
    assert data.x.shape == (n, 3, 18) and data.x.dtype == np.float64
    assert data.y.shape == (n,) and data.y.dtype == np.float64
    assert data.target is data.y  # the name chapter 8 reads
    assert data.months.shape == (n, 3) and data.months.dtype == np.int64
    assert data.sites.shape == (n,) and data.sites.dtype.kind == "U"
    assert data.latlon.shape == (n, 2) and data.latlon.dtype == np.float64
    assert data.is_test.shape == (n,) and data.is_test.dtype == np.bool_
    for array in (data.x, data.y, data.months, data.sites, data.latlon, data.is_test):
        assert not array.flags.writeable


def test_real_target_range(real: lfmc.LFMC) -> None:
    assert round(float(real.y.min()), 1) == 31.7
    assert round(float(real.y.max()), 1) == 319.2


def test_value_ranges(data: lfmc.LFMC) -> None:
    assert 20 < data.y.min() and data.y.max() < 400  # moisture, % of dry weight
    assert data.months.min() >= 0 and data.months.max() <= 11
    lat, lon = data.latlon.T  # contiguous US
    assert (lat > 24).all() and (lat < 50).all() and (lon > -125).all() and (lon < -90).all()
    temperature = data.modality("context")[:, :, 0]
    assert 230 < temperature.min() and temperature.max() < 320  # kelvin
    ndvi = data.x[:, :, data.bands.index("NDVI")]
    assert -1 <= ndvi.min() and ndvi.max() <= 1
    assert np.isfinite(data.x).all()


def test_band_names_and_modalities(data: lfmc.LFMC) -> None:
    assert data.bands == (
        "VV", "VH", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B11", "B12",
        "temperature_2m", "total_precipitation", "elevation", "slope", "NDVI",
    )  # fmt: skip
    indices = sorted(i for name in lfmc.MODALITIES for i in data.band_indices(name))
    assert indices == list(range(18))  # the three modalities partition the bands
    assert "NDVI" in lfmc.MODALITIES["optical"]
    assert data.band_indices("sar") == [0, 1]
    assert data.band_indices("context") == [13, 14, 15, 16]
    with pytest.raises(KeyError, match="lidar"):
        data.modality("lidar")


def test_modality_arrays(data: lfmc.LFMC) -> None:
    n = data.n
    optical = data.modality("optical")
    assert optical.shape == (n, 3, 12)
    np.testing.assert_array_equal(optical[:, :, -1], data.x[:, :, 17])
    np.testing.assert_array_equal(data.modality("sar"), data.x[:, :, :2])
    flat = data.modality("context", flatten=True)
    names = data.feature_names("context")
    assert flat.shape == (n, 12) and len(names) == 12
    assert names[5] == "total_precipitation@t1"
    np.testing.assert_array_equal(flat[:, 5], data.x[:, 1, 14])


def test_ndvi_is_derived_from_optical_bands(data: lfmc.LFMC) -> None:
    red, nir = data.x[:, :, data.bands.index("B4")], data.x[:, :, data.bands.index("B8")]
    ndvi = data.x[:, :, data.bands.index("NDVI")]
    assert np.corrcoef(ndvi.ravel(), ((nir - red) / (nir + red)).ravel())[0, 1] > 0.9


def test_real_test_share(real: lfmc.LFMC) -> None:
    assert 0.30 < real.is_test.mean() < 0.34


def test_split_holds_out_whole_sites(source: Path) -> None:
    data = lfmc.load(source)
    train_sites, test_sites = set(data.sites[data.train_idx]), set(data.sites[data.test_idx])
    assert train_sites and test_sites and not train_sites & test_sites
    split = json.loads((source / "lfmc" / "train_test_split.json").read_text())
    assert {split[s] for s in test_sites} == {"test"}
    assert {split[s] for s in train_sites} == {"train"}
    assert len(data.train_idx) + len(data.test_idx) == data.n


def test_standardiser_uses_training_rows_only(data: lfmc.LFMC) -> None:
    x, train = data.modality("optical"), data.train_idx
    scaler = Standardiser.fit(x, train)
    assert scaler.mean.shape == (12,)  # per band, pooled over the 3 steps
    z = scaler.transform(x)
    np.testing.assert_allclose(z[train].mean(axis=(0, 1)), 0, atol=1e-9)
    np.testing.assert_allclose(z[train].std(axis=(0, 1)), 1, atol=1e-9)
    assert np.abs(z[data.test_idx].mean(axis=(0, 1))).max() > 1e-3
    changed = x.copy()
    changed[data.test_idx] += 1e6  # test rows must not move the statistics
    again = Standardiser.fit(changed, train)
    np.testing.assert_allclose(again.mean, scaler.mean, rtol=1e-12)
    np.testing.assert_allclose(again.scale, scaler.scale, rtol=1e-12)
    flat = Standardiser.fit(data.modality("sar", flatten=True), train)
    assert flat.mean.shape == (6,)  # per feature when flattened


def test_truncated_file_in_read_only_dir(copy_dir: Path) -> None:
    path = copy_dir / "lfmc" / "s1_s2_era5_srtm.npy"
    path.write_bytes(path.read_bytes()[:1000])
    set_mode(path.parent, 0o555, 0o444)
    with pytest.raises(DataFileError, match=r"s1_s2_era5_srtm\.npy has SHA-256 .* read-only"):
        lfmc.load(copy_dir)
    assert path.stat().st_size == 1000


def test_missing_file_in_read_only_dir(copy_dir: Path) -> None:
    (copy_dir / "lfmc" / "site.npy").unlink()
    set_mode(copy_dir / "lfmc", 0o555, 0o444)
    with pytest.raises(DataFileError, match=r"site\.npy is missing"):
        lfmc.load(copy_dir)


def test_unreadable_npy_is_named(copy_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = copy_dir / "lfmc" / "latlon.npy"
    path.write_bytes(path.read_bytes()[:200])
    trust(monkeypatch, path)
    with pytest.raises(DataFileError, match=r"latlon\.npy: cannot be read"):
        lfmc.load(copy_dir)


def test_wrong_shape_is_named(copy_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = copy_dir / "lfmc" / "target.npy"
    n = len(np.load(path))
    np.save(path, np.load(path)[:-1])
    trust(monkeypatch, path)
    with pytest.raises(
        DataFileError, match=rf"target\.npy: expected shape \({n},\), got \({n - 1},\)"
    ):
        lfmc.load(copy_dir)


def test_wrong_number_of_bands_is_named(copy_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = copy_dir / "lfmc" / "s1_s2_era5_srtm.npy"
    np.save(path, np.load(path)[:, :, :17])
    trust(monkeypatch, path)
    with pytest.raises(DataFileError, match=r"srtm\.npy: expected shape \(n, 3, 18\), got"):
        lfmc.load(copy_dir)


def test_nan_is_named(copy_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = copy_dir / "lfmc" / "s1_s2_era5_srtm.npy"
    x = np.load(path)
    x[7, 1, 3] = np.nan
    np.save(path, x)
    trust(monkeypatch, path)
    with pytest.raises(DataFileError, match=r"s1_s2_era5_srtm\.npy: expected no NaN, found 1"):
        lfmc.load(copy_dir)


def test_split_inconsistent_with_json(copy_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = copy_dir / "lfmc" / "is_test.npy"
    flags = np.load(path)
    flags[0] = 1 - flags[0]
    np.save(path, flags)
    trust(monkeypatch, path)
    with pytest.raises(DataFileError, match=r"is_test\.npy disagrees with .* on 1 samples"):
        lfmc.load(copy_dir)
