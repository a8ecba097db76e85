"""Paired patches from two rasters: resampling, reprojection, nodata, metadata, errors.

Real rasters: the BigEarthNet v1 example patches shipped inside the PyPI package
bigearthnet-common (Sentinel-2 bands at 10, 20 and 60 m, Sentinel-1 VV and VH, GeoTIFFs), found
without importing the package and extracted into a temporary folder; those tests skip where the
package is absent. Synthetic rasters written here give exact checks.
"""

from __future__ import annotations

import importlib.util
import pickle
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.control import GroundControlPoint
from rasterio.enums import Resampling
from rasterio.transform import Affine, from_origin
from rasterio.warp import calculate_default_transform, reproject, transform
from scipy.ndimage import map_coordinates

from aligninfo.data.raster import PatchPairs, read_patch_pairs
from aligninfo.data.registry import DataFileError

S2 = "S2A_MSIL2A_20170613T101031_87_48"
S1 = "S1A_IW_GRDH_1SDV_20170613T165043_33UUP_87_48"
UTM33 = "EPSG:32633"
GEO = from_origin(500_000.0, 4_000_000.0, 10.0, 10.0)
"""Default grid of the synthetic rasters: 10 m pixels in UTM zone 33N."""


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The BigEarthNet S1 and S2 example archives of bigearthnet-common, extracted."""
    spec = importlib.util.find_spec("bigearthnet_common")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("bigearthnet-common (the real example rasters) is not installed")
    package = Path(list(spec.submodule_search_locations)[0])
    root = tmp_path_factory.mktemp("bigearthnet")
    for sensor in ("S1", "S2"):
        with tarfile.open(package / f"BigEarthNet-{sensor}-Example.tar.bz2") as archive:
            archive.extractall(root, filter="data")
    return root


def s2(examples: Path, band: str) -> Path:
    return examples / "BigEarthNet-S2-Example" / S2 / f"{S2}_{band}.tif"


def s1(examples: Path, polarisation: str) -> Path:
    return examples / "BigEarthNet-S1-Example" / S1 / f"{S1}_{polarisation}.tif"


def band(path: Path) -> np.ndarray:
    with rasterio.open(path) as dataset:
        return dataset.read(1).astype(np.float64)


def write(
    path: Path,
    data: np.ndarray,
    geo: Affine = GEO,
    crs: str | None = UTM33,
    **options: object,
) -> Path:
    """Write a (bands, h, w) array as a GeoTIFF; options: nodata, descriptions, scales, offsets."""
    profile = {
        "driver": "GTiff",
        "count": data.shape[0],
        "height": data.shape[1],
        "width": data.shape[2],
        "dtype": data.dtype,
        "crs": crs,
        "transform": geo,
        "nodata": options.get("nodata"),
    }
    with rasterio.open(path, "w", **profile) as dataset:
        dataset.write(data)
        for k, name in enumerate(options.get("descriptions", ())):  # type: ignore[call-overload]
            dataset.set_band_description(k + 1, name)
        if "scales" in options:
            dataset.scales = options["scales"]
        if "offsets" in options:
            dataset.offsets = options["offsets"]
    return path


def pattern(height: int, width: int, bands: int = 1) -> np.ndarray:
    """A known (bands, height, width) float32 pattern: value = 10000 b + 100 row + column."""
    b, r, c = np.mgrid[0:bands, 0:height, 0:width]
    return (10_000 * b + 100 * r + c).astype(np.float32)


# --- real rasters: BigEarthNet examples ------------------------------------------------------


def test_10m_with_20m_nearest_repeats_each_20m_pixel(examples: Path) -> None:
    pairs = read_patch_pairs(
        s2(examples, "B02"), s2(examples, "B05"), size=40, resampling="nearest"
    )
    b05_on_10m = np.kron(band(s2(examples, "B05")), np.ones((2, 2)))
    b02 = band(s2(examples, "B02"))
    assert pairs.first.shape == pairs.second.shape == (9, 1, 40, 40) and pairs.dropped == 0
    assert pairs.first.dtype == pairs.second.dtype == np.float32
    for k, (row, col) in enumerate(pairs.origins):
        window = np.s_[row : row + 40, col : col + 40]
        np.testing.assert_array_equal(pairs.first[k, 0], b02[window])
        np.testing.assert_array_equal(pairs.second[k, 0], b05_on_10m[window])


def test_10m_with_20m_bilinear_by_hand(examples: Path) -> None:
    """Bilinear (the default): 10 m pixel j has its centre at 20 m pixel coordinate j / 2 - 1/4."""
    pairs = read_patch_pairs(s2(examples, "B02"), s2(examples, "B05"), size=120)
    at = np.arange(120) / 2 - 0.25
    rows, cols = np.meshgrid(at, at, indexing="ij")
    expected = map_coordinates(band(s2(examples, "B05")), [rows, cols], order=1, mode="nearest")
    np.testing.assert_allclose(pairs.second[0, 0], expected, rtol=1e-6)
    assert not np.array_equal(
        pairs.second[0, 0], np.kron(band(s2(examples, "B05")), np.ones((2, 2)))
    )


def test_20m_with_10m_average_is_the_block_mean(examples: Path) -> None:
    pairs = read_patch_pairs(s2(examples, "B05"), s2(examples, "B02"), 60, resampling="average")
    block_mean = band(s2(examples, "B02")).reshape(60, 2, 60, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(pairs.second[0, 0], block_mean, rtol=1e-6)
    assert pairs.second[0, 0].dtype == np.float32 and not np.all(block_mean == block_mean.round())


def test_several_files_per_sensor_stack_their_bands(examples: Path) -> None:
    """S2 at 10, 20 and 60 m with S1 VV and VH: S1 lies on S2's 10 m grid and is read as is."""
    first = [s2(examples, b) for b in ("B02", "B05", "B01")]
    second = [s1(examples, p) for p in ("VV", "VH")]
    with rasterio.open(first[0]) as a, rasterio.open(second[0]) as b:
        assert a.crs == b.crs and a.transform == b.transform and a.shape == b.shape
    pairs = read_patch_pairs(first, second, size=60, stride=30, resampling="nearest")
    assert pairs.first.shape == (9, 3, 60, 60) and pairs.second.shape == (9, 2, 60, 60)
    assert pairs.first_bands.names == (f"{S2}_B02", f"{S2}_B05", f"{S2}_B01")
    assert pairs.second_bands.names == (f"{S1}_VV", f"{S1}_VH")
    b01_on_10m = np.kron(band(first[2]), np.ones((6, 6)))
    vh = band(second[1])
    row, col = pairs.origins[4]
    assert (row, col) == (30, 30)
    np.testing.assert_array_equal(pairs.first[4, 2], b01_on_10m[30:90, 30:90])
    np.testing.assert_array_equal(pairs.second[4, 1], vh[30:90, 30:90].astype(np.float32))


