"""BigEarthNet v1: Sentinel-2 / Sentinel-1 patch pairs in the archive's own folder layout.

Layout read (the v1 archives ``BigEarthNet-v1.0/`` and ``BigEarthNet-S1-v1.0/``): one folder per
patch, named after the patch, holding one single-band GeoTIFF per band, ``<patch>_<band>.tif``,
and ``<patch>_labels_metadata.json``.

- Sentinel-2 (L2A): the 12 bands of :data:`S2_BANDS`, stored at their native resolution, 120 x 120
  pixels at 10 m, 60 x 60 at 20 m and 20 x 20 at 60 m over the same 1.2 km square. They are
  brought to one 120 x 120 grid by :data:`RESAMPLING` ``"nearest"`` (the default: each 20 m or
  60 m pixel is replicated over the 2 x 2 or 6 x 6 block of 10 m pixels it covers, so every value
  is a measured one; the same as GDAL's nearest) or ``"bilinear"`` (interpolation between pixel
  centres, ``torch.nn.functional.interpolate`` with ``align_corners=False``, edge pixels
  clamped: in float32, the values of GDAL's bilinear warp onto the 10 m grid). Values are the
  files' own: surface reflectance x 10,000 (stored as uint16), returned as float32.
- Sentinel-1 (GRD, IW): VV and VH backscatter, 120 x 120 at 10 m, in dB as stored (float32).
- Labels: the CORINE Land Cover 2018 level-3 classes present in the patch (the 43 of
  :data:`LABELS43`, listed by name in the metadata), and the 19-class nomenclature of Sumbul et
  al. (2021, arXiv:2001.06372), :data:`LABELS19`, reached through :data:`TO_19`.
- Pairing: an S1 patch's metadata names its S2 patch (``corresponding_s2_patch``). Labels are
  read from the S2 metadata. When a pair is decoded, every band file of both patches must
  cover the same ground square (bounds within :data:`FOOTPRINT_TOLERANCE`, 5 m), so a band or
  an S1 patch from another place is an error naming the file, not a silent mismatch.
- Official splits: the train / validation / test lists of S2 patch names (the 19-class
  benchmark's lists, which leave out patches under seasonal snow, clouds or cloud shadows).

The Python package ``bigearthnet-common==2.8.0`` (the ``data`` extra) ships six real patch pairs
in this layout (two compressed archives) and the split lists. They are read from the installed
package's folder without importing it (its import pulls in unrelated dependencies), each file
checked against the SHA-256 recorded here. :func:`example_roots` extracts the example archives
once into a cache folder (default: the user cache folder ``pooch.os_cache("aligninfo")``, e.g.
``~/.cache/aligninfo/bigearthnet``; never the data folder, which may be read-only).

Example::

    from torch.utils.data import DataLoader
    from aligninfo.data import bigearthnet

    pairs = bigearthnet.BigEarthNetPairs.examples()          # the six real pairs
    full = bigearthnet.BigEarthNetPairs.from_archive("/data/ben", split="train",
                                                     cache_dir="/scratch/ben-cache")
    batch = next(iter(DataLoader(full, batch_size=64, num_workers=8)))
    batch["s2"].shape, batch["s1"].shape, batch["labels19"].shape  # (64, 12, 120, 120) ...
"""

from __future__ import annotations

import bz2
import functools
import importlib.util
import json
import os
import shutil
import tarfile
import tempfile
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pooch
import rasterio
import torch
from torch.utils.data import Dataset

from aligninfo.data.registry import DataFileError, sha256

__all__ = [
    "LABELS19",
    "LABELS43",
    "PACKAGE",
    "S1_BANDS",
    "S2_BANDS",
    "TO_19",
    "BigEarthNetPairs",
    "PackageMissingError",
    "Pair",
    "Skipped",
    "example_roots",
    "examples_as_download",
    "labels_to_19",
    "multi_hot",
    "official_splits",
    "package_file",
    "read_s1",
    "read_s2",
]

PACKAGE = "bigearthnet_common"
"""Import name of the package that ships the examples and the split lists (not imported)."""
PACKAGE_PIN = "bigearthnet-common==2.8.0"
"""The release whose files the hashes below describe."""

PACKAGE_FILES: dict[str, str] = {
    "BigEarthNet-S1-Example.tar.bz2": (
        "ac0d32fea2dbd14881d1e78632cba46dcefc8e52acb22e6484790ac93f0da663"
    ),
    "BigEarthNet-S2-Example.tar.bz2": (
        "faa13e52868bda950c5255e15b7a6504ae827e637b8376dc10e09aae0c068537"
    ),
    "train.csv.bz2": "6b20da99022efe4212fa2765161dcfcff944b18561c91017b1d5d40d0bfc712e",
    "val.csv.bz2": "9281aedab12a3bae18ebcfcaba312d97f2e45325741f43607074f15425566fa8",
    "test.csv.bz2": "8d978918d3a9690270ca32da36177da253403457c41c51fa3930a9080d0250ae",
}
"""SHA-256 of each file read from the package, by file name."""

