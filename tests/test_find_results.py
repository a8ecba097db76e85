"""Finding saved results: a consumer's scale and ALIGNINFO_SCALE (the runner's rule), and
results computed by another version of the library's source, which are never reused."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import aligninfo
from aligninfo.book import chapter, run
from aligninfo.book.chapter import (
    LIBRARY,
    SCALE_ENV,
    UNKEYED,
    data_fingerprint,
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


def _record(library: str, name: str = "01_model", **extra: object) -> dict[str, object]:
    """A results record of a chapter at its defaults, as save_results writes it."""
    requested = {k: v for k, v in run.chapter_parameters(name).items() if k not in UNKEYED}
    return {
        "chapter": name,
        "key": results_key(name, requested),
        "aligninfo_version": aligninfo.__version__,
        "source_digest": run.code_digest(name),
        "library_digest": library,
        "requested": requested,
        "parameters": requested,
        "results": {"answer": 1.0},
        **extra,
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


def test_hidden_and_dangling_sources_are_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "stats.py").write_text("ALPHA = 0.05\n")
    monkeypatch.setattr(chapter, "LIBRARY", tmp_path)
    before = tree_digest(tmp_path)
    (tmp_path / ".#stats.py").symlink_to("someone@host.123:1")  # an editor's lock file
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.py").write_text("y = 1\n")
    assert tree_digest(tmp_path) == before
    assert library_digest() == before


@pytest.fixture
def fresh_loaded_digest() -> Iterator[None]:
    """Forget the digest this process loaded, before and after the test."""
    chapter.loaded_digest.cache_clear()
    yield
    chapter.loaded_digest.cache_clear()


def test_results_of_code_edited_while_it_ran_never_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_loaded_digest: None
) -> None:
    monkeypatch.setattr(chapter, "library_digest", lambda: "a" * 64)
    cfg = chapter.configure("smoke", 0, results_dir=str(tmp_path))  # loads the code "a"
    same = json.loads(chapter.save_results(cfg, "probe", {"x": 1}).read_text())  # type: ignore[union-attr]
    assert same["library_digest"] == "a" * 64
    monkeypatch.setattr(chapter, "library_digest", lambda: "b" * 64)  # edited on disk since
    with pytest.warns(UserWarning, match="changed after this process loaded it"):
        path = chapter.save_results(cfg, "probe", {"x": 1})
    saved = json.loads(path.read_text())  # type: ignore[union-attr]
    assert saved["library_digest"] == chapter.STALE + "a" * 64
    assert saved["library_digest"] not in ("a" * 64, "b" * 64)


def test_results_computed_on_other_data_are_not_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SCALE_ENV, raising=False)
    first, other = tmp_path / "first", tmp_path / "other"
    (first / "lfmc").mkdir(parents=True)
    (first / "lfmc" / "train_test_split.json").write_text("{}")
    (other / "lfmc").mkdir(parents=True)  # the reviewer's case: an empty lfmc/
    results = tmp_path / "results"
    record = _record(library_digest(), "08_lfmc", data=data_fingerprint(first))
    assert record["data"], "the registered file is listed"
    write_json(results / f"08_lfmc-{record['key']}.json", record)
    monkeypatch.setenv("ALIGNINFO_DATA", str(first))
    found, why = find_results("08_lfmc", {}, results)
    assert found is not None and why == ""
    assert find_results("08_lfmc", {"data_dir": str(first)}, results)[0] is not None
    monkeypatch.setenv("ALIGNINFO_DATA", str(other))
    found, why = find_results("08_lfmc", {}, results)
    assert found is None and "computed on other data" in why
    found, why = find_results("08_lfmc", {"data_dir": str(other)}, results)
    assert found is None and "computed on other data" in why


def test_the_data_fingerprint_follows_the_registered_files(tmp_path: Path) -> None:
    assert data_fingerprint(tmp_path / "missing") == []
    (tmp_path / "lfmc").mkdir()
    (tmp_path / "README.md").write_text("notes")  # not data
    (tmp_path / "lfmc" / "notes.txt").write_text("not registered")
    assert data_fingerprint(tmp_path) == []
    (tmp_path / "lfmc" / "train_test_split.json").write_text("{}")
    first = data_fingerprint(tmp_path)
    assert [row[0] for row in first] == ["lfmc/train_test_split.json"]
    (tmp_path / "lfmc" / "train_test_split.json").write_text('{"a": 1}')
    assert data_fingerprint(tmp_path) != first
    (tmp_path / "BigEarthNet-v1.0").mkdir()  # an unregistered download: the folder is listed
    assert "BigEarthNet-v1.0" in [row[0] for row in data_fingerprint(tmp_path)]