def reproject_copy(source: Path, target: Path, crs: str, resolution: float) -> Path:
    """Write ``source`` reprojected to ``crs`` at ``resolution`` (NaN outside its footprint)."""
    with rasterio.open(source) as src:
        geo, width, height = calculate_default_transform(
            src.crs, crs, src.width, src.height, *src.bounds, resolution=resolution
        )
        out = np.full((1, height, width), np.nan, np.float32)
        reproject(
            rasterio.band(src, 1), out[0], dst_transform=geo, dst_crs=crs, dst_nodata=np.nan,
            resampling=Resampling.average,
        )  # fmt: skip
    return write(target, out, geo, crs, nodata=float("nan"))


def test_s1_in_another_crs_is_reprojected_onto_s2(examples: Path, tmp_path: Path) -> None:
    """S1 VV copied to ETRS89-LAEA (EPSG:3035) at 13 m, then read on S2's UTM 10 m grid.

    Nearest: each patch pixel equals the copy's pixel that holds the UTM pixel centre,
    looked up here through GDAL's exact coordinate transformation.
    """
    copy = reproject_copy(s1(examples, "VV"), tmp_path / "vv_laea.tif", "EPSG:3035", 13.0)
    pairs = read_patch_pairs(s2(examples, "B02"), copy, size=30, resampling="nearest")
    assert pairs.first.shape == (16, 1, 30, 30) and pairs.dropped == 0
    with rasterio.open(s2(examples, "B02")) as ref, rasterio.open(copy) as laea:
        rows, cols = np.mgrid[0:120, 0:120]
        x, y = ref.transform @ (cols.ravel() + 0.5, rows.ravel() + 0.5)
        xs, ys = transform(ref.crs, laea.crs, x, y)
        c, r = ~laea.transform @ (np.asarray(xs), np.asarray(ys))
        lookup = laea.read(1)[np.floor(r).astype(int), np.floor(c).astype(int)].reshape(120, 120)
    for k, (row, col) in enumerate(pairs.origins):
        np.testing.assert_array_equal(pairs.second[k, 0], lookup[row : row + 30, col : col + 30])
    bilinear = read_patch_pairs(s2(examples, "B02"), copy, size=120)
    vv = band(s1(examples, "VV"))
    assert np.corrcoef(bilinear.second[0, 0].ravel(), vv.ravel())[0, 1] > 0.8