EXAMPLE_FOLDERS = {"s2": "BigEarthNet-S2-Example", "s1": "BigEarthNet-S1-Example"}
"""Top folder of each example archive (``BigEarthNet-<S1|S2>-Example.tar.bz2``)."""
ARCHIVE_FOLDERS = {"s2": "BigEarthNet-v1.0", "s1": "BigEarthNet-S1-v1.0"}
"""Top folder of each full v1 archive once unpacked."""
SPLITS = ("train", "val", "test")

PATCH = 120
"""Side of a patch in 10 m pixels."""
S2_BANDS: tuple[str, ...] = (
    "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12",
)  # fmt: skip
"""Sentinel-2 bands, in the order of the ``"s2"`` channels (by wavelength; B10 is not in L2A)."""
S2_RESOLUTION: dict[str, int] = {
    "B01": 60, "B02": 10, "B03": 10, "B04": 10, "B05": 20, "B06": 20, "B07": 20, "B08": 10,
    "B8A": 20, "B09": 60, "B11": 20, "B12": 20,
}  # fmt: skip
"""Ground sampling distance (m) of each Sentinel-2 band, hence its side in pixels: 1200 / m."""
S1_BANDS: tuple[str, ...] = ("VV", "VH")
"""Sentinel-1 polarisations, in the order of the ``"s1"`` channels."""
RESAMPLING = ("nearest", "bilinear")
"""How the 20 m and 60 m bands are brought to the 10 m grid (see the module docstring)."""

LABELS43: tuple[str, ...] = (
    "Continuous urban fabric",  # 111
    "Discontinuous urban fabric",  # 112
    "Industrial or commercial units",  # 121
    "Road and rail networks and associated land",  # 122
    "Port areas",  # 123
    "Airports",  # 124
    "Mineral extraction sites",  # 131
    "Dump sites",  # 132
    "Construction sites",  # 133
    "Green urban areas",  # 141
    "Sport and leisure facilities",  # 142
    "Non-irrigated arable land",  # 211
    "Permanently irrigated land",  # 212
    "Rice fields",  # 213
    "Vineyards",  # 221
    "Fruit trees and berry plantations",  # 222
    "Olive groves",  # 223
    "Pastures",  # 231
    "Annual crops associated with permanent crops",  # 241
    "Complex cultivation patterns",  # 242
    "Land principally occupied by agriculture, with significant areas of natural vegetation",
    "Agro-forestry areas",  # 244
    "Broad-leaved forest",  # 311
    "Coniferous forest",  # 312
    "Mixed forest",  # 313
    "Natural grassland",  # 321
    "Moors and heathland",  # 322
    "Sclerophyllous vegetation",  # 323
    "Transitional woodland/shrub",  # 324
    "Beaches, dunes, sands",  # 331
    "Bare rock",  # 332
    "Sparsely vegetated areas",  # 333
    "Burnt areas",  # 334 (335, glaciers and perpetual snow, never occurs in BigEarthNet)
    "Inland marshes",  # 411
    "Peatbogs",  # 412
    "Salt marshes",  # 421
    "Salines",  # 422
    "Intertidal flats",  # 423
    "Water courses",  # 511
    "Water bodies",  # 512
    "Coastal lagoons",  # 521
    "Estuaries",  # 522
    "Sea and ocean",  # 523
)
"""The 43 CORINE level-3 classes of BigEarthNet v1, in CORINE code order (index of ``labels43``)."""

LABELS19: tuple[str, ...] = (
    "Urban fabric",
    "Industrial or commercial units",
    "Arable land",
    "Permanent crops",
    "Pastures",
    "Complex cultivation patterns",
    "Land principally occupied by agriculture, with significant areas of natural vegetation",
    "Agro-forestry areas",
    "Broad-leaved forest",
    "Coniferous forest",
    "Mixed forest",
    "Natural grassland and sparsely vegetated areas",
    "Moors, heathland and sclerophyllous vegetation",
    "Transitional woodland, shrub",
    "Beaches, dunes, sands",
    "Inland wetlands",
    "Coastal wetlands",
    "Inland waters",
    "Marine waters",
)
"""The 19-class nomenclature (Sumbul et al.), in its published order (index of ``labels19``)."""


