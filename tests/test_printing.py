"""Checked outputs print the same text on every machine, and still see a wrong value."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from aligninfo.book import run
from aligninfo.book.printing import rounded, stable


def test_negative_zero_prints_as_zero() -> None:
    assert stable(-1e-17) == stable(1e-17) == "0.0000"
    assert stable(np.array([[-1e-17, 0.5]])) == stable(np.array([[1e-17, 0.5]]))
    assert "-0." not in stable(np.array([-4e-5, -1e-12]))
    assert np.signbit(rounded(-0.0)).sum() == 0


def test_last_bit_differences_vanish_but_real_ones_show() -> None:
    x = np.array([0.123456789, -0.5, 2.0 / 3.0])
    noisy = x * (1 + 4 * np.finfo(float).eps)
    assert stable(x) == stable(noisy)
    assert stable(x) != stable(x + np.array([0.0, 0.0, 1e-3]))
    assert stable(x, decimals=2) == "[ 0.12 -0.50  0.67]"


@pytest.mark.parametrize("chapter", run.chapters(), ids=lambda p: p.stem)
def test_checked_cells_print_numbers_through_stable(chapter: Path) -> None:
    """No raw float formatting (``:.4f``, array2string, np.round) in cells that nbval compares."""
    for cell in run.read_notebook(chapter).cells:
        if cell.cell_type == "code" and run.CHECK_MARK in cell.source:
            raw = re.findall(r":\.\d+f\}|array2string|np\.round\(", cell.source)
            assert not raw, f"{chapter.name}: format through aligninfo.book.printing.stable: {raw}"