def test_nodata_region_drops_patches_by_the_stated_rule(examples: Path, tmp_path: Path) -> None:
    """A 50 x 50 nodata corner in S2 B02, 30-pixel patches: fractions 1, 2/3, 2/3 and 4/9."""
    data = band(s2(examples, "B02")).astype(np.uint16)[None]
    data[0, :50, :50] = 0
    with rasterio.open(s2(examples, "B02")) as ref:
        damaged = write(tmp_path / "b02.tif", data, ref.transform, ref.crs, nodata=0)
    vv = s1(examples, "VV")
    strict = read_patch_pairs(damaged, vv, size=30)
    assert strict.dropped == 4 and len(strict.origins) == 12
    assert not {(0, 0), (0, 30), (30, 0), (30, 30)} & {tuple(o) for o in strict.origins.tolist()}
    assert strict.valid_first.all() and strict.valid_second.all()
    half = read_patch_pairs(damaged, vv, size=30, max_nodata=0.5, fill_value=-1.0)
    assert half.dropped == 3 and (30, 30) in {tuple(o) for o in half.origins.tolist()}
    k = half.origins.tolist().index([30, 30])
    expected_valid = np.ones((30, 30), bool)
    expected_valid[:20, :20] = False
    np.testing.assert_array_equal(half.valid_first[k], expected_valid)
    assert half.valid_second[k].all() and np.all(half.first[k, 0][:20, :20] == -1.0)
    np.testing.assert_array_equal(half.first[k, 0][20:, 20:], data[0, 50:60, 50:60])
    assert read_patch_pairs(damaged, vv, size=30, max_nodata=1.0).dropped == 0


def test_nan_in_the_second_sensor_counts_as_nodata(examples: Path, tmp_path: Path) -> None:
    """A float raster without a nodata value: its NaN pixels are invalid all the same."""
    data = band(s1(examples, "VH")).astype(np.float32)[None]
    data[0, 100, 100] = np.nan
    with rasterio.open(s1(examples, "VH")) as ref:
        assert ref.nodata is None
        damaged = write(tmp_path / "vh.tif", data, ref.transform, ref.crs)
    pairs = read_patch_pairs(s2(examples, "B02"), damaged, size=60)
    assert pairs.dropped == 1 and pairs.origins.tolist() == [[0, 0], [0, 60], [60, 0]]


def test_internal_mask_band_counts_as_nodata_on_and_off_grid(tmp_path: Path) -> None:
    """A GeoTIFF mask band (no nodata value) hides a 5 x 5 corner, i.e. a 10 x 10 corner at 5 m."""
    masked = tmp_path / "masked.tif"
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
        write(masked, pattern(20, 20) + 1)
        with rasterio.open(masked, "r+") as dataset:
            mask = np.full((20, 20), 255, np.uint8)
            mask[:5, :5] = 0
            dataset.write_mask(mask)
    same_grid = write(tmp_path / "ref.tif", pattern(20, 20))
    on_grid = read_patch_pairs(same_grid, masked, size=5)
    assert on_grid.dropped == 1 and [0, 0] not in on_grid.origins.tolist()
    finer = write(tmp_path / "ref5.tif", pattern(40, 40), from_origin(500_000.0, 4e6, 5.0, 5.0))
    off_grid = read_patch_pairs(finer, masked, size=10, resampling="nearest", max_nodata=1.0)
    assert off_grid.dropped == 0 and off_grid.origins[0].tolist() == [0, 0]
    assert not off_grid.valid_second[0].any() and off_grid.valid_second[1:].all()


