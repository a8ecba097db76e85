"""Paired patches from two co-registered rasters (two sensors over the same place).

Each sensor is one raster file or several (for instance one GeoTIFF per band), in any format GDAL
reads. The first file of the first sensor fixes the *reference grid* (CRS, transform, size);
every other file, of either sensor, whose grid differs (resolution, CRS, extent or pixel
alignment) is resampled onto it on the fly through a :class:`rasterio.vrt.WarpedVRT`, with the
resampling method chosen by the caller (``"bilinear"`` by default, for continuous values;
``"nearest"`` for classes, ``"average"`` to aggregate finer pixels). Files already on the
reference grid are read as they are. All reads are windowed: nothing larger than one strip of
patches is ever held in memory while scanning.

Patches of ``size`` x ``size`` pixels start at rows and columns ``0, stride, 2 * stride, ...`` of
the reference grid, as long as they fit (a remainder narrower than a patch at the right or bottom
edge is not covered).

Validity rule. A pixel is *invalid* for a sensor when, in any band of any of its files, GDAL
masks it (the file's nodata value, an internal mask band or an alpha band), its value is not
finite (NaN, infinity), or it lies outside that file's extent once resampled. A patch pair is
dropped when more than a fraction ``max_nodata`` of its pixels is invalid in either sensor (the
default 0 keeps only fully valid pairs); :attr:`PatchPairs.dropped` counts the dropped pairs.
Invalid pixels of a kept pair are set to ``fill_value`` and reported by the validity masks.

Band names come from the files' band descriptions (else the file name, with the band number for
multi-band files); values are scaled by the files' scales and offsets (``value * scale +
offset``, as GDAL defines them), and handed out as float32.

Example::

    from aligninfo.data.raster import PatchPairs, read_patch_pairs

    pairs = read_patch_pairs("optical.tif", "sar.tif", size=32, stride=16)
    pairs.first.shape, pairs.second.shape   # (n, bands1, 32, 32), (n, bands2, 32, 32)
    pairs.dropped                           # pairs left out by the validity rule

    with PatchPairs(["B02.tif", "B03.tif", "B04.tif"], ["VV.tif", "VH.tif"], size=60) as data:
        x1, x2 = data[0]                    # a map-style dataset (torch DataLoader accepts it)
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError
from rasterio.io import DatasetReader
from rasterio.transform import Affine
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from aligninfo.data.registry import DataFileError

PathLike = str | os.PathLike[str]
Files = PathLike | Sequence[PathLike]
"""One sensor: a raster file, or a sequence of files whose bands are stacked in that order."""


@dataclass(frozen=True)
class Grid:
    """The reference grid every patch is cut from: that of the first sensor's first file.

    Attributes:
        crs: Coordinate reference system (None when the file has none).
        transform: Affine map from (column, row) pixel corners to coordinates.
        height: Rows of the grid.
        width: Columns of the grid.
    """

    crs: CRS | None
    transform: Affine
    height: int
    width: int

    def window_transform(self, row: int, col: int) -> Affine:
        """Return the transform of the patch whose top-left pixel is (``row``, ``col``).

        Args:
            row: Row of the patch's top-left pixel.
            col: Column of the patch's top-left pixel.

        Returns:
            The affine transform of that patch (same resolution and CRS as the grid).
        """
        return self.transform @ Affine.translation(col, row)


@dataclass(frozen=True)
class Bands:
    """What one sensor's bands are, from its files' metadata.

    Attributes:
        files: The sensor's files, in the order their bands are stacked.
        names: (bands,) band names: descriptions, else file name (``stem_k`` for band k of a
            multi-band file without descriptions).
        scales: (bands,) float64 scale of each band (1 where the file gives none).
        offsets: (bands,) float64 offset of each band (0 where the file gives none).
    """

    files: tuple[Path, ...]
    names: tuple[str, ...]
    scales: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.names)


@dataclass(frozen=True, eq=False)
class PatchArrays:
    """Every kept patch pair as arrays (see :func:`read_patch_pairs`).

    Attributes:
        first: (n, bands1, size, size) float32 patches of the first sensor, scaled.
        second: (n, bands2, size, size) float32 patches of the second sensor on the same grid.
        valid_first: (n, size, size) bool, True where the first sensor's pixel is valid.
        valid_second: (n, size, size) bool, the same for the second sensor.
        origins: (n, 2) int64 (row, column) of each patch's top-left pixel on :attr:`grid`.
        dropped: Number of candidate pairs left out by the validity rule.
        first_bands: Names, scales and offsets of the first sensor's bands.
        second_bands: The same for the second sensor.
        grid: The reference grid (first sensor's first file).
    """

    first: np.ndarray
    second: np.ndarray
    valid_first: np.ndarray
    valid_second: np.ndarray
    origins: np.ndarray
    dropped: int
    first_bands: Bands
    second_bands: Bands
    grid: Grid


class _Source:
    """One file opened for reading on the reference grid (directly or through a WarpedVRT)."""

    def __init__(self, path: Path, grid: Grid, reference: Path, resampling: Resampling) -> None:
        self.path = path
        self.dataset = _open(path)
        self.view: DatasetReader | WarpedVRT = self.dataset
        if not _same_grid(self.dataset, grid):
            try:
                _check_overlap(self.dataset, path, grid, reference)
                self.view = WarpedVRT(
                    self.dataset,
                    crs=grid.crs,
                    transform=grid.transform,
                    width=grid.width,
                    height=grid.height,
                    resampling=resampling,
                    nodata=np.nan,
                    dtype="float32",
                )
            except Exception:
                self.dataset.close()
                raise

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """Read one window of the reference grid.

        Args:
            window: Window of the reference grid.

        Returns:
            ``(values, valid)``: (bands, h, w) float32 raw values (unscaled) and (h, w) bool,
            True where every band is unmasked and finite.
        """
        try:
            values = self.view.read(window=window, out_dtype="float32")
            masks = self.view.read_masks(window=window)
        except RasterioIOError as err:
            raise DataFileError(f"{self.path}: reading failed ({err})") from err
        valid = np.all(masks > 0, axis=0) & np.all(np.isfinite(values), axis=0)
        return values, valid

    def close(self) -> None:
        """Close the VRT (if any) and the file."""
        if self.view is not self.dataset:
            self.view.close()
        self.dataset.close()


class PatchPairs:
    """Paired patches of two sensors on one grid, as a map-style dataset.

    Opening checks every file and scans both sensors once, one full-width strip of patch rows
    at a time, to find the kept pairs (so it costs about one pass over the data when the stride
    equals the size); items are then read on demand, one window per file. File handles are
    opened per process (a torch ``DataLoader`` with workers reopens them in each worker) and
    are not pickled.

    Args:
        first: The first sensor's file or files; its first file fixes the reference grid.
        second: The second sensor's file or files, resampled onto that grid when needed.
        size: Patch side in pixels of the reference grid.
        stride: Step between patch origins in pixels (default: ``size``, no overlap).
        resampling: Name of a :class:`rasterio.enums.Resampling` method (or the enum) used for
            files not on the reference grid.
        max_nodata: Largest fraction of invalid pixels a patch may hold in either sensor, in
            [0, 1].
        fill_value: Value given to invalid pixels of kept patches.

    Raises:
        DataFileError: If a file is missing or GDAL cannot read it, a file off the reference
            grid lacks a CRS (while the grid has one, or the other way round), or does not
            overlap the reference grid; the error names the file.
        ValueError: For a size or stride that is not a positive integer, a patch larger than
            the reference grid (naming its file), an unknown resampling method, or
            ``max_nodata`` outside [0, 1], or a sensor given no file.
    """

    def __init__(
        self,
        first: Files,
        second: Files,
        size: int,
        stride: int | None = None,
        *,
        resampling: str | Resampling = "bilinear",
        max_nodata: float = 0.0,
        fill_value: float = 0.0,
    ) -> None:
        self.files = (_paths(first, "first"), _paths(second, "second"))
        reference = self.files[0][0]
        self.size = _positive(size, "size", reference)
        self.stride = self.size if stride is None else _positive(stride, "stride", reference)
        self.resampling = _resampling(resampling)
        if not 0.0 <= max_nodata <= 1.0:
            raise ValueError(f"max_nodata={max_nodata}: expected a fraction in [0, 1]")
        self.max_nodata = float(max_nodata)
        self.fill_value = float(fill_value)
        with _open(reference) as dataset:
            self.grid = Grid(dataset.crs, dataset.transform, dataset.height, dataset.width)
        if self.size > min(self.grid.height, self.grid.width):
            raise ValueError(
                f"size={self.size}: patches larger than {reference}'s grid "
                f"({self.grid.height} x {self.grid.width} pixels)"
            )
        self._handles: tuple[int, list[list[_Source]]] | None = None
        self.bands = tuple(_bands(files) for files in self.files)
        self.origins, self.dropped = self._scan()

    @property
    def first_bands(self) -> Bands:
        """Names, scales and offsets of the first sensor's bands."""
        return self.bands[0]

    @property
    def second_bands(self) -> Bands:
        """Names, scales and offsets of the second sensor's bands."""
        return self.bands[1]

    def __len__(self) -> int:
        return int(self.origins.shape[0])

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Read the ``index``-th kept pair.

        Args:
            index: Position among the kept pairs (negative counts from the end).

        Returns:
            ``(x1, x2)``: (bands1, size, size) and (bands2, size, size) float32, scaled, invalid
            pixels set to ``fill_value``.
        """
        x1, x2, _, _ = self.read(index)
        return x1, x2

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield every kept pair in order, as :meth:`__getitem__` does."""
        for index in range(len(self)):
            yield self[index]

    def read(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Read the ``index``-th kept pair with its validity masks.

        Args:
            index: Position among the kept pairs (negative counts from the end).

        Returns:
            ``(x1, x2, valid1, valid2)``: the patches as in :meth:`__getitem__` and two
            (size, size) bool masks, True where the sensor's pixel is valid.

        Raises:
            IndexError: If ``index`` is out of range.
        """
        if not -len(self) <= index < len(self):
            raise IndexError(f"patch pair {index} out of range for {len(self)} kept pairs")
        row, col = (int(v) for v in self.origins[index])
        window = Window(col, row, self.size, self.size)
        out = [self._read_sensor(k, window) for k in (0, 1)]
        for values, valid in out:
            values[:, ~valid] = self.fill_value
        return out[0][0], out[1][0], out[0][1], out[1][1]

    def arrays(self) -> PatchArrays:
        """Read every kept pair into arrays.

        Returns:
            The patches, masks and origins, with the band metadata and the dropped count.
        """
        reads = [self.read(i) for i in range(len(self))]
        side = (self.size, self.size)
        empty = [np.zeros((0, len(self.bands[k]), *side), np.float32) for k in (0, 1)]
        empty += [np.zeros((0, *side), bool)] * 2
        stack = [np.stack(part) for part in zip(*reads, strict=True)] if reads else empty
        return PatchArrays(
            first=stack[0],
            second=stack[1],
            valid_first=stack[2],
            valid_second=stack[3],
            origins=self.origins.copy(),
            dropped=self.dropped,
            first_bands=self.bands[0],
            second_bands=self.bands[1],
            grid=self.grid,
        )

    def close(self) -> None:
        """Close every file this process opened (they reopen on the next read)."""
        if self._handles is not None and self._handles[0] == os.getpid():
            for sources in self._handles[1]:
                for source in sources:
                    source.close()
        self._handles = None

    def __enter__(self) -> PatchPairs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_handles"] = None
        return state

    def _sources(self) -> list[list[_Source]]:
        """The open files of both sensors, opened once per process."""
        if self._handles is None or self._handles[0] != os.getpid():
            reference = self.files[0][0]
            sources: list[list[_Source]] = []
            try:
                for files in self.files:
                    sources.append([])
                    for path in files:
                        sources[-1].append(_Source(path, self.grid, reference, self.resampling))
            except Exception:
                for opened in sources:
                    for source in opened:
                        source.close()
                raise
            self._handles = (os.getpid(), sources)
        return self._handles[1]

    def _read_sensor(self, sensor: int, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """Read one window of one sensor: (bands, h, w) float32 scaled values, (h, w) valid."""
        reads = [source.read(window) for source in self._sources()[sensor]]
        values = np.concatenate([v for v, _ in reads])
        valid = np.logical_and.reduce([m for _, m in reads])
        bands = self.bands[sensor]
        scaled = values * bands.scales[:, None, None] + bands.offsets[:, None, None]
        return scaled.astype(np.float32), valid

    def _scan(self) -> tuple[np.ndarray, int]:
        """Find the kept patch origins, one full-width strip of rows at a time.

        Returns:
            ``(origins, dropped)``: (n, 2) int64 (row, column) of the kept patches, and the
            number of candidates dropped by the validity rule.
        """
        size, grid = self.size, self.grid
        cols = np.arange(0, grid.width - size + 1, self.stride)
        kept: list[tuple[int, int]] = []
        candidates = 0
        for row in range(0, grid.height - size + 1, self.stride):
            strip = Window(0, row, grid.width, size)
            ok = np.ones(len(cols), dtype=bool)
            for sensor in (0, 1):
                _, valid = self._read_sensor(sensor, strip)
                per_col = np.concatenate([[0], np.cumsum((~valid).sum(axis=0))])
                invalid = (per_col[cols + size] - per_col[cols]) / (size * size)
                ok &= invalid <= self.max_nodata
            kept += [(row, int(c)) for c in cols[ok]]
            candidates += len(cols)
        origins = np.array(kept, dtype=np.int64).reshape(-1, 2)
        return origins, candidates - len(kept)


def read_patch_pairs(
    first: Files,
    second: Files,
    size: int,
    stride: int | None = None,
    *,
    resampling: str | Resampling = "bilinear",
    max_nodata: float = 0.0,
    fill_value: float = 0.0,
) -> PatchArrays:
    """Cut paired patches from two sensors' rasters and return them as arrays.

    See :class:`PatchPairs` for the arguments, the errors and the validity rule.

    Args:
        first: The first sensor's file or files; its first file fixes the reference grid.
        second: The second sensor's file or files, resampled onto that grid when needed.
        size: Patch side in pixels of the reference grid.
        stride: Step between patch origins (default: ``size``).
        resampling: Resampling method for files off the reference grid.
        max_nodata: Largest fraction of invalid pixels a kept patch may hold in either sensor.
        fill_value: Value given to invalid pixels of kept patches.

    Returns:
        The kept pairs: ``first`` (n, bands1, size, size), ``second`` (n, bands2, size, size),
        masks, origins, band metadata and the number dropped.
    """
    with PatchPairs(
        first,
        second,
        size,
        stride,
        resampling=resampling,
        max_nodata=max_nodata,
        fill_value=fill_value,
    ) as pairs:
        return pairs.arrays()


def _paths(files: Files, which: str) -> tuple[Path, ...]:
    """One sensor's files as a non-empty tuple of paths."""
    if isinstance(files, str | os.PathLike):
        return (Path(files),)
    paths = tuple(Path(f) for f in files)
    if not paths:
        raise ValueError(f"the {which} sensor has no file")
    return paths


def _positive(value: int, name: str, reference: Path) -> int:
    """Stop unless ``value`` is a positive integer (patch size or stride)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(
            f"{name}={value!r}: expected a positive whole number of pixels of {reference}'s grid"
        )
    return int(value)


def _resampling(method: str | Resampling) -> Resampling:
    """The Resampling enum named by ``method``."""
    if isinstance(method, Resampling):
        return method
    try:
        return Resampling[method]
    except KeyError:
        known = ", ".join(r.name for r in Resampling)
        raise ValueError(f"unknown resampling {method!r}; expected one of: {known}") from None


def _open(path: Path) -> DatasetReader:
    """Open a raster, with errors that name the file."""
    if not path.is_file():
        raise DataFileError(f"{path}: no such file")
    try:
        return rasterio.open(path)
    except RasterioIOError as err:
        raise DataFileError(f"{path}: GDAL cannot read it as a raster ({err})") from err


def _same_grid(dataset: DatasetReader, grid: Grid) -> bool:
    """Whether a file lies exactly on the reference grid (same CRS, transform and size)."""
    return (
        dataset.crs == grid.crs
        and (dataset.height, dataset.width) == (grid.height, grid.width)
        and dataset.transform.almost_equals(grid.transform)
    )


def _check_overlap(dataset: DatasetReader, path: Path, grid: Grid, reference: Path) -> None:
    """Stop unless a file off the reference grid can be resampled onto it and overlaps it."""
    if dataset.crs is None or grid.crs is None:
        lacking = path if dataset.crs is None else reference
        raise DataFileError(
            f"{lacking}: has no CRS, so {path} cannot be resampled onto {reference}'s grid"
        )
    left, bottom, right, top = transform_bounds(dataset.crs, grid.crs, *dataset.bounds)
    x0, y0 = grid.transform @ (0, 0)
    x1, y1 = grid.transform @ (grid.width, grid.height)
    overlap_x = min(right, max(x0, x1)) - max(left, min(x0, x1))
    overlap_y = min(top, max(y0, y1)) - max(bottom, min(y0, y1))
    if overlap_x <= 0 or overlap_y <= 0:
        raise DataFileError(f"{path}: does not overlap {reference} (no pixel in common)")


def _bands(files: tuple[Path, ...]) -> Bands:
    """Band names, scales and offsets of one sensor, from its files' metadata."""
    names: list[str] = []
    scales: list[float] = []
    offsets: list[float] = []
    for path in files:
        with _open(path) as dataset:
            count = dataset.count
            for k, description in enumerate(dataset.descriptions):
                default = path.stem if count == 1 else f"{path.stem}_{k + 1}"
                names.append(description or default)
            scales += [1.0 if s is None else float(s) for s in dataset.scales]
            offsets += [0.0 if o is None else float(o) for o in dataset.offsets]
    return Bands(tuple(files), tuple(names), np.array(scales), np.array(offsets))