def _nomenclature_19() -> dict[str, str | None]:
    """Map each of the 43 classes to its 19-class class, or None where the class was dropped.

    Dropped (Sumbul et al. 2021): the artificial classes other than urban fabric and industrial
    or commercial units, and bare rock, burnt areas and intertidal flats, which the authors
    judged not to be recognisable from the Sentinel images alone. Merged: classes within one
    CORINE level-2 group that the images do not tell apart.
    """
    same = [
        "Industrial or commercial units", "Pastures", "Complex cultivation patterns",
        LABELS43[20], "Agro-forestry areas", "Broad-leaved forest", "Coniferous forest",
        "Mixed forest", "Beaches, dunes, sands",
    ]  # fmt: skip
    groups = {
        "Urban fabric": ["Continuous urban fabric", "Discontinuous urban fabric"],
        "Arable land": ["Non-irrigated arable land", "Permanently irrigated land", "Rice fields"],
        "Permanent crops": [
            "Vineyards", "Fruit trees and berry plantations", "Olive groves",
            "Annual crops associated with permanent crops",
        ],
        LABELS19[11]: ["Natural grassland", "Sparsely vegetated areas"],
        LABELS19[12]: ["Moors and heathland", "Sclerophyllous vegetation"],
        "Transitional woodland, shrub": ["Transitional woodland/shrub"],
        "Inland wetlands": ["Inland marshes", "Peatbogs"],
        "Coastal wetlands": ["Salt marshes", "Salines"],
        "Inland waters": ["Water courses", "Water bodies"],
        "Marine waters": ["Coastal lagoons", "Estuaries", "Sea and ocean"],
    }  # fmt: skip
    to19: dict[str, str | None] = dict.fromkeys(LABELS43)
    to19.update({name: name for name in same})
    to19.update({old: new for new, olds in groups.items() for old in olds})
    return to19


TO_19: dict[str, str | None] = _nomenclature_19()
"""Each of the 43 class names -> its 19-class name, or None for the 11 classes left out."""


class PackageMissingError(DataFileError):
    """The package that ships the examples and split lists is not installed."""


@dataclass(frozen=True)
class Pair:
    """One S2 patch and the S1 patch that names it.

    Attributes:
        s2_name: S2 patch name (also its folder's name), e.g. ``S2A_MSIL2A_20170613T101031_87_48``.
        s1_name: S1 patch name.
        s2_dir: Folder of the S2 patch.
        s1_dir: Folder of the S1 patch.
        labels: CORINE level-3 class names from the S2 metadata, as listed there.
    """

    s2_name: str
    s1_name: str
    s2_dir: Path
    s1_dir: Path
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Skipped:
    """A pair left out with ``on_error="skip"``, and why.

    Attributes:
        path: The pair's S2 patch folder (which may be the missing part), or the S1 folder
            when its metadata does not name an S2 patch, or names one already paired.
        reason: What is wrong, naming the file at fault.
    """

    path: Path
    reason: str


# --------------------------------------------------------------------------- package files