# --- synthetic rasters: exact checks ---------------------------------------------------------


def test_known_pattern_windows_and_strides(tmp_path: Path) -> None:
    values = pattern(23, 17, bands=2)
    a = write(tmp_path / "a.tif", values)
    b = write(tmp_path / "b.tif", -values[:1])
    pairs = read_patch_pairs(a, b, size=5, stride=3)
    rows, cols = range(0, 23 - 5 + 1, 3), range(0, 17 - 5 + 1, 3)
    assert pairs.origins.tolist() == [[r, c] for r in rows for c in cols]
    for k, (r, c) in enumerate(pairs.origins):
        np.testing.assert_array_equal(pairs.first[k], values[:, r : r + 5, c : c + 5])
        np.testing.assert_array_equal(pairs.second[k], -values[:1, r : r + 5, c : c + 5])
    assert pairs.grid.height == 23 and pairs.grid.width == 17 and pairs.dropped == 0


def test_shifted_grid_by_whole_pixels_and_partial_overlap(tmp_path: Path) -> None:
    """The second raster starts 3 columns right and 2 rows down: its pixel (i, j) is (i+2, j+3)."""
    values = pattern(20, 20)
    a = write(tmp_path / "a.tif", values)
    shifted = from_origin(500_000.0 + 30.0, 4_000_000.0 - 20.0, 10.0, 10.0)
    b = write(tmp_path / "b.tif", values + 0.5, shifted)
    pairs = read_patch_pairs(a, b, size=5, resampling="nearest")
    # patches touching the first 2 rows or 3 columns lie partly outside b: dropped
    kept = [[r, c] for r in range(0, 16, 5) for c in range(0, 16, 5) if r >= 5 and c >= 5]
    assert pairs.origins.tolist() == kept and pairs.dropped == 16 - len(kept)
    for k, (r, c) in enumerate(pairs.origins):
        np.testing.assert_array_equal(
            pairs.second[k, 0], values[0, r - 2 : r + 3, c - 3 : c + 2] + 0.5
        )
    loose = read_patch_pairs(a, b, size=5, resampling="nearest", max_nodata=1.0, fill_value=7.0)
    assert loose.dropped == 0
    corner = loose.origins.tolist().index([0, 0])
    expected_valid = np.zeros((5, 5), bool)
    expected_valid[2:, 3:] = True
    np.testing.assert_array_equal(loose.valid_second[corner], expected_valid)
    assert np.all(loose.second[corner, 0][~expected_valid] == 7.0)


def test_half_pixel_shift_bilinear_is_the_mean_of_two_neighbours(tmp_path: Path) -> None:
    values = pattern(12, 12) ** 1.5  # not linear, so the mean is not trivially the centre
    a = write(tmp_path / "a.tif", values)
    b = write(tmp_path / "b.tif", values, from_origin(500_000.0 - 5.0, 4_000_000.0, 10.0, 10.0))
    pairs = read_patch_pairs(a, b, size=10, resampling="bilinear")
    # centre of a's pixel j is at b's pixel coordinate j + 1/2: the mean of b's j and j + 1
    expected = (values[0, :10, :10] + values[0, :10, 1:11]) / 2
    np.testing.assert_allclose(pairs.second[0, 0], expected, rtol=1e-6)


def test_band_names_and_scaling_from_metadata(tmp_path: Path) -> None:
    raw = pattern(8, 8, bands=2).astype(np.int16)
    a = write(
        tmp_path / "a.tif", raw, descriptions=("red", "nir"), scales=(0.5, 2.0), offsets=(1, -3)
    )
    b = write(tmp_path / "sar.tif", pattern(8, 8, bands=2))
    pairs = read_patch_pairs(a, b, size=8)
    assert pairs.first_bands.names == ("red", "nir") and pairs.second_bands.names == (
        "sar_1",
        "sar_2",
    )
    np.testing.assert_array_equal(pairs.first_bands.scales, [0.5, 2.0])
    np.testing.assert_array_equal(pairs.first[0, 0], raw[0] * 0.5 + 1)
    np.testing.assert_array_equal(pairs.first[0, 1], raw[1] * 2.0 - 3)
    np.testing.assert_array_equal(pairs.second[0], pattern(8, 8, bands=2))


