"""A consumer's scale and ALIGNINFO_SCALE: the same rule as the runner's."""

from pathlib import Path

import pytest

from aligninfo.book.chapter import SCALE_ENV, find_results


def test_a_scale_other_than_the_environments_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SCALE_ENV, "smoke")
    with pytest.raises(ValueError, match="scale 'book' conflicts with ALIGNINFO_SCALE='smoke'"):
        find_results("01_model", {"scale": "book"}, tmp_path)
    record, why = find_results("01_model", {"scale": "smoke"}, tmp_path)
    assert record is None and "no results of 01_model" in why
    monkeypatch.delenv(SCALE_ENV)
    record, why = find_results("01_model", {"scale": "book"}, tmp_path)
    assert record is None and "no results of 01_model" in why
