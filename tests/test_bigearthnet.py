"""The BigEarthNet v1 reader, on the six real example pairs of ``bigearthnet-common`` and on
damaged copies of them (band deleted, truncated or mis-sized file, S1 patch whose S2 is missing).

Every test skips, saying why, where the package is not installed (the project's ``data`` extra).
"""

from __future__ import annotations

import ast
import bz2
import importlib.util
import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from aligninfo.data.registry import DataFileError

rasterio = pytest.importorskip("rasterio", reason="rasterio (the 'data' extra) is not installed")
if importlib.util.find_spec("bigearthnet_common") is None:
    pytest.skip(
        "bigearthnet-common==2.8.0 (the 'data' extra) is not installed: it ships the real "
        "BigEarthNet example pairs these tests read",
        allow_module_level=True,
    )

from aligninfo.data import bigearthnet as ben  # noqa: E402  (needs the skip above first)


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The example archives, extracted once for this module."""
    return ben.example_roots(tmp_path_factory.mktemp("ben_examples"))


@pytest.fixture(scope="module")
def examples(roots: dict[str, Path]) -> ben.BigEarthNetPairs:
    return ben.BigEarthNetPairs(roots["s2"], roots["s1"])


@pytest.fixture
def copy(roots: dict[str, Path], tmp_path: Path) -> dict[str, Path]:
    """A writable copy of the example trees, to damage."""
    return {
        sensor: Path(shutil.copytree(root, tmp_path / root.name)) for sensor, root in roots.items()
    }


def package_constants() -> dict[str, object]:
    """The literal constants of the package's ``constants.py``, read as text (not imported)."""
    spec = importlib.util.find_spec("bigearthnet_common")
    assert spec is not None and spec.submodule_search_locations
    source = Path(next(iter(spec.submodule_search_locations)), "constants.py").read_text()
    found: dict[str, object] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue  # computed, not a literal
    return found


