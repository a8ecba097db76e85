"""JSON records written atomically, with NumPy values converted (results, diagnoses)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np


def write_json(target: Path, record: Mapping[str, Any]) -> Path:
    """Write JSON atomically (temporary file, then rename), readable by all (0644)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=target.parent, suffix=".tmp", delete=False) as tmp:
        try:
            json.dump(record, tmp, indent=2, default=to_json)
        except BaseException:
            os.unlink(tmp.name)
            raise
    os.chmod(tmp.name, 0o644)
    os.replace(tmp.name, target)
    return target


def to_json(value: Any) -> Any:
    """Convert NumPy values for :func:`json.dump`."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in the results JSON")
