"""Write the tests' small fake data files, in the layout of the real ones.

The real data (``lfmc/``, ``houston2013/``; see the project README) are not part of the
repository, so on a clone without them the loaders' tests would only skip. These files have the
real names, formats, dtypes, band counts and value ranges, with few samples:

- ``lfmc/``: 24 samples from 6 sites (2 of them test sites), NumPy ``.npy`` files and
  ``train_test_split.json``, as in Presto's ``data/fuel_moisture``.
- ``houston2013/``: 2 training pixels and 1 test pixel per class, MATLAB 5 ``.mat`` files with
  one variable each, as in the MDL-RS repository.

It also writes ``SHA256SUMS`` (``<hash>  <dataset>/<file>``), from which the tests point the
registry at these files. The output depends only on this script (a seeded generator, no time
stamps): a test checks that the committed files equal what it writes. Rewrite them with::

    python tests/data/make_fake.py            # into tests/data, next to this script
    python tests/data/make_fake.py OUT_DIR    # elsewhere
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path

import numpy as np
import scipy.io

SEED = 20131
N_SITES, N_TEST_SITES, PER_SITE = 6, 2, 4
N_CLASSES, PER_CLASS_TRAIN, PER_CLASS_TEST = 15, 2, 1
N_HSI, N_LIDAR = 144, 21
MAT_HEADER = b"MATLAB 5.0 MAT-file, fake data for tests, written by tests/data/make_fake.py"


def uniform(
    rng: np.random.Generator, low: float, high: float, shape: tuple[int, ...]
) -> np.ndarray:
    """Uniform draws in [low, high) (only ``Generator.random``, whose stream is stable)."""
    return low + (high - low) * rng.random(shape)


def lfmc_files(rng: np.random.Generator) -> dict[str, bytes]:
    """The seven LFMC files: 18 bands at 3 monthly steps, targets, sites and their split."""
    n = N_SITES * PER_SITE
    sites = np.array([f"Fake Site {chr(65 + i)}" for i in range(N_SITES)]).repeat(PER_SITE)
    test_sites = set(sites[-N_TEST_SITES * PER_SITE :].tolist())
    x = np.empty((n, 3, 18))
    x[:, :, 0:2] = uniform(rng, -25.0, -5.0, (n, 3, 2))  # VV, VH (dB)
    x[:, :, 2:13] = uniform(rng, 200.0, 5000.0, (n, 3, 11))  # B2..B12, reflectance x 1e4
    x[:, :, 13] = uniform(rng, 265.0, 305.0, (n, 3))  # temperature_2m (K)
    x[:, :, 14] = uniform(rng, 0.0, 0.01, (n, 3))  # total_precipitation (m)
    x[:, :, 15] = uniform(rng, 0.0, 3000.0, (n, 1))  # elevation (m), constant per sample
    x[:, :, 16] = uniform(rng, 0.0, 40.0, (n, 1))  # slope (degrees)
    red, nir = x[:, :, 4], x[:, :, 8]  # B4, B8
    x[:, :, 17] = (nir - red) / (nir + red)  # NDVI
    first = np.floor(uniform(rng, 0.0, 12.0, (n, 1))).astype(np.int64)
    months = (first + np.arange(3)) % 12
    latlon = np.column_stack([uniform(rng, 30.0, 48.0, n), uniform(rng, -122.0, -100.0, n)])
    split = {site: "test" if site in test_sites else "train" for site in dict.fromkeys(sites)}
    arrays = {
        "s1_s2_era5_srtm.npy": x,
        "target.npy": uniform(rng, 40.0, 250.0, (n,)),
        "is_test.npy": np.array([site in test_sites for site in sites], dtype=np.int64),
        "site.npy": sites,
        "latlon.npy": latlon,
        "month.npy": months,
    }
    files = {name: npy_bytes(array) for name, array in arrays.items()}
    files["train_test_split.json"] = json.dumps(split).encode()
    return files


def houston_files(rng: np.random.Generator) -> dict[str, bytes]:
    """The five Houston files: class-dependent features in [0, 1] and labels 1-15 as uint8."""
    files = {}
    for part, per_class in (("Tr", PER_CLASS_TRAIN), ("Te", PER_CLASS_TEST)):
        labels = np.tile(np.arange(1, N_CLASSES + 1, dtype=np.uint8), per_class)[:, None]
        if part == "Tr":
            files["HSI_TrSet.mat"] = mat_bytes("HSI_TrSet", features(rng, labels, N_HSI))
        files[f"LiDAR_{part}Set.mat"] = mat_bytes(
            f"LiDAR_{part}Set", features(rng, labels, N_LIDAR)
        )
        files[f"{part}Label.mat"] = mat_bytes(f"{part}Label", labels)
    return files


def features(rng: np.random.Generator, labels: np.ndarray, width: int) -> np.ndarray:
    """(n, width) values in [0, 1] on a 1/255 grid: a smooth class profile plus noise."""
    grid = np.linspace(0.0, np.pi, width)
    profile = 0.5 + 0.3 * np.sin(grid[None, :] * (1 + labels.astype(np.float64) / 5))
    values = np.clip(profile + uniform(rng, -0.1, 0.1, profile.shape), 0.0, 1.0)
    return np.round(values * 255) / 255


def npy_bytes(array: np.ndarray) -> bytes:
    """The bytes ``np.save`` writes for ``array``."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def mat_bytes(variable: str, array: np.ndarray) -> bytes:
    """An uncompressed MATLAB 5 file holding one variable, with a fixed descriptive header.

    scipy writes the time of writing into the 116-byte header text; it is replaced by a fixed
    text so that the bytes depend only on the content.
    """
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {variable: array}, do_compression=False)
    data = buffer.getvalue()
    return MAT_HEADER.ljust(116) + data[116:]


def write(root: Path) -> list[str]:
    """Write every fake file and ``SHA256SUMS`` under ``root``; return the relative paths."""
    rng = np.random.default_rng(SEED)
    sums = []
    for dataset, files in (("lfmc", lfmc_files(rng)), ("houston2013", houston_files(rng))):
        (root / dataset).mkdir(parents=True, exist_ok=True)
        for name, content in sorted(files.items()):
            (root / dataset / name).write_bytes(content)
            sums.append(f"{hashlib.sha256(content).hexdigest()}  {dataset}/{name}")
    (root / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    return [line.split("  ")[1] for line in sums] + ["SHA256SUMS"]


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    for path in write(out):
        print(out / path)
