"""The Houston 2013 loader: shapes, classes, stratified folds, standardiser, damage.

Tests taking ``data`` or ``copy_dir`` run on the committed fake files and on the real data
(skipped without it); those taking ``real`` check the real files' own numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
from conftest import SOURCES, load_source, set_mode

from aligninfo.data import Standardiser, houston
from aligninfo.data.registry import REGISTRY, DataFileError, FileEntry, sha256

DATASET = "houston2013"


@pytest.fixture(scope="module", params=SOURCES)
def data(request: pytest.FixtureRequest) -> houston.Houston:
    """The pixels read from the fake files, then from the real ones."""
    return load_source(request, houston.load)


@pytest.fixture(scope="module")
def real(data_dir: Path) -> houston.Houston:
    return houston.load(data_dir)


def rewrite(monkeypatch: pytest.MonkeyPatch, path: Path, content: dict[str, np.ndarray]) -> None:
    """Replace a .mat file and register its new hash, so only the loader's checks can catch it."""
    scipy.io.savemat(path, content)
    old = REGISTRY["houston2013"][path.name]
    monkeypatch.setitem(REGISTRY["houston2013"], path.name, FileEntry(old.url, sha256(path)))


def test_real_sizes(real: houston.Houston) -> None:
    assert real.n == houston.N_TRAIN == 2832 and len(real.y_test) == houston.N_TEST == 12197
    assert real.hsi.std(axis=0).min() > 0  # no constant band


def test_shapes_dtypes_and_ranges(data: houston.Houston) -> None:
    n, n_test = data.n, len(data.y_test)
    assert data.hsi.shape == (n, 144) and data.hsi.dtype == np.float64
    assert data.lidar.shape == (n, 21) and data.lidar.dtype == np.float64
    assert data.lidar_test.shape == (n_test, 21) and data.lidar_test.dtype == np.float64
    assert data.y.shape == (n,) and data.y.dtype == np.int64
    assert data.y_test.shape == (n_test,) and data.y_test.dtype == np.int64
    for x in (data.hsi, data.lidar, data.lidar_test):
        assert x.min() >= 0 and x.max() <= 1 and not x.flags.writeable
    assert not data.y.flags.writeable and not data.y_test.flags.writeable


def test_real_class_counts(real: houston.Houston) -> None:
    counts = np.bincount(real.y, minlength=15)
    assert len(counts) == 15 and counts.min() == 181 and counts.max() == 198
    assert counts[0] == 198  # Healthy grass, first class of TrLabel (label 1)


def test_classes(data: houston.Houston) -> None:
    assert data.class_names == (
        "Healthy grass", "Stressed grass", "Synthetic grass", "Trees", "Soil", "Water",
        "Residential", "Commercial", "Road", "Highway", "Railway", "Parking Lot 1",
        "Parking Lot 2", "Tennis Court", "Running Track",
    )  # fmt: skip
    assert set(np.unique(data.y)) == set(np.unique(data.y_test)) == set(range(15))


def test_modality(data: houston.Houston) -> None:
    assert data.modality("hsi") is data.hsi and data.modality("lidar") is data.lidar
    with pytest.raises(KeyError, match="sar"):
        data.modality("sar")


def test_folds_are_disjoint_stratified_and_seeded(data: houston.Houston) -> None:
    k = 2  # the fake files hold two pixels per class
    folds = data.folds(n_splits=k, seed=3)
    assert len(folds) == k
    tests = np.concatenate([test for _, test in folds])
    assert np.array_equal(np.sort(tests), np.arange(data.n))  # each pixel tested exactly once
    expected = np.bincount(data.y) / k
    for train, test in folds:
        assert not set(train) & set(test) and len(train) + len(test) == data.n
        assert np.abs(np.bincount(data.y[test], minlength=15) - expected).max() <= 1
    again = data.folds(n_splits=k, seed=3)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again, strict=True))
    other = data.folds(n_splits=k, seed=4)
    assert not np.array_equal(folds[0][1], other[0][1])


