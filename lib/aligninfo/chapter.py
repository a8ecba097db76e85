"""What every chapter of the book does first and last: resolve its parameters, save its results.

A chapter's ``parameters`` cell holds plain literals (papermill injects overrides after it);
its next cell calls :func:`configure`, which picks the sizes of the chosen ``scale``, applies the
explicit overrides and stops at once, naming the parameter, when a value is invalid::

    cfg = configure(scale, seed, presets={"n_samples": (2_000, 50_000, 500_000)},
                    n_samples=n_samples)

The environment variable ``ALIGNINFO_SCALE``, when set, replaces the ``scale`` parameter: the test
suite uses it to execute the stored notebooks quickly (nbval).
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from aligninfo import __version__

SCALES = ("smoke", "book", "paper")
SCALE_ENV = "ALIGNINFO_SCALE"
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps)$")


def configure(
    scale: str,
    seed: int,
    presets: Mapping[str, Sequence[Any]] | None = None,
    *,
    device: str = "auto",
    results_dir: str | None = "results",
    **overrides: Any,
) -> SimpleNamespace:
    """Resolve a chapter's parameters.

    Args:
        scale: ``"smoke"`` (seconds, for tests), ``"book"`` (the rendered book) or ``"paper"``.
        seed: Base random seed, a non-negative integer.
        presets: For each size parameter, its values at (smoke, book, paper).
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
        results_dir: Folder for the chapter's JSON results; None writes nothing.
        **overrides: Explicit values of size parameters; None keeps the scale's value.

    Returns:
        A namespace with ``scale``, ``seed``, ``device``, ``results_dir``, every size parameter
        and ``started`` (a clock reading used for timings).

    Raises:
        ValueError: Naming the first invalid parameter.
    """
    scale = os.environ.get(SCALE_ENV) or scale
    if scale not in SCALES:
        raise ValueError(f"parameter 'scale' must be one of {SCALES}; got {scale!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"parameter 'seed' must be a non-negative integer; got {seed!r}")
    if not isinstance(device, str) or not _DEVICE.match(device):
        raise ValueError(f"parameter 'device' must be auto, cpu, cuda[:N] or mps; got {device!r}")
    presets = dict(presets or {})
    unknown = set(overrides) - set(presets)
    if unknown:
        raise ValueError(f"parameter(s) {sorted(unknown)} have no preset in this chapter")
    values: dict[str, Any] = {}
    for name, by_scale in presets.items():
        if len(by_scale) != len(SCALES):
            raise ValueError(f"preset {name!r} needs one value per scale {SCALES}")
        default = by_scale[SCALES.index(scale)]
        value = overrides.get(name)
        values[name] = default if value is None else _checked(name, value, default)
    return SimpleNamespace(
        scale=scale,
        seed=seed,
        device=device,
        results_dir=results_dir,
        started=time.perf_counter(),
        **values,
    )


def _checked(name: str, value: Any, default: Any) -> Any:
    """Check an explicit override against the type and sign of its preset."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"parameter {name!r} must be True or False; got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"parameter {name!r} must be a positive integer; got {value!r}")
        return value
    if isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value <= 0:
            raise ValueError(f"parameter {name!r} must be a positive number; got {value!r}")
        return float(value)
    if isinstance(default, list | tuple):
        if not isinstance(value, list | tuple) or not value:
            raise ValueError(f"parameter {name!r} must be a non-empty list; got {value!r}")
        return type(default)(value)
    if not isinstance(value, type(default)):
        raise ValueError(f"parameter {name!r} must be a {type(default).__name__}; got {value!r}")
    return value


def glue(name: str, value: Any) -> None:
    """Store a computed value for the chapter's text, where ``{glue:text}`name:.3f``` shows it.

    NumPy scalars become plain Python numbers, so that format specifications apply.
    """
    from myst_nb import glue as myst_glue

    myst_glue(name, value.item() if isinstance(value, np.generic) else value, display=False)


def save_results(cfg: SimpleNamespace, name: str, results: Mapping[str, Any]) -> Path | None:
    """Write a chapter's key results as JSON, atomically (temporary file, then rename).

    Args:
        cfg: The namespace returned by :func:`configure`.
        name: File stem, usually the chapter's name.
        results: JSON-serialisable values; NumPy scalars and arrays are converted.

    Returns:
        The path written, or None when ``cfg.results_dir`` is None.
    """
    if cfg.results_dir is None:
        return None
    folder = Path(cfg.results_dir)
    folder.mkdir(parents=True, exist_ok=True)
    parameters = {k: v for k, v in vars(cfg).items() if k != "started"}
    record = {
        "chapter": name,
        "aligninfo_version": __version__,
        "parameters": parameters,
        "seconds": round(time.perf_counter() - cfg.started, 3),
        "results": dict(results),
    }
    target = folder / f"{name}.json"
    with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp", delete=False) as tmp:
        json.dump(record, tmp, indent=2, default=_to_json)
    os.replace(tmp.name, target)
    return target


def _to_json(value: Any) -> Any:
    """Convert NumPy values for :func:`json.dump`."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in the results JSON")
