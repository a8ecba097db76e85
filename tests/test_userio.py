"""The commands' shared speech: named pairs, one-line errors, the output folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aligninfo.data import named
from aligninfo.userio import first_line, out_folder


def test_first_line_keeps_the_first_line_or_names_the_type() -> None:
    assert first_line(ValueError("one\ntwo")) == "one"
    assert first_line(KeyError()) == "KeyError"
    assert first_line("  text \n more") == "text"
    assert first_line("") == ""


def test_out_folder_is_created_or_refused_with_the_callers_error(tmp_path: Path) -> None:
    made = out_folder(tmp_path / "a" / "b", RuntimeError)
    assert made.is_dir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(RuntimeError, match="is a file"):
        out_folder(tmp_path / "file", RuntimeError)
    with pytest.raises(RuntimeError, match="cannot create"):
        out_folder(tmp_path / "file" / "below", RuntimeError)


def test_an_unknown_name_is_refused() -> None:
    with pytest.raises(ValueError, match="lfmc-context"):
        named.load("lfmcc")


def test_named_pairs_on_the_real_files(data_dir: Path) -> None:
    sar = named.load("lfmc", data_dir)
    context = named.load("lfmc-context", data_dir)
    np.testing.assert_array_equal(sar.x1, context.x1)
    np.testing.assert_array_equal(context.x2[:, : sar.x2.shape[1]], sar.x2)
    assert context.x2.shape[1] > sar.x2.shape[1]
    assert len(np.unique(context.x2, axis=1)[0]) == context.x2.shape[1]  # no repeated column
    assert sar.sites is not None and set(sar.sites[sar.train_rows]).isdisjoint(
        np.delete(sar.sites, sar.train_rows)
    )
    houston = named.load("houston", data_dir)
    assert houston.sites is None and len(houston.train_rows) == len(houston.y)
    assert houston.x1.shape[1] == 144 and houston.x2.shape[1] == 21