def test_standardiser_per_feature_on_training_fold(data: houston.Houston) -> None:
    train, test = data.folds(n_splits=2, seed=0)[0]
    scaler = Standardiser.fit(data.hsi, train)
    assert scaler.mean.shape == (144,)
    np.testing.assert_allclose(scaler.mean, data.hsi[train].mean(axis=0))
    assert not np.allclose(scaler.mean, data.hsi.mean(axis=0), rtol=0, atol=1e-9)
    z = Standardiser.fit_transform(data.lidar, train)
    np.testing.assert_allclose(z[train].mean(axis=0), 0, atol=1e-9)
    assert np.abs(z[test].mean(axis=0)).max() > 1e-3
    with pytest.raises(ValueError, match="zero training rows"):
        Standardiser.fit(data.hsi, np.array([], dtype=int))


def test_truncated_file_in_read_only_dir(copy_dir: Path) -> None:
    path = copy_dir / "houston2013" / "HSI_TrSet.mat"
    path.write_bytes(path.read_bytes()[:5000])
    set_mode(path.parent, 0o555, 0o444)
    with pytest.raises(DataFileError, match=r"HSI_TrSet\.mat has SHA-256 .* read-only"):
        houston.load(copy_dir)
    assert path.stat().st_size == 5000


def test_unreadable_mat_is_named(copy_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = copy_dir / "houston2013" / "LiDAR_TeSet.mat"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    old = REGISTRY["houston2013"][path.name]
    monkeypatch.setitem(REGISTRY["houston2013"], path.name, FileEntry(old.url, sha256(path)))
    with pytest.raises(DataFileError, match=r"LiDAR_TeSet\.mat: cannot be read"):
        houston.load(copy_dir)


def test_wrong_shape_is_named(copy_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = copy_dir / "houston2013" / "LiDAR_TrSet.mat"
    n = len(scipy.io.loadmat(path)["LiDAR_TrSet"])
    rewrite(monkeypatch, path, {"LiDAR_TrSet": np.zeros((n, 20))})
    with pytest.raises(DataFileError, match=r"LiDAR_TrSet\.mat:LiDAR_TrSet: expected shape"):
        houston.load(copy_dir)


def test_features_and_labels_of_other_lengths_are_named(
    copy_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = copy_dir / "houston2013" / "HSI_TrSet.mat"
    hsi = scipy.io.loadmat(path)["HSI_TrSet"]
    rewrite(monkeypatch, path, {"HSI_TrSet": hsi[1:]})
    n = len(hsi)
    with pytest.raises(
        DataFileError, match=rf"HSI_TrSet: expected shape \({n}, 144\), got \({n - 1}, 144\)"
    ):
        houston.load(copy_dir)


def test_missing_variable_is_named(copy_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = copy_dir / "houston2013" / "TrLabel.mat"
    rewrite(monkeypatch, path, {"labels": np.ones((15, 1), dtype=np.uint8)})
    with pytest.raises(DataFileError, match=r"TrLabel\.mat: expected a variable 'TrLabel'"):
        houston.load(copy_dir)


def test_nan_is_named(copy_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = copy_dir / "houston2013" / "HSI_TrSet.mat"
    hsi = scipy.io.loadmat(path)["HSI_TrSet"]
    hsi[10, 20] = np.nan
    rewrite(monkeypatch, path, {"HSI_TrSet": hsi})
    with pytest.raises(DataFileError, match=r"HSI_TrSet\.mat:HSI_TrSet: expected no NaN"):
        houston.load(copy_dir)


def test_label_out_of_range_is_named(copy_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = copy_dir / "houston2013" / "TeLabel.mat"
    labels = scipy.io.loadmat(path)["TeLabel"]
    labels[0, 0] = 16
    rewrite(monkeypatch, path, {"TeLabel": labels})
    with pytest.raises(DataFileError, match=r"TeLabel\.mat: expected classes 1-15"):
        houston.load(copy_dir)