def native(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def band_path(folder: Path, band: str) -> Path:
    return folder / f"{folder.name}_{band}.tif"


# --------------------------------------------------------------------------- package files


def test_the_module_is_imported_on_first_use_and_never_imports_the_package() -> None:
    code = (
        "import sys, aligninfo.data as d; "
        "assert 'aligninfo.data.bigearthnet' not in sys.modules; "
        "d.bigearthnet.package_file('val.csv.bz2'); "
        "assert 'bigearthnet_common' not in sys.modules and 'pydantic' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_package_files_are_found_without_import_and_hashed(roots: dict[str, Path]) -> None:
    for name, digest in ben.PACKAGE_FILES.items():
        path = ben.package_file(name)
        assert path.is_file() and ben.sha256(path) == digest
    assert {p.name for p in roots["s2"].iterdir()} == {
        p.name for p in ben.example_roots(roots["s2"].parents[1])["s2"].iterdir()
    }  # a second call reuses the extracted tree


def test_a_changed_archive_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(ben.PACKAGE_FILES, "BigEarthNet-S2-Example.tar.bz2", "0" * 64)
    with pytest.raises(DataFileError, match="BigEarthNet-S2-Example.tar.bz2 has SHA-256"):
        ben.example_roots(tmp_path)
    assert not list(tmp_path.iterdir())  # nothing extracted


def test_a_missing_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ben.PackageMissingError, match="pip install 'bigearthnet-common==2.8.0'"):
        ben.package_file("train.csv.bz2")


def test_extraction_is_atomic_and_leaves_no_scratch(tmp_path: Path) -> None:
    got = ben.example_roots(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.parent.name for p in got.values())
    assert all(len(list(folder.iterdir())) == 6 for folder in got.values())


# --------------------------------------------------------------------------- real example pairs


def test_every_band_is_read_onto_the_10m_grid(examples: ben.BigEarthNetPairs) -> None:
    assert len(examples) == 6 and examples.skipped == []
    for index, pair in enumerate(examples.pairs):
        item = examples[index]
        assert item["s2"].shape == (12, 120, 120) and item["s2"].dtype == torch.float32
        assert item["s1"].shape == (2, 120, 120) and item["s1"].dtype == torch.float32
        for k, band in enumerate(ben.S2_BANDS):
            raw = native(band_path(pair.s2_dir, band))
            factor = 120 // raw.shape[0]
            assert factor == ben.S2_RESOLUTION[band] // 10
            # nearest: each native pixel fills its factor x factor block of 10 m pixels
            expected = np.kron(raw.astype(np.float32), np.ones((factor, factor), np.float32))
            np.testing.assert_array_equal(item["s2"][k].numpy(), expected)
        for k, band in enumerate(ben.S1_BANDS):
            np.testing.assert_array_equal(
                item["s1"][k].numpy(), native(band_path(pair.s1_dir, band))
            )
        assert torch.isfinite(item["s1"]).all() and item["s2"].min() >= 0


def test_bilinear_resampling_keeps_10m_bands_and_block_means(roots: dict[str, Path]) -> None:
    pair = ben.BigEarthNetPairs(roots["s2"], roots["s1"]).pairs[0]
    near, lin = ben.read_s2(pair.s2_dir, "nearest"), ben.read_s2(pair.s2_dir, "bilinear")
    ten = [k for k, band in enumerate(ben.S2_BANDS) if ben.S2_RESOLUTION[band] == 10]
    np.testing.assert_array_equal(near[ten], lin[ten])
    coarse = [k for k in range(12) if k not in ten]
    assert not np.array_equal(near[coarse], lin[coarse])  # interpolated, not replicated
    # interpolation stays within the range of the measured values
    assert lin[coarse].min() >= near[coarse].min() and lin[coarse].max() <= near[coarse].max()
    with pytest.raises(ValueError, match="resampling"):
        ben.read_s2(pair.s2_dir, "cubic")


def test_labels_come_from_the_s2_metadata(examples: ben.BigEarthNetPairs) -> None:
    for index, pair in enumerate(examples.pairs):
        meta = json.loads((pair.s2_dir / f"{pair.s2_name}_labels_metadata.json").read_text())
        assert pair.labels == tuple(meta["labels"])
        item = examples[index]
        names43 = {ben.LABELS43[k] for k in np.flatnonzero(item["labels43"].numpy())}
        assert names43 == set(meta["labels"])
        names19 = {ben.LABELS19[k] for k in np.flatnonzero(item["labels19"].numpy())}
        assert names19 == {ben.TO_19[x] for x in meta["labels"]} - {None}
    np.testing.assert_array_equal(
        examples.labels19, np.stack([examples[i]["labels19"].numpy() for i in range(6)])
    )
    # peat bogs and water bodies: two 19-class classes of their own (wetlands, waters)
    peat = next(p for p in examples.pairs if "Peatbogs" in p.labels)
    assert {"Inland wetlands", "Inland waters"} <= set(ben.labels_to_19(peat.labels))


def test_nomenclature_agrees_with_the_package_constants() -> None:
    ref = package_constants()
    old2new = ref["OLD2NEW_LABELS_DICT"]
    assert isinstance(old2new, dict)
    assert ben.LABELS43 == tuple(old2new)  # the same 43 classes in the same order
    assert ben.TO_19 == old2new
    assert ben.LABELS19 == ref["NEW_LABELS_ORIGINAL_ORDER"]
    assert len(ben.LABELS43) == 43 and len(ben.LABELS19) == 19
    assert sum(v is None for v in ben.TO_19.values()) == 11
    with pytest.raises(KeyError, match="not one of the 43"):
        ben.labels_to_19(["Glaciers and perpetual snow"])


def test_each_s1_patch_is_paired_with_the_s2_patch_it_names(
    roots: dict[str, Path], examples: ben.BigEarthNetPairs
) -> None:
    assert sorted(p.s1_name for p in examples.pairs) == sorted(
        d.name for d in roots["s1"].iterdir()
    )
    assert sorted(p.s2_name for p in examples.pairs) == sorted(
        d.name for d in roots["s2"].iterdir()
    )
    for pair in examples.pairs:
        meta = json.loads((pair.s1_dir / f"{pair.s1_name}_labels_metadata.json").read_text())
        assert meta["corresponding_s2_patch"] == pair.s2_name == pair.s2_dir.name
        assert pair.s2_name.split("_")[-2:] == pair.s1_name.split("_")[-2:]  # same tile cell


def test_official_split_lookup(roots: dict[str, Path], examples: ben.BigEarthNetPairs) -> None:
    splits = ben.official_splits()
    lists = {
        part: bz2.decompress(ben.package_file(f"{part}.csv.bz2").read_bytes()).decode().split()
        for part in ben.SPLITS
    }
    assert len(splits) == sum(len(names) for names in lists.values())  # disjoint lists
    for part, names in lists.items():
        assert {splits[name] for name in names[:: len(names) // 50]} == {part}
    found = examples.splits()
    assert found == [splits.get(p.s2_name) for p in examples.pairs]
    for part in ben.SPLITS:
        subset = ben.BigEarthNetPairs(roots["s2"], roots["s1"], part)
        assert [p.s2_name for p in subset.pairs] == [
            p.s2_name for p, s in zip(examples.pairs, found, strict=True) if s == part
        ]
    assert set(found) - {None}  # some examples are in the official lists
    with pytest.raises(ValueError, match="split"):
        ben.BigEarthNetPairs(roots["s2"], roots["s1"], "validation")


# --------------------------------------------------------------------------- workers and caches


def test_workers_see_the_same_pairs_as_the_main_process(examples: ben.BigEarthNetPairs) -> None:
    clone = pickle.loads(pickle.dumps(examples))  # what a spawned worker receives
    assert clone.pairs == examples.pairs
    serial = next(iter(DataLoader(examples, batch_size=6)))
    loader = DataLoader(examples, batch_size=3, num_workers=2)
    batches = list(loader)
    for key in ("s2", "s1", "labels19", "labels43"):
        np.testing.assert_array_equal(torch.cat([b[key] for b in batches]), serial[key])
    assert sum((b["s2_name"] for b in batches), []) == [p.s2_name for p in examples.pairs]


def test_disk_cache_serves_decoded_pairs_without_the_geotiffs(
    copy: dict[str, Path], tmp_path: Path
) -> None:
    cache = tmp_path / "decoded"
    first = ben.BigEarthNetPairs(copy["s2"], copy["s1"], cache_dir=cache, verify=True)
    files = sorted((cache / ben.CACHE_VERSION).glob("*.npy"))
    assert [f.stem for f in files] == [p.s2_name for p in first.pairs]
    before = [first[i] for i in range(len(first))]
    for pair in first.pairs:  # the GeoTIFFs are no longer read: remove their content
        for tif in [*pair.s2_dir.glob("*.tif"), *pair.s1_dir.glob("*.tif")]:
            tif.write_bytes(b"")
    again = ben.BigEarthNetPairs(copy["s2"], copy["s1"], cache_dir=cache)
    for i, item in enumerate(before):
        for key in ("s2", "s1", "labels19"):
            assert torch.equal(again[i][key], item[key])
    files[0].write_bytes(b"damaged")  # a damaged cache file is decoded again: here, it fails
    with pytest.raises(DataFileError, match=r"_B01\.tif: cannot be read as a GeoTIFF"):
        again[0]


def test_memory_cache_is_bounded_and_returns_equal_pairs(roots: dict[str, Path]) -> None:
    data = ben.BigEarthNetPairs(roots["s2"], roots["s1"], memory_items=2)
    first = [data[i]["s2"].clone() for i in range(4)]
    assert list(data._memory) == [2, 3]
    assert torch.equal(data[3]["s2"], first[3]) and torch.equal(data[0]["s2"], first[0])
    assert list(data._memory) == [3, 0]
    assert data[-6]["index"] == 0 and list(data._memory) == [3, 0]  # same pair, same entry
    with pytest.raises(IndexError):
        data[6]
    data[0]["s2"].zero_()  # changing what was returned leaves the cached pair intact
    assert torch.equal(data[0]["s2"], first[0])
    with pytest.raises(ValueError, match="memory_items"):
        ben.BigEarthNetPairs(roots["s2"], roots["s1"], memory_items=-1)


def test_benchmark_reads_pairs_with_and_without_caches() -> None:
    from aligninfo.bench import bench_bigearthnet

    got = bench_bigearthnet(passes=1)
    assert list(got) == ["GeoTIFF (no cache)", ".npy cache (warm)", "memory cache (warm)"]
    assert all(count == 6 and timing.wall > 0 for count, timing in got.values())


# --------------------------------------------------------------------------- damaged copies


def test_a_deleted_band_is_named_or_skipped(copy: dict[str, Path]) -> None:
    victim = sorted(copy["s2"].iterdir())[2]
    band_path(victim, "B05").unlink()
    with pytest.raises(DataFileError, match=rf"{victim.name}_B05\.tif: band file missing"):
        ben.BigEarthNetPairs(copy["s2"], copy["s1"])
    data = ben.BigEarthNetPairs(copy["s2"], copy["s1"], on_error="skip")
    assert len(data) == 5 and victim.name not in [p.s2_name for p in data.pairs]
    assert len(data.skipped) == 1 and "B05.tif: band file missing" in data.skipped[0].reason


def test_a_truncated_band_is_named_when_read_or_skipped_by_verify(copy: dict[str, Path]) -> None:
    victim = sorted(copy["s2"].iterdir())[0]
    path = band_path(victim, "B02")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    data = ben.BigEarthNetPairs(copy["s2"], copy["s1"])  # files present: found when decoded
    index = [p.s2_name for p in data.pairs].index(victim.name)
    with pytest.raises(DataFileError, match=rf"{path.name}: cannot be read as a GeoTIFF"):
        data[index]
    with pytest.raises(DataFileError, match=rf"{path.name}"):
        ben.BigEarthNetPairs(copy["s2"], copy["s1"], verify=True)
    other = data.pairs[(index + 1) % len(data)]
    garbage = band_path(other.s1_dir, "VH")
    garbage.write_bytes(b"not a GeoTIFF at all")
    kept = ben.BigEarthNetPairs(copy["s2"], copy["s1"], on_error="skip", verify=True)
    assert len(kept) == 4 and {s.path for s in kept.skipped} == {victim, other.s2_dir}
    reasons = " ".join(s.reason for s in kept.skipped)
    assert (
        f"{path.name}: cannot be read" in reasons and f"{garbage.name}: cannot be read" in reasons
    )
    assert all(kept[i]["s2"].shape == (12, 120, 120) for i in range(len(kept)))


def test_a_mis_sized_band_is_named(copy: dict[str, Path]) -> None:
    victim = sorted(copy["s2"].iterdir())[1]
    path = band_path(victim, "B05")  # a 20 m band: 60 x 60 pixels
    with rasterio.open(path) as src:
        profile = src.profile
    profile.update(width=120, height=120)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.ones((1, 120, 120), np.uint16))
    data = ben.BigEarthNetPairs(copy["s2"], copy["s1"], on_error="skip", verify=True)
    assert [s.path for s in data.skipped] == [victim]
    assert (
        f"{path}: expected 1 band of 60 x 60 pixels, got 1 of 120 x 120" in data.skipped[0].reason
    )
    with pytest.raises(DataFileError, match="expected 1 band of 60 x 60 pixels"):
        ben.read_s2(victim)


def test_an_s1_patch_whose_s2_is_missing_is_named_or_skipped(copy: dict[str, Path]) -> None:
    victim = sorted(copy["s2"].iterdir())[4]
    shutil.rmtree(victim)
    with pytest.raises(DataFileError, match=rf"its S2 patch .*{victim.name} is missing"):
        ben.BigEarthNetPairs(copy["s2"], copy["s1"])
    data = ben.BigEarthNetPairs(copy["s2"], copy["s1"], on_error="skip")
    assert len(data) == 5 and len(data.skipped) == 1
    assert "unpaired S1 patch" in data.skipped[0].reason and data.skipped[0].path == victim


def test_an_s2_patch_no_s1_names_is_named_or_skipped(copy: dict[str, Path]) -> None:
    victim = sorted(copy["s1"].iterdir())[0]
    shutil.rmtree(victim)
    with pytest.raises(DataFileError, match="no S1 patch under .* names this S2 patch"):
        ben.BigEarthNetPairs(copy["s2"], copy["s1"])
    data = ben.BigEarthNetPairs(copy["s2"], copy["s1"], on_error="skip")
    assert len(data) == 5 and len(data.skipped) == 1


def test_two_s1_patches_naming_one_s2_patch_are_refused(copy: dict[str, Path]) -> None:
    first, second = sorted(copy["s1"].iterdir())[:2]
    taken = json.loads((first / f"{first.name}_labels_metadata.json").read_text())
    meta = second / f"{second.name}_labels_metadata.json"
    content = json.loads(meta.read_text())
    meta.write_text(
        json.dumps({**content, "corresponding_s2_patch": taken["corresponding_s2_patch"]})
    )
    with pytest.raises(DataFileError, match=rf"{second.name}: names S2 patch .* already paired"):
        ben.BigEarthNetPairs(copy["s2"], copy["s1"])
    data = ben.BigEarthNetPairs(copy["s2"], copy["s1"], on_error="skip")
    # the second claim is dropped, and the S2 patch it should have named is left unpaired
    orphan = copy["s2"] / content["corresponding_s2_patch"]
    assert len(data) == 5 and [s.path for s in data.skipped] == [second, orphan]


def test_bad_metadata_is_named(copy: dict[str, Path]) -> None:
    victim = sorted(copy["s2"].iterdir())[3]
    meta = victim / f"{victim.name}_labels_metadata.json"
    content = json.loads(meta.read_text())
    meta.write_text(json.dumps({**content, "labels": ["Glaciers and perpetual snow"]}))
    with pytest.raises(DataFileError, match=r"labels_metadata\.json: \['Glaciers"):
        ben.BigEarthNetPairs(copy["s2"], copy["s1"])
    meta.write_text("{not json")
    with pytest.raises(DataFileError, match="cannot be read as JSON metadata"):
        ben.BigEarthNetPairs(copy["s2"], copy["s1"])


# --------------------------------------------------------------------------- inputs users get wrong


def test_bilinear_matches_gdal_warp_onto_the_10m_grid(examples: ben.BigEarthNetPairs) -> None:
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    pair = examples.pairs[0]
    got = ben.read_s2(pair.s2_dir, "bilinear")
    with rasterio.open(band_path(pair.s2_dir, "B02")) as ten:
        grid, crs = ten.transform, ten.crs
    for k, band in enumerate(ben.S2_BANDS):
        with rasterio.open(band_path(pair.s2_dir, band)) as src:
            warped = np.zeros((120, 120), np.float32)
            reproject(
                src.read(1).astype(np.float32), warped, src_transform=src.transform,
                src_crs=src.crs, dst_transform=grid, dst_crs=crs, resampling=Resampling.bilinear,
            )  # fmt: skip
        np.testing.assert_allclose(got[k], warped, rtol=1e-5, atol=1e-2)


def test_the_unlisted_example_is_the_one_under_seasonal_snow(
    examples: ben.BigEarthNetPairs,
) -> None:
    snow = bz2.decompress(
        Path(ben.package_file("train.csv.bz2").parent, "patches_with_seasonal_snow.csv.bz2")
        .read_bytes()
    ).decode()  # fmt: skip
    found = dict(zip((p.s2_name for p in examples.pairs), examples.splits(), strict=True))
    unlisted = [name for name, part in found.items() if part is None]
    assert unlisted and all(name in snow for name in unlisted)
    assert all(name not in snow for name, part in found.items() if part is not None)
    doc = ben.BigEarthNetPairs.examples.__doc__ or ""
    assert " ".join(unlisted) in doc and "none of them" not in doc


def test_a_missing_root_is_named_before_any_pair(copy: dict[str, Path], tmp_path: Path) -> None:
    only_s2 = tmp_path / "download"  # a data_dir holding only the S2 folder
    only_s2.mkdir()
    copy["s2"].rename(only_s2 / ben.ARCHIVE_FOLDERS["s2"])
    with pytest.raises(DataFileError, match=rf"{ben.ARCHIVE_FOLDERS['s1']}: patch folder root"):
        ben.BigEarthNetPairs.from_archive(only_s2, on_error="skip")
    for on_error in ("raise", "skip"):  # only the S1 folder: named, not each S1 patch's S2 part
        with pytest.raises(DataFileError, match=rf"{copy['s2'].name}: patch folder root does"):
            ben.BigEarthNetPairs(copy["s2"], copy["s1"], on_error=on_error)


def test_hidden_folders_are_not_patches(copy: dict[str, Path]) -> None:
    for root in copy.values():
        (root / ".ipynb_checkpoints").mkdir()
    data = ben.BigEarthNetPairs(copy["s2"], copy["s1"])
    assert len(data) == 6 and data.skipped == []


def test_an_s1_patch_naming_no_s2_patch_is_named_or_skipped(copy: dict[str, Path]) -> None:
    victim = sorted(copy["s1"].iterdir())[5]
    meta = victim / f"{victim.name}_labels_metadata.json"
    content = json.loads(meta.read_text())
    orphan = copy["s2"] / content.pop("corresponding_s2_patch")
    meta.write_text(json.dumps(content))
    with pytest.raises(DataFileError, match=rf"{meta.name}: no 'corresponding_s2_patch'"):
        ben.BigEarthNetPairs(copy["s2"], copy["s1"])
    data = ben.BigEarthNetPairs(copy["s2"], copy["s1"], on_error="skip")
    assert len(data) == 5 and [s.path for s in data.skipped] == [victim, orphan]
    meta.write_text(json.dumps({**content, "corresponding_s2_patch": "../" + orphan.name}))
    with pytest.raises(DataFileError, match="is not a patch name"):
        ben.BigEarthNetPairs(copy["s2"], copy["s1"])


def test_an_unlistable_patch_folder_is_named_or_skipped(
    copy: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = sorted(copy["s2"].iterdir())[2]
    scandir = ben.os.scandir

    def refuse(path: object) -> object:  # what an unreadable folder does (chmod 000, not root)
        if Path(str(path)) == victim:
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)  # type: ignore[call-overload]

    monkeypatch.setattr(ben.os, "scandir", refuse)
    with pytest.raises(DataFileError, match=rf"{victim.name}: cannot list the folder"):
        ben.BigEarthNetPairs(copy["s2"], copy["s1"])
    data = ben.BigEarthNetPairs(copy["s2"], copy["s1"], on_error="skip")
    assert len(data) == 5 and [s.path for s in data.skipped] == [victim]


def test_an_unwritable_cache_is_read_and_warned_about_once(
    roots: dict[str, Path], tmp_path: Path
) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")  # a cache_dir below a file cannot be created, like a read-only one
    data = ben.BigEarthNetPairs(roots["s2"], roots["s1"], cache_dir=blocker / "cache")
    with pytest.warns(RuntimeWarning, match="cannot write the decoded-patch cache") as caught:
        items = [data[i] for i in range(len(data))]
    assert len(caught) == 1
    plain = ben.BigEarthNetPairs(roots["s2"], roots["s1"])
    assert all(torch.equal(item["s2"], plain[i]["s2"]) for i, item in enumerate(items))


def test_two_workers_fill_one_cache_at_once(roots: dict[str, Path], tmp_path: Path) -> None:
    cache = tmp_path / "decoded"
    data = ben.BigEarthNetPairs(roots["s2"], roots["s1"], cache_dir=cache)
    for _ in range(2):  # the first pass fills the cache from two processes, the second reads it
        batches = list(DataLoader(data, batch_size=1, num_workers=2))
        plain = ben.BigEarthNetPairs(roots["s2"], roots["s1"])
        for batch in batches:
            index = int(batch["index"][0])
            assert torch.equal(batch["s2"][0], plain[index]["s2"])
            assert torch.equal(batch["s1"][0], plain[index]["s1"])
    names = sorted(p.name for p in (cache / ben.CACHE_VERSION).iterdir())
    assert names == sorted(f"{p.s2_name}.npy" for p in data.pairs)  # no scratch file left


def shift(path: Path, metres: float) -> None:
    """Rewrite a band file with the same pixels, its grid moved ``metres`` east."""
    from rasterio.transform import Affine

    with rasterio.open(path) as src:
        profile, pixels = src.profile, src.read()
    profile.update(transform=Affine.translation(metres, 0) @ profile["transform"])
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(pixels)


def test_bands_off_the_pairs_ground_square_are_named(copy: dict[str, Path]) -> None:
    data = ben.BigEarthNetPairs(copy["s2"], copy["s1"])
    first, second = data.pairs[0], data.pairs[1]
    shift(band_path(first.s1_dir, "VH"), 1200.0)  # the neighbouring patch's VH
    shift(band_path(second.s2_dir, "B11"), 20.0)  # one 20 m pixel off
    with pytest.raises(DataFileError, match=rf"{first.s1_name}_VH\.tif: covers .* not the ground"):
        data[0]
    with pytest.raises(DataFileError, match=rf"{second.s2_name}_B11\.tif: covers"):
        data[1]
    with pytest.raises(DataFileError, match=r"_B11\.tif: covers"):
        ben.read_s2(second.s2_dir)
    kept = ben.BigEarthNetPairs(copy["s2"], copy["s1"], on_error="skip", verify=True)
    assert [s.path for s in kept.skipped] == [first.s2_dir, second.s2_dir] and len(kept) == 4
    shift(band_path(data.pairs[2].s2_dir, "B01"), ben.FOOTPRINT_TOLERANCE / 2)  # rounding: kept
    assert data[2]["s2"].shape == (12, 120, 120)


def test_patches_nested_one_level_deeper_are_explained(copy: dict[str, Path]) -> None:
    tile = copy["s1"] / "33UUP"  # as BigEarthNet v2 groups patches by tile
    tile.mkdir()
    for patch in [p for p in copy["s1"].iterdir() if p != tile]:
        patch.rename(tile / patch.name)
    with pytest.raises(DataFileError, match=r"33UUP holds folders .* not the v1 layout"):
        ben.BigEarthNetPairs(copy["s2"], copy["s1"])
    (tile / next(tile.iterdir()).name).rename(copy["s1"] / "moved")  # a plain missing file:
    shutil.rmtree(tile)
    with pytest.raises(DataFileError, match=r"No such file or directory: [^;]*$"):
        ben.BigEarthNetPairs(copy["s2"], copy["s1"])  # no hint


def test_examples_take_the_decoded_cache_like_any_pairs(tmp_path: Path) -> None:
    data = ben.BigEarthNetPairs.examples(tmp_path / "extracted", cache_dir=tmp_path / "decoded")
    assert data.cache_dir == tmp_path / "decoded"
    assert all(p.s2_dir.is_relative_to(tmp_path / "extracted") for p in data.pairs)
    data[0]
    assert [f.stem for f in (tmp_path / "decoded" / ben.CACHE_VERSION).iterdir()] == [
        data.pairs[0].s2_name
    ]