def test_dataset_protocol_and_pickling(tmp_path: Path) -> None:
    a = write(tmp_path / "a.tif", pattern(12, 12))
    b = write(tmp_path / "b.tif", pattern(6, 6), from_origin(500_000.0, 4_000_000.0, 20.0, 20.0))
    arrays = read_patch_pairs(a, b, size=4, stride=4)
    with PatchPairs(a, b, size=4, stride=4) as pairs:
        assert len(pairs) == 9
        items = list(pairs)
        np.testing.assert_array_equal(pairs[-1][1], arrays.second[8])
        copy = pickle.loads(pickle.dumps(pairs))
        with pytest.raises(IndexError, match="out of range"):
            pairs[9]
    for k, (x1, x2) in enumerate(items):
        np.testing.assert_array_equal(x1, arrays.first[k])
        np.testing.assert_array_equal(x2, arrays.second[k])
    np.testing.assert_array_equal(copy[4][1], arrays.second[4])  # reopened after unpickling
    copy.close()


def test_all_dropped_gives_empty_arrays(tmp_path: Path) -> None:
    values = pattern(6, 6)
    values[0, 2, 2] = np.nan
    pairs = read_patch_pairs(
        write(tmp_path / "a.tif", values), write(tmp_path / "b.tif", values), 6
    )
    assert pairs.first.shape == (0, 1, 6, 6) and pairs.valid_second.shape == (0, 6, 6)
    assert pairs.dropped == 1


# --- errors ----------------------------------------------------------------------------------


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    return write(tmp_path / "a.tif", pattern(10, 10)), write(tmp_path / "b.tif", pattern(10, 10))


