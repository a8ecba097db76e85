"""Text of numbers that is the same on every machine, for the outputs nbval compares.

Floating-point results differ in their last bits between CPUs, BLAS kernels and thread counts;
a value that is zero in exact arithmetic may come out as ``-1e-17`` on one machine and ``1e-17``
on another, printed ``-0.`` and ``0.``. The cells marked ``# NBVAL_CHECK_OUTPUT`` print through
:func:`stable`, which rounds to a few decimals and removes the sign of zeros, so their text
depends on the closed forms only, while a wrong closed form still changes it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

DECIMALS = 4


def rounded(values: Any, decimals: int = DECIMALS) -> np.ndarray:
    """Round to ``decimals`` places, with every zero positive.

    Args:
        values: A number or array-like of any shape.
        decimals: Places kept after the decimal point.

    Returns:
        A float64 array of the same shape.
    """
    array = np.round(np.asarray(values, dtype=np.float64), decimals)
    return array + 0.0  # -0.0 + 0.0 == +0.0


def stable(values: Any, decimals: int = DECIMALS) -> str:
    """Machine-independent text of a number or array, with ``decimals`` places.

    Args:
        values: A number or array-like.
        decimals: Places kept after the decimal point.

    Returns:
        ``"0.1235"`` for a number, NumPy's layout (``"[0.1235 0.    ]"``) for an array.
    """
    array = rounded(values, decimals)
    if array.ndim == 0:
        return f"{array.item():.{decimals}f}"
    return np.array2string(array, precision=decimals, floatmode="fixed", suppress_small=False)
