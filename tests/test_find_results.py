"""Finding saved results: a consumer's scale and ALIGNINFO_SCALE (the runner's rule), and
results computed by another version of the library's source, which are never reused."""

from pathlib import Path

import pytest

import aligninfo
from aligninfo.book import chapter, run
from aligninfo.book.chapter import (
    LIBRARY,
    SCALE_ENV,
    UNKEYED,
    find_results,
    library_digest,
    results_key,
    tree_digest,
)
from aligninfo.jsonio import write_json


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


def _record(library: str) -> dict[str, object]:
    """A results record of chapter 1 at its defaults, as save_results writes it."""
    requested = {k: v for k, v in run.chapter_parameters("01_model").items() if k not in UNKEYED}
    return {
        "chapter": "01_model",
        "key": results_key("01_model", requested),
        "aligninfo_version": aligninfo.__version__,
        "source_digest": run.code_digest("01_model"),
        "library_digest": library,
        "requested": requested,
        "parameters": requested,
        "results": {"answer": 1.0},
    }


def test_results_of_another_library_source_are_not_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SCALE_ENV, raising=False)
    record = _record(library_digest())
    write_json(tmp_path / f"01_model-{record['key']}.json", record)
    found, why = find_results("01_model", {}, tmp_path)
    assert found is not None and found["results"] == {"answer": 1.0} and why == ""
    write_json(tmp_path / f"01_model-{record['key']}.json", _record("0" * 64))
    found, why = find_results("01_model", {}, tmp_path)
    assert found is None and "another version of the library's source" in why


def test_the_library_digest_follows_every_source_file(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "b.py").write_text("y = 2\n")
    (tmp_path / "notes.txt").write_text("not source")
    first = tree_digest(tmp_path)
    (tmp_path / "notes.txt").write_text("still not source")
    assert tree_digest(tmp_path) == first
    (tmp_path / "pkg" / "b.py").write_text("y = 3\n")  # an edit deep in the tree
    edited = tree_digest(tmp_path)
    assert edited != first
    (tmp_path / "pkg" / "b.py").rename(tmp_path / "pkg" / "c.py")  # same bytes, another module
    assert tree_digest(tmp_path) not in (first, edited)
    assert library_digest() == tree_digest(LIBRARY) and library_digest() is library_digest()
    assert (LIBRARY / "stats.py").is_file()  # the digest covers the statistics, the probes, ...


def test_the_library_digest_is_read_again_after_an_edit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "stats.py").write_text("ALPHA = 0.05\n")
    monkeypatch.setattr(chapter, "LIBRARY", tmp_path)
    before = library_digest()
    assert library_digest() is before  # cached while nothing changed
    (tmp_path / "stats.py").write_text("ALPHA = 0.050\n")  # a fix while the process runs
    assert library_digest() == tree_digest(tmp_path) != before