def test_missing_file_is_named(pair: tuple[Path, Path], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.tif"
    for first, second in ((missing, pair[1]), (pair[0], missing), (pair[0], [pair[1], missing])):
        with pytest.raises(DataFileError, match=f"{missing}: no such file"):
            read_patch_pairs(first, second, size=5)


def test_unreadable_file_is_named(pair: tuple[Path, Path], tmp_path: Path) -> None:
    junk = tmp_path / "junk.tif"
    junk.write_text("not a raster")
    with pytest.raises(DataFileError, match=f"{junk}: GDAL cannot read it as a raster"):
        read_patch_pairs(pair[0], junk, size=5)


def test_no_overlap_is_named(pair: tuple[Path, Path], tmp_path: Path) -> None:
    far = write(tmp_path / "far.tif", pattern(10, 10), from_origin(600_000.0, 4_000_000.0, 10, 10))
    with pytest.raises(DataFileError, match=f"{far}: does not overlap {pair[0]}"):
        read_patch_pairs(pair[0], far, size=5)
    touching = write(tmp_path / "edge.tif", pattern(10, 10), from_origin(500_100.0, 4e6, 10, 10))
    with pytest.raises(DataFileError, match="does not overlap"):
        read_patch_pairs(pair[0], touching, size=5)


def test_missing_crs_off_grid_is_named(pair: tuple[Path, Path], tmp_path: Path) -> None:
    bare = write(tmp_path / "bare.tif", pattern(5, 5), from_origin(500_000.0, 4e6, 20, 20), None)
    with pytest.raises(DataFileError, match=f"{bare}: has no CRS"):
        read_patch_pairs(pair[0], bare, size=5)


def test_ground_control_points_only_are_named(pair: tuple[Path, Path], tmp_path: Path) -> None:
    """Like a Sentinel-1 GRD measurement file: GCPs, no geotransform, no CRS."""
    corners = [(r, c) for r in (0, 10) for c in (0, 10)]
    gcps = [GroundControlPoint(r, c, 500_000.0 + 10 * c, 4e6 - 10 * r) for r, c in corners]
    grd = tmp_path / "grd.tif"
    profile = {"driver": "GTiff", "count": 1, "height": 10, "width": 10, "dtype": "float32"}
    with rasterio.open(grd, "w", **profile, gcps=gcps, crs=UTM33) as dataset:
        dataset.write(pattern(10, 10))
    with pytest.raises(DataFileError, match=f"{grd}: georeferenced by ground control points"):
        read_patch_pairs(pair[0], grd, size=5)


def test_patch_larger_than_the_raster_is_named(pair: tuple[Path, Path]) -> None:
    with pytest.raises(
        ValueError, match=rf"size=11: patches larger than {pair[0]}'s grid \(10 x 10"
    ):
        read_patch_pairs(pair[0], pair[1], size=11)
    assert len(read_patch_pairs(pair[0], pair[1], size=10).origins) == 1


@pytest.mark.parametrize("stride", [0, -2, 2.5, True])
def test_bad_stride(pair: tuple[Path, Path], stride: object) -> None:
    with pytest.raises(ValueError, match=rf"stride={stride!r}: expected a positive whole number"):
        read_patch_pairs(pair[0], pair[1], size=5, stride=stride)  # type: ignore[arg-type]


def test_bad_size_resampling_and_fraction(pair: tuple[Path, Path]) -> None:
    with pytest.raises(ValueError, match="size=0: expected a positive whole number"):
        read_patch_pairs(pair[0], pair[1], size=0)
    with pytest.raises(ValueError, match="unknown resampling 'linear'; expected one of: nearest"):
        read_patch_pairs(pair[0], pair[1], size=5, resampling="linear")
    with pytest.raises(ValueError, match=r"max_nodata=1.5: expected a fraction in \[0, 1\]"):
        read_patch_pairs(pair[0], pair[1], size=5, max_nodata=1.5)
    with pytest.raises(ValueError, match="the second sensor has no file"):
        read_patch_pairs(pair[0], [], size=5)


def test_exported_lazily_from_the_data_package() -> None:
    import aligninfo.data

    assert aligninfo.data.raster.read_patch_pairs is read_patch_pairs
    with pytest.raises(AttributeError, match="no attribute 'rastr'"):
        aligninfo.data.rastr  # noqa: B018


def test_data_package_imports_without_rasterio() -> None:
    """The other loaders keep working where the optional rasterio is not installed."""
    code = (
        "import sys; sys.modules['rasterio'] = None\n"
        "from aligninfo.data import houston, lfmc\n"
        "import aligninfo.data\n"
        "try:\n    aligninfo.data.raster\nexcept ImportError:\n    print('no raster')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "no raster"


def test_torch_dataloader_workers_reopen_the_files(tmp_path: Path) -> None:
    """Handles opened in the parent are not used by a forked worker (the pid differs)."""
    torch_data = pytest.importorskip("torch.utils.data")
    a = write(tmp_path / "a.tif", pattern(12, 12))
    b = write(tmp_path / "b.tif", pattern(6, 6), from_origin(500_000.0, 4_000_000.0, 20.0, 20.0))
    with PatchPairs(a, b, size=6) as pairs:
        expected = [pairs[k][1] for k in range(len(pairs))]  # opens the files in this process
        loader = torch_data.DataLoader(pairs, batch_size=2, num_workers=2)
        got = np.concatenate([x2.numpy() for _, x2 in loader])
    np.testing.assert_array_equal(got, np.stack(expected))


# --- a demanding user's inputs ---------------------------------------------------------------


def test_fine_geographic_grids_half_a_pixel_apart_are_resampled(tmp_path: Path) -> None:
    """0.5 m pixels in degrees (4.5e-6): a half-pixel shift is far below 1e-5 degree, yet real."""
    res = 4.5e-6
    values = pattern(12, 12)
    a = write(tmp_path / "a.tif", values, from_origin(15.0, 45.0, res, res), "EPSG:4326")
    b = write(tmp_path / "b.tif", values, from_origin(15.0 - res / 2, 45.0, res, res), "EPSG:4326")
    pairs = read_patch_pairs(a, b, size=10, resampling="bilinear")
    expected = (values[0, :10, :10] + values[0, :10, 1:11]) / 2
    np.testing.assert_allclose(pairs.second[0, 0], expected, rtol=1e-6)
    coarser = write(
        tmp_path / "c.tif", values, from_origin(15.0, 45.0, 2 * res, 2 * res), "EPSG:4326"
    )
    nearest = read_patch_pairs(a, coarser, size=12, resampling="nearest")
    np.testing.assert_array_equal(nearest.second[0, 0], np.kron(values[0, :6, :6], np.ones((2, 2))))


def test_alpha_band_masks_and_is_not_a_data_band(tmp_path: Path) -> None:
    """An RGBA GeoTIFF: three bands come out; pixels with alpha 0 are invalid, on and off grid."""
    rgba = np.concatenate([pattern(10, 10) % 250] * 3 + [np.full((1, 10, 10), 255.0)])
    rgba = rgba.astype(np.uint8)
    rgba[3, :5, :5] = 0
    ref = write(tmp_path / "ref.tif", pattern(10, 10))
    options = {"photometric": "RGB", "alpha": "YES"}
    on_grid = write(tmp_path / "rgba.tif", rgba, **options)
    pairs = read_patch_pairs(ref, on_grid, size=5)
    assert pairs.second.shape == (3, 3, 5, 5) and pairs.dropped == 1
    assert pairs.second_bands.names == ("rgba_1", "rgba_2", "rgba_3")
    np.testing.assert_array_equal(pairs.second[-1], rgba[:3, 5:, 5:])
    half_pixel = from_origin(500_000.0 + 5.0, 4_000_000.0, 10.0, 10.0)
    off_grid = write(tmp_path / "rgba_off.tif", rgba, half_pixel, **options)
    pairs = read_patch_pairs(ref, off_grid, size=5, resampling="nearest")
    assert pairs.second.shape == (3, 3, 5, 5) and len(pairs.second_bands.names) == 3


def test_complex_rasters_are_refused_by_name(pair: tuple[Path, Path], tmp_path: Path) -> None:
    """A SAR single-look complex file: its imaginary part must not be dropped silently."""
    slc = write(tmp_path / "slc.tif", (pattern(10, 10) * (1 + 1j)).astype(np.complex64))
    with pytest.raises(DataFileError, match=f"{slc}: complex values"):
        read_patch_pairs(pair[0], slc, size=5)


def test_directory_is_named_as_such(pair: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match=f"{tmp_path}: a directory GDAL cannot read"):
        read_patch_pairs(pair[0], tmp_path, size=5)


def test_gdal_virtual_paths_are_read(pair: tuple[Path, Path], tmp_path: Path) -> None:
    """Files inside a zip, named as GDAL names them (``/vsizip/``) and as rasterio does."""
    archive = tmp_path / "second.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(pair[1], "inside/b.tif")
    expected = read_patch_pairs(pair[0], pair[1], size=5).second
    for name in (f"/vsizip/{archive}/inside/b.tif", f"zip://{archive}!inside/b.tif"):
        pairs = read_patch_pairs(pair[0], name, size=5)
        np.testing.assert_array_equal(pairs.second, expected)
        assert pairs.second_bands.names == ("b",)
    with pytest.raises(DataFileError, match=f"/vsizip/{archive}/missing.tif: GDAL cannot"):
        read_patch_pairs(pair[0], f"/vsizip/{archive}/missing.tif", size=5)


def test_index_must_be_an_integer(pair: tuple[Path, Path]) -> None:
    with PatchPairs(*pair, size=5) as pairs:
        assert len(pairs) == 4
        np.testing.assert_array_equal(pairs[np.int64(-4)][0], pairs[0][0])
        for bad in (1.0, slice(0, 2)):
            with pytest.raises(TypeError, match="cannot be interpreted as an integer"):
                pairs[bad]  # type: ignore[index]


def test_band_metadata_compares_and_hashes(tmp_path: Path) -> None:
    a = write(tmp_path / "a.tif", pattern(6, 6, bands=2))
    bands = read_patch_pairs(a, a, size=6).first_bands
    assert bands == bands and len({bands}) == 1 and len(bands) == 2


@pytest.mark.parametrize(("size", "stride"), [(1, 1), (3, 1), (4, 3), (5, 5), (3, 7), (9, 2)])
@pytest.mark.parametrize("max_nodata", [0.0, 0.2, 1.0])
def test_scan_matches_a_brute_force_count(
    tmp_path: Path, size: int, stride: int, max_nodata: float
) -> None:
    """Random invalid pixels in both sensors (NaN, nodata), every patch counted by hand."""
    rng = np.random.default_rng(size * 100 + stride)
    first, second = pattern(17, 13), pattern(17, 13, bands=2)
    first[0][rng.random((17, 13)) < 0.05] = np.nan
    second[1][rng.random((17, 13)) < 0.05] = -1.0
    a = write(tmp_path / "a.tif", first)
    b = write(tmp_path / "b.tif", second, nodata=-1.0)
    pairs = PatchPairs(a, b, size=size, stride=stride, max_nodata=max_nodata)
    bad = np.isnan(first[0]), np.any(second == -1.0, axis=0)
    kept = []
    for row in range(0, 17 - size + 1, stride):
        for col in range(0, 13 - size + 1, stride):
            window = np.s_[row : row + size, col : col + size]
            if all(b[window].mean() <= max_nodata for b in bad):
                kept.append([row, col])
    assert pairs.origins.tolist() == kept
    candidates = len(range(0, 17 - size + 1, stride)) * len(range(0, 13 - size + 1, stride))
    assert pairs.dropped == candidates - len(kept)


def test_scan_reads_each_covered_row_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Overlapping patches (stride < size) cost one pass; rows below the last patch are not read."""
    from aligninfo.data import raster

    windows: list[tuple[int, int]] = []
    valid = raster._Source.valid

    def spy(self: raster._Source, window: raster.Window) -> np.ndarray:
        windows.append((window.row_off, window.height))
        return valid(self, window)

    monkeypatch.setattr(raster._Source, "valid", spy)
    a = write(tmp_path / "a.tif", pattern(40, 30))
    b = write(tmp_path / "b.tif", pattern(20, 15), from_origin(500_000.0, 4e6, 20.0, 20.0))
    pairs = PatchPairs(a, b, size=8, stride=3)
    assert pairs.origins[-1].tolist() == [30, 21]  # the last patch ends at row 38
    rows = sorted(r for start, height in windows for r in range(start, start + height))
    assert rows == sorted(list(range(38)) * 2)  # each of rows 0-37, once per file


def test_validity_of_resampled_pixels_is_gdals_rule(tmp_path: Path) -> None:
    """10 m onto 40 m: interpolators follow the 10 m pixel under the centre, averages any valid one.

    Reference pixel (0, 0) covers 16 fine pixels, one valid (value 5) and its centre pixel
    invalid; (1, 0) covers 16 invalid ones. Invalid values (-1e6) never enter a valid pixel.
    """
    fine = pattern(16, 16) + 100
    fine[0, :8, :4] = -1e6
    fine[0, 0, 0] = 5.0
    ref = write(tmp_path / "ref.tif", pattern(4, 4), from_origin(500_000.0, 4e6, 40.0, 40.0))
    b = write(tmp_path / "fine.tif", fine, nodata=-1e6)
    expected = {
        "nearest": [[False, True], [False, True]],
        "bilinear": [[False, True], [False, True]],
        "average": [[True, True], [False, True]],
    }
    for method, valid in expected.items():
        pairs = read_patch_pairs(ref, b, size=4, resampling=method, max_nodata=1.0)
        np.testing.assert_array_equal(pairs.valid_second[0, :2, :2], valid)
        assert pairs.second[0, 0][pairs.valid_second[0]].min() >= 5.0
        assert pairs.valid_second[0, 2:].all() and pairs.valid_second[0, :, 2:].all()
    average = read_patch_pairs(ref, b, size=4, resampling="average", max_nodata=1.0).second
    assert average[0, 0, 0, 0] == 5.0
    assert average[0, 0, 0, 1] == pytest.approx(fine[0, :4, 4:8].mean())
    # 10 m onto 10 m shifted 6 m: column 0's centre lies outside, 40 % of the pixel inside
    shifted = write(tmp_path / "shifted.tif", pattern(4, 4), from_origin(500_006.0, 4e6, 10, 10))
    ref10 = write(tmp_path / "ref10.tif", pattern(4, 4))
    for method, inside in (("nearest", False), ("bilinear", False), ("average", True)):
        pairs = read_patch_pairs(ref10, shifted, size=4, resampling=method, max_nodata=1.0)
        assert pairs.valid_second[0, :, 0].tolist() == [inside] * 4