def package_file(name: str) -> Path:
    """Locate one file of the installed package and check its SHA-256.

    The package is found with ``importlib.util.find_spec`` and never imported.

    Args:
        name: A file name of :data:`PACKAGE_FILES`.

    Returns:
        Its path inside the installed package.

    Raises:
        PackageMissingError: If the package is not installed.
        DataFileError: If the file is missing or its hash differs (another release).
    """
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise PackageMissingError(
            f"the Python package {PACKAGE_PIN} (the BigEarthNet example pairs and split lists) "
            f"is not installed: pip install '{PACKAGE_PIN}' (or the project's 'data' extra)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / name
    if not path.is_file():
        raise DataFileError(f"{path} is missing from the installed {PACKAGE}; need {PACKAGE_PIN}")
    actual = sha256(path)
    if actual != PACKAGE_FILES[name]:
        raise DataFileError(
            f"{path} has SHA-256 {actual}, expected {PACKAGE_FILES[name]}: install {PACKAGE_PIN}"
        )
    return path


def example_roots(cache_dir: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """Extract the package's example archives once; return the S2 and S1 example folders.

    Each archive is unpacked into a temporary folder beside its destination and renamed into
    place, so a concurrent reader sees either nothing or the whole tree. The destination's name
    holds the archive's hash, so another release never reuses a stale tree.

    Args:
        cache_dir: Folder to extract into (created if needed); default: the user cache folder
            ``pooch.os_cache("aligninfo") / "bigearthnet"``.

    Returns:
        ``{"s2": folder of the six S2 patch folders, "s1": folder of the six S1 patch folders}``.

    Raises:
        PackageMissingError: If the package is not installed.
        DataFileError: If an archive's hash differs or it holds something else than its folder.
    """
    if cache_dir is None:
        root = Path(pooch.os_cache("aligninfo")) / "bigearthnet"
    else:
        root = Path(cache_dir)
    return {sensor: _extracted(sensor, root) for sensor in ("s2", "s1")}


def examples_as_download(
    folder: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Lay the six example pairs out as a v1 download, in links to the extracted examples.

    ``folder/BigEarthNet-v1.0`` and ``folder/BigEarthNet-S1-v1.0`` link to the folders of
    :func:`example_roots`. For trying what reads a download (``from_archive``,
    ``python -m aligninfo pretrain bigearthnet``, chapter 13's ``data_dir``) without one.

    Args:
        folder: The folder to create (or reuse: links already there are kept).
        cache_dir: Where the examples are extracted (see :func:`example_roots`).

    Returns:
        ``folder``.

    Raises:
        PackageMissingError: If the package that ships the examples is not installed.
    """
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    for sensor, path in example_roots(cache_dir).items():
        link = root / ARCHIVE_FOLDERS[sensor]
        if not link.exists():
            link.symlink_to(path, target_is_directory=True)
    return root


def _extracted(sensor: str, root: Path) -> Path:
    """Extract one example archive under ``root`` (if not done yet); return its top folder."""
    top = EXAMPLE_FOLDERS[sensor]
    archive = package_file(f"{top}.tar.bz2")
    home = root / f"{top}-{PACKAGE_FILES[archive.name][:16]}"
    if (home / top).is_dir():
        return home / top
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{top}-", dir=root))
    try:
        with tarfile.open(archive, "r:bz2") as tar:
            outside = [m.name for m in tar.getmembers() if m.name.split("/")[0] != top]
            if outside:
                raise DataFileError(f"{archive}: unexpected members outside {top}/: {outside[:3]}")
            tar.extractall(scratch, filter="data")
        os.rename(scratch, home)  # atomic; fails if another process got there first
    except OSError:
        if not (home / top).is_dir():
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return home / top


@functools.cache
def official_splits() -> Mapping[str, str]:
    """The official split of each listed S2 patch name.

    Returns:
        Read-only mapping S2 patch name -> ``"train"``, ``"val"`` or ``"test"`` (patches under
        snow, clouds or shadows, and those without a 19-class label, are in no list).

    Raises:
        PackageMissingError: If the package is not installed.
        DataFileError: If a list's hash differs or a name is in two lists.
    """
    split: dict[str, str] = {}
    for part in SPLITS:
        path = package_file(f"{part}.csv.bz2")
        for name in bz2.decompress(path.read_bytes()).decode().split():
            if split.setdefault(name, part) != part:
                raise DataFileError(f"{path}: {name} is also in the {split[name]} list")
    return MappingProxyType(split)


# --------------------------------------------------------------------------- labels


def labels_to_19(labels: Iterable[str]) -> tuple[str, ...]:
    """Translate level-3 class names to the 19-class nomenclature.

    Args:
        labels: Names of :data:`LABELS43`.

    Returns:
        The distinct 19-class names they map to, in :data:`LABELS19` order (possibly none).

    Raises:
        KeyError: For a name that is not one of the 43 classes.
    """
    mapped = set()
    for label in labels:
        if label not in TO_19:
            raise KeyError(f"{label!r} is not one of the 43 BigEarthNet classes")
        mapped.add(TO_19[label])
    return tuple(name for name in LABELS19 if name in mapped)


def multi_hot(labels: Iterable[str], classes: Sequence[str]) -> np.ndarray:
    """Encode class names as a multi-hot vector.

    Args:
        labels: Class names, each in ``classes``.
        classes: The nomenclature (:data:`LABELS43` or :data:`LABELS19`).

    Returns:
        (len(classes),) float32 array: 1 at each named class, 0 elsewhere.

    Raises:
        ValueError: For a name not in ``classes``.
    """
    out = np.zeros(len(classes), dtype=np.float32)
    out[[classes.index(label) for label in labels]] = 1.0
    return out


# --------------------------------------------------------------------------- scanning


def _metadata(folder: Path) -> dict[str, Any]:
    """Read ``<folder>/<folder name>_labels_metadata.json`` and check its labels."""
    path = folder / f"{folder.name}_labels_metadata.json"
    try:
        content = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        hint = _nesting_hint(folder) if isinstance(err, FileNotFoundError) else ""
        raise DataFileError(f"{path}: cannot be read as JSON metadata ({err}){hint}") from err
    labels = content.get("labels") if isinstance(content, dict) else None
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise DataFileError(f"{path}: expected a list of class names under 'labels'")
    unknown = [label for label in labels if label not in TO_19]
    if unknown:
        raise DataFileError(f"{path}: {unknown} not among the 43 BigEarthNet classes")
    return content


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    """The entries of a folder; stop, naming it, if it cannot be listed (e.g. no permission)."""
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except OSError as err:
        raise DataFileError(f"{folder}: cannot list the folder ({err})") from err


def _nesting_hint(folder: Path) -> str:
    """What to say when a folder taken for a patch holds folders (a layout nested deeper)."""
    inner = sorted(entry.name for entry in _entries(folder) if entry.is_dir())
    if not inner:
        return ""
    return (
        f"; {folder} holds folders ({inner[0]}, ...), not a patch's files: patches nested one "
        "level deeper (BigEarthNet v2 groups them by tile; an archive unpacked into a folder of "
        "its own name) are not the v1 layout read here: give the folder of the patch folders"
    )


def _band_files(folder: Path, bands: Sequence[str]) -> list[Path]:
    """The band files of one patch folder; stop naming the first one missing."""
    files = [folder / f"{folder.name}_{band}.tif" for band in bands]
    present = {entry.name for entry in _entries(folder)}
    for path in files:
        if path.name not in present:
            raise DataFileError(f"{path}: band file missing")
    return files


def _s2_name_of(s1_dir: Path) -> str:
    """The S2 patch name that an S1 patch folder's metadata names."""
    s2_name = _metadata(s1_dir).get("corresponding_s2_patch")
    path = s1_dir / f"{s1_dir.name}_labels_metadata.json"
    if not isinstance(s2_name, str) or not s2_name:
        raise DataFileError(f"{path}: no 'corresponding_s2_patch'")
    if s2_name != Path(s2_name).name or s2_name.startswith("."):
        raise DataFileError(f"{path}: 'corresponding_s2_patch' {s2_name!r} is not a patch name")
    return s2_name


def _pair_of(s1_dir: Path, s2_dir: Path) -> Pair:
    """Build one pair: the S2 folder present, its labels, both band sets present."""
    if not s2_dir.is_dir():
        raise DataFileError(f"{s1_dir}: its S2 patch {s2_dir} is missing (unpaired S1 patch)")
    labels = tuple(_metadata(s2_dir)["labels"])
    _band_files(s2_dir, S2_BANDS)
    _band_files(s1_dir, S1_BANDS)
    return Pair(s2_dir.name, s1_dir.name, s2_dir, s1_dir, labels)


def _check_root(root: Path) -> None:
    """Stop, naming it, unless ``root`` is a folder."""
    if not root.is_dir():
        raise DataFileError(f"{root}: patch folder root does not exist")


def _folders(root: Path) -> list[Path]:
    """Patch folders directly under ``root``, sorted by name; hidden ones (``.*``) left out."""
    _check_root(root)
    return sorted(
        Path(entry.path)
        for entry in _entries(root)
        if entry.is_dir() and not entry.name.startswith(".")
    )


def scan(
    s2_root: Path,
    s1_root: Path,
    split: str | None = None,
    on_error: Literal["raise", "skip"] = "raise",
) -> tuple[list[Pair], list[Skipped]]:
    """Pair every S1 patch with the S2 patch its metadata names, checking files and labels.

    Checked here: both roots present, both metadata files (readable JSON, known class names),
    every band file present, the S2 patch present, every S2 patch claimed by exactly one S1
    patch. Hidden folders (names starting with ``.``, e.g. ``.ipynb_checkpoints``) are not patch
    folders and are passed over. Not checked: the band files' content (see
    :meth:`BigEarthNetPairs.verify`).

    Args:
        s2_root: Folder of the S2 patch folders.
        s1_root: Folder of the S1 patch folders.
        split: Keep only the pairs whose S2 patch is in this official list (None: all).
        on_error: ``"raise"`` stops at the first problem; ``"skip"`` leaves the pair out.

    Returns:
        ``(pairs sorted by S2 name, skipped)``.

    Raises:
        DataFileError: On a problem, naming the file or folder, with ``on_error="raise"``.
    """
    _check_root(s2_root)  # both roots first: a missing one is named, not each pair's part
    _check_root(s1_root)
    listed = official_splits() if split is not None else None
    pairs: list[Pair] = []
    skipped: list[Skipped] = []
    claimed: dict[str, Path] = {}
    for s1_dir in _folders(s1_root):
        where = s1_dir
        try:
            s2_name = _s2_name_of(s1_dir)
            if s2_name in claimed:
                raise DataFileError(
                    f"{s1_dir}: names S2 patch {s2_name}, already paired with {claimed[s2_name]}"
                )
            claimed[s2_name] = s1_dir
            where = s2_root / s2_name
            if listed is None or listed.get(s2_name) == split:
                pairs.append(_pair_of(s1_dir, s2_root / s2_name))
        except DataFileError as err:
            _fail(err, where, on_error, skipped)
    for s2_dir in _folders(s2_root):
        if s2_dir.name not in claimed and (listed is None or listed.get(s2_dir.name) == split):
            error = DataFileError(f"{s2_dir}: no S1 patch under {s1_root} names this S2 patch")
            _fail(error, s2_dir, on_error, skipped)
    return sorted(pairs, key=lambda p: p.s2_name), skipped


def _fail(err: DataFileError, where: Path, on_error: str, skipped: list[Skipped]) -> None:
    """Raise ``err``, or record it as a skipped patch."""
    if on_error != "skip":
        raise err
    skipped.append(Skipped(where, str(err)))


# --------------------------------------------------------------------------- reading bands


Footprint = tuple[float, float, float, float]
"""Ground bounds of a band file: (left, bottom, right, top), in its CRS's units (metres, UTM)."""
FOOTPRINT_TOLERANCE = 5.0
"""Largest difference (m, half a 10 m pixel) between the bounds of a patch's band files."""


def _read_band(path: Path, side: int, kind: str) -> tuple[np.ndarray, Footprint]:
    """Decode one single-band GeoTIFF; stop, naming it, unless it is ``side`` x ``side``.

    Returns:
        The (side, side) array and the file's ground bounds.
    """
    try:
        with rasterio.open(path) as src:
            if src.count != 1 or src.shape != (side, side):
                raise DataFileError(
                    f"{path}: expected 1 band of {side} x {side} pixels, "
                    f"got {src.count} of {src.shape[0]} x {src.shape[1]}"
                )
            array = src.read(1)
            bounds = tuple(float(x) for x in src.bounds)
    except DataFileError:
        raise
    except Exception as err:  # GDAL raises rasterio's errors and its own CPLE_* on bad files
        raise DataFileError(f"{path}: cannot be read as a GeoTIFF ({err})") from err
    if array.dtype.kind not in kind:
        raise DataFileError(f"{path}: expected dtype kind {kind!r}, got {array.dtype}")
    return array, (bounds[0], bounds[1], bounds[2], bounds[3])


def _read_bands(
    files: Sequence[Path], sides: Sequence[int], kind: str, footprint: tuple[Path, Footprint] | None
) -> tuple[list[np.ndarray], tuple[Path, Footprint]]:
    """Decode band files that must cover one ground square.

    Args:
        files: The band files.
        sides: Each file's side in pixels.
        kind: The dtype kinds accepted (``"u"``, ``"f"``).
        footprint: The file and bounds the bands must match (the S2 patch's, for S1 bands);
            None: the first band's.

    Returns:
        The arrays, and the footprint they match.

    Raises:
        DataFileError: Naming the file, if one is unreadable or mis-sized, or its bounds differ
            from the footprint's by more than :data:`FOOTPRINT_TOLERANCE`.
    """
    arrays = []
    for path, side in zip(files, sides, strict=True):
        array, bounds = _read_band(path, side, kind)
        if footprint is None:
            footprint = (path, bounds)
        elif max(abs(a - b) for a, b in zip(bounds, footprint[1], strict=True)) > (
            FOOTPRINT_TOLERANCE
        ):
            raise DataFileError(
                f"{path}: covers {bounds} (left, bottom, right, top), not the ground square "
                f"{footprint[1]} of {footprint[0]}"
            )
        arrays.append(array)
    assert footprint is not None, "no band files"
    return arrays, footprint


def _native_s2(folder: Path) -> tuple[list[np.ndarray], tuple[Path, Footprint]]:
    """The 12 S2 bands at their native sizes (uint16), in :data:`S2_BANDS` order; footprint."""
    files = _band_files(folder, S2_BANDS)
    return _read_bands(files, _S2_SIDES, "u", None)


def _native_s1(folder: Path, footprint: tuple[Path, Footprint] | None = None) -> list[np.ndarray]:
    """The 2 S1 bands (float32 dB), in :data:`S1_BANDS` order, on ``footprint`` if given."""
    return _read_bands(_band_files(folder, S1_BANDS), [PATCH] * len(S1_BANDS), "f", footprint)[0]


def _to_grid(band: np.ndarray, resampling: str) -> np.ndarray:
    """Bring one (side, side) band to (120, 120) float32 by the stated resampling."""
    factor = PATCH // band.shape[0]
    band = band.astype(np.float32)
    if factor == 1:
        return band
    if resampling == "nearest":
        return np.repeat(np.repeat(band, factor, axis=0), factor, axis=1)
    grid = torch.nn.functional.interpolate(
        torch.from_numpy(band)[None, None], size=(PATCH, PATCH), mode="bilinear",
        align_corners=False,
    )  # fmt: skip
    return grid[0, 0].numpy()


def _stack_s2(bands: Sequence[np.ndarray], resampling: str) -> np.ndarray:
    """(12, 120, 120) float32 from the native bands."""
    return np.stack([_to_grid(band, resampling) for band in bands])


def read_s2(folder: str | os.PathLike[str], resampling: str = "nearest") -> np.ndarray:
    """Read one S2 patch folder onto the 10 m grid.

    Args:
        folder: The patch folder (named after the patch).
        resampling: One of :data:`RESAMPLING`.

    Returns:
        (12, 120, 120) float32, bands in :data:`S2_BANDS` order, reflectance x 10,000.

    Raises:
        DataFileError: Naming the file, if a band is missing, unreadable, of the wrong size
            or not on the first band's ground square.
        ValueError: For an unknown ``resampling``.
    """
    _check_resampling(resampling)
    return _stack_s2(_native_s2(Path(folder))[0], resampling)


def read_s1(folder: str | os.PathLike[str]) -> np.ndarray:
    """Read one S1 patch folder.

    Args:
        folder: The patch folder (named after the patch).

    Returns:
        (2, 120, 120) float32, VV then VH backscatter in dB.

    Raises:
        DataFileError: Naming the file, if a band is missing, unreadable, of the wrong size
            or not on the first band's ground square.
    """
    return np.stack(_native_s1(Path(folder)))


def _check_resampling(resampling: str) -> None:
    if resampling not in RESAMPLING:
        raise ValueError(f"resampling must be one of {RESAMPLING}, got {resampling!r}")


# --------------------------------------------------------------------------- decoded cache

_S2_SIDES = [PATCH * 10 // S2_RESOLUTION[band] for band in S2_BANDS]
_S2_BYTES = sum(2 * side * side for side in _S2_SIDES)
_CACHE_BYTES = _S2_BYTES + 4 * len(S1_BANDS) * PATCH * PATCH
CACHE_VERSION = "v1"
"""Version of the decoded-patch file layout (a new one never reads an old file)."""


def _pack(s2: Sequence[np.ndarray], s1: Sequence[np.ndarray]) -> np.ndarray:
    """One flat uint8 record of a pair's native bands: S2 as uint16, then S1 as float32."""
    parts = [band.astype("<u2").ravel() for band in s2] + [
        band.astype("<f4").ravel() for band in s1
    ]
    return np.concatenate([part.view(np.uint8) for part in parts])


def _unpack(record: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Inverse of :func:`_pack`."""
    s2, start = [], 0
    for side in _S2_SIDES:
        stop = start + 2 * side * side
        s2.append(record[start:stop].view("<u2").reshape(side, side))
        start = stop
    s1 = record[start:].view("<f4").reshape(len(S1_BANDS), PATCH, PATCH)
    return s2, list(s1)


def _write_atomic(path: Path, record: np.ndarray) -> None:
    """Save ``record`` as ``.npy`` through a temporary file renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".npy", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            np.save(out, record, allow_pickle=False)
        os.replace(scratch, path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- dataset


class BigEarthNetPairs(Dataset[dict[str, Any]]):
    """A torch Dataset of BigEarthNet S2 / S1 patch pairs with their labels.

    Worker-safe: the dataset holds only paths, names and labels (and its optional in-memory
    cache, which each worker process fills for itself); every file is opened inside
    ``__getitem__`` and closed before it returns, so nothing opened in one process is used in
    another, and the dataset pickles (spawned workers).

    Decoded patches can be cached: ``cache_dir`` keeps one ``.npy`` per pair (the native bands,
    275,200 bytes, about the size of the GeoTIFFs: roughly 160 GB for the 590,326 pairs of the
    full archive), written atomically (a temporary file renamed into place) so that workers and
    processes may fill one folder at once. A cache file is keyed by the S2 patch name only: clear
    the folder after changing the GeoTIFFs it was made from. A folder that refuses writing (e.g.
    read-only) is still read; the first failed write warns (``RuntimeWarning``, once per process)
    and later pairs are decoded without caching. ``memory_items`` keeps that many resampled pairs
    in a least-recently-used cache in each process.

    Attributes:
        pairs: The pairs, sorted by S2 patch name.
        skipped: Patches left out with ``on_error="skip"`` (by :func:`scan` or :meth:`verify`).
        resampling: How 20 m and 60 m bands reach the 10 m grid (:data:`RESAMPLING`).
        cache_dir: Folder of the decoded-patch cache, or None.
        memory_items: Capacity of the in-memory cache (0: none).
    """

    def __init__(
        self,
        s2_root: str | os.PathLike[str],
        s1_root: str | os.PathLike[str],
        split: str | None = None,
        *,
        on_error: Literal["raise", "skip"] = "raise",
        verify: bool = False,
        resampling: str = "nearest",
        cache_dir: str | os.PathLike[str] | None = None,
        memory_items: int = 0,
    ) -> None:
        """Scan the two folders (see :func:`scan`); optionally decode every pair once.

        Args:
            s2_root: Folder of the S2 patch folders (e.g. ``BigEarthNet-v1.0``).
            s1_root: Folder of the S1 patch folders (e.g. ``BigEarthNet-S1-v1.0``).
            split: ``"train"``, ``"val"`` or ``"test"``: the official list's pairs only; None:
                every pair found.
            on_error: ``"raise"``: stop at the first problem with a :class:`DataFileError`
                naming the file; ``"skip"``: leave the pair out and record it in
                :attr:`skipped`.
            verify: Decode every pair now (:meth:`verify`), so that unreadable or mis-sized
                band files are found (and skipped or raised) before training.
            resampling: One of :data:`RESAMPLING`.
            cache_dir: Folder of the decoded-patch cache (created when first written; read
                but not written where writing fails, with a warning).
            memory_items: Pairs kept decoded in memory, per process.

        Raises:
            ValueError: For an unknown ``split``, ``on_error`` or ``resampling``, or a negative
                ``memory_items``.
            DataFileError: See ``on_error``.
        """
        if split is not None and split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}")
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        if memory_items < 0:
            raise ValueError(f"memory_items must be >= 0, got {memory_items}")
        _check_resampling(resampling)
        self.on_error = on_error
        self.resampling = resampling
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.memory_items = memory_items
        self.pairs, self.skipped = scan(Path(s2_root), Path(s1_root), split, on_error)
        self._memory: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._cache_writable = True
        if verify:
            self.verify()

    @classmethod
    def examples(
        cls, extract_dir: str | os.PathLike[str] | None = None, **options: Any
    ) -> BigEarthNetPairs:
        """The six real example pairs shipped by ``bigearthnet-common``.

        Args:
            extract_dir: Where the archives are extracted (``cache_dir`` of
                :func:`example_roots`).
            **options: Keyword arguments of the constructor (``cache_dir`` among them: the
                decoded-patch cache, as for any other pairs).

        Returns:
            The dataset of the example pairs. Five of the six are in an official list (one in
            ``test``, four in ``train``); the sixth, ``S2B_MSIL2A_20180204T94161_57_38``, is
            under seasonal snow and in none (see :meth:`splits`).
        """
        roots = example_roots(extract_dir)
        return cls(roots["s2"], roots["s1"], **options)

    @classmethod
    def from_archive(
        cls, data_dir: str | os.PathLike[str], split: str | None = None, **options: Any
    ) -> BigEarthNetPairs:
        """The pairs of a full v1 download unpacked in ``data_dir``.

        Args:
            data_dir: Folder holding ``BigEarthNet-v1.0/`` and ``BigEarthNet-S1-v1.0/``.
            split: See the constructor.
            **options: Other keyword arguments of the constructor.

        Returns:
            The dataset.
        """
        root = Path(data_dir)
        return cls(root / ARCHIVE_FOLDERS["s2"], root / ARCHIVE_FOLDERS["s1"], split, **options)

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def labels19(self) -> np.ndarray:
        """(n, 19) float32 multi-hot 19-class labels of every pair, without decoding images."""
        rows = [multi_hot(labels_to_19(p.labels), LABELS19) for p in self.pairs]
        return np.stack(rows) if rows else np.zeros((0, len(LABELS19)), np.float32)

    def splits(self) -> list[str | None]:
        """The official split of each pair's S2 patch (None where it is in no list)."""
        listed = official_splits()
        return [listed.get(p.s2_name) for p in self.pairs]

    def __getitem__(self, index: int) -> dict[str, Any]:
        """Decode one pair.

        Args:
            index: Position in :attr:`pairs`.

        Returns:
            ``{"s2": (12, 120, 120) float32 tensor, "s1": (2, 120, 120) float32 tensor,
            "labels19": (19,) float32 multi-hot, "labels43": (43,) float32 multi-hot,
            "index": index, "s2_name": str, "s1_name": str}``.

        Raises:
            IndexError: For an index out of range.
            DataFileError: Naming the file, if a band file is missing, unreadable, mis-sized
                or off the pair's ground square.
        """
        index = range(len(self.pairs))[index]  # IndexError out of range; -1 is the last
        pair = self.pairs[index]
        s2, s1 = self._decoded(index)
        return {
            "s2": torch.from_numpy(s2),
            "s1": torch.from_numpy(s1),
            "labels19": torch.from_numpy(multi_hot(labels_to_19(pair.labels), LABELS19)),
            "labels43": torch.from_numpy(multi_hot(pair.labels, LABELS43)),
            "index": index,
            "s2_name": pair.s2_name,
            "s1_name": pair.s1_name,
        }

    def verify(self) -> None:
        """Decode every pair once (filling the disk cache, if any); handle failures.

        With ``on_error="skip"`` the pairs that fail leave :attr:`pairs` and join
        :attr:`skipped`; otherwise the first failure is raised.

        Raises:
            DataFileError: With ``on_error="raise"``, naming the first unreadable file.
        """
        kept = []
        for index, pair in enumerate(self.pairs):
            try:
                self._native(index)
            except DataFileError as err:
                _fail(err, pair.s2_dir, self.on_error, self.skipped)
                continue
            kept.append(pair)
        self.pairs = kept
        self._memory.clear()

    def _decoded(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The resampled pair, from memory, the disk cache or the GeoTIFFs."""
        if index in self._memory:  # copies: a caller may change what it gets in place
            self._memory.move_to_end(index)
            return self._memory[index][0].copy(), self._memory[index][1].copy()
        s2_native, s1_native = self._native(index)
        decoded = (_stack_s2(s2_native, self.resampling), np.stack(s1_native).astype(np.float32))
        if self.memory_items:
            self._memory[index] = (decoded[0].copy(), decoded[1].copy())
            if len(self._memory) > self.memory_items:
                self._memory.popitem(last=False)
        return decoded

    def _native(self, index: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The native bands of one pair, from the disk cache when it holds them."""
        pair = self.pairs[index]
        path = self._cache_path(pair)
        if path is not None and path.is_file():
            try:
                record = np.load(path, allow_pickle=False)
            except (OSError, ValueError, EOFError):
                record = None  # a damaged cache file is decoded again and replaced
            if record is not None and record.dtype == np.uint8 and record.size == _CACHE_BYTES:
                return _unpack(record)
        s2, footprint = _native_s2(pair.s2_dir)
        s1 = _native_s1(pair.s1_dir, footprint)
        if path is not None and self._cache_writable:
            self._store(path, _pack(s2, s1))
        return s2, s1

    def _store(self, path: Path, record: np.ndarray) -> None:
        """Write one cache file; on a folder that refuses it, warn once and stop writing."""
        try:
            _write_atomic(path, record)
        except OSError as err:
            self._cache_writable = False
            warnings.warn(
                f"{path.parent}: cannot write the decoded-patch cache ({err}); its files are "
                "still read, but pairs it lacks are decoded from the GeoTIFFs every time",
                RuntimeWarning,
                stacklevel=4,
            )

    def _cache_path(self, pair: Pair) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / CACHE_VERSION / f"{pair.s2_name}.npy"
