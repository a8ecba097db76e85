"""Finding saved results: a consumer's scale and ALIGNINFO_SCALE (the runner's rule), and
results computed by another version of the library's source, which are never reused."""

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pooch
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
from aligninfo.data import lfmc
from aligninfo.data.registry import REGISTRY
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


def _start(results: Path) -> SimpleNamespace:
    """Configure a run writing to ``results``; it starts the log of what the process reads."""
    chapter.loaded_digest.cache_clear()  # another test may have left a made-up digest
    return chapter.configure("smoke", 0, results_dir=str(results))


def _record_of(cfg: SimpleNamespace, name: str, **parameters: object) -> dict[str, Any]:
    """Save, as chapter ``name`` at its defaults, what this process read since ``cfg``."""
    defaults = run.chapter_parameters(name) | parameters
    path = chapter.save_results(cfg, name, {"answer": 1.0}, defaults)
    return json.loads(path.read_text())  # type: ignore[union-attr]


@pytest.fixture
def data_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A writable copy of the registered data sets, as ``ALIGNINFO_DATA``."""
    source = Path(os.environ.get("ALIGNINFO_DATA") or pooch.os_cache("aligninfo"))
    copy = tmp_path / "data"
    for dataset in REGISTRY:
        if not (source / dataset).is_dir():
            pytest.skip(f"no {dataset} data")
        shutil.copytree(source / dataset, copy / dataset)
    monkeypatch.setenv("ALIGNINFO_DATA", str(copy))
    monkeypatch.delenv(SCALE_ENV, raising=False)
    return copy


def _touch(path: Path) -> None:
    """Give a file a new modification time, its bytes unchanged."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


def test_a_record_depends_on_the_data_its_chapter_read_only(
    data_copy: Path, tmp_path: Path
) -> None:
    """The reviewer's case: touching Houston's files left chapter 8 (LFMC only) without results."""
    cfg = _start(tmp_path / "results")
    lfmc.load()
    record = _record_of(cfg, "08_lfmc")
    read = record["data"]["read"]
    assert read["files"] == sorted(f"lfmc/{n}" for n in REGISTRY["lfmc"])
    assert find_results("08_lfmc", {}, tmp_path / "results") == (record, "")
    _touch(data_copy / "houston2013" / "TrLabel.mat")
    assert find_results("08_lfmc", {}, tmp_path / "results") == (record, "")
    _touch(data_copy / "lfmc" / "site.npy")
    found, why = find_results("08_lfmc", {}, tmp_path / "results")
    assert found is None and "computed on other data" in why
    other = tmp_path / "other"
    (other / "lfmc").mkdir(parents=True)  # an empty lfmc/: every file it read is missing
    found, why = find_results("08_lfmc", {"data_dir": str(other)}, tmp_path / "results")
    assert found is None and "computed on other data" in why


def test_a_changed_file_inside_a_download_the_chapter_read_is_noticed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file deep inside an unregistered download (BigEarthNet's layout), read by the loader."""
    monkeypatch.delenv(SCALE_ENV, raising=False)
    bigearthnet = pytest.importorskip("aligninfo.data.bigearthnet")
    try:
        download = bigearthnet.examples_as_download(tmp_path / "download", tmp_path / "extracted")
    except bigearthnet.PackageMissingError as err:
        pytest.skip(str(err))
    cfg = _start(tmp_path / "results")
    pairs = bigearthnet.BigEarthNetPairs.from_archive(download)
    pairs[0]
    record = _record_of(cfg, "13_images", data_dir=str(download))
    read = record["data"]["read"]
    assert read["trees"] == sorted(bigearthnet.ARCHIVE_FOLDERS.values()), "scanned: as trees"
    assert read["files"] == read["folders"] == []
    parameters = {"data_dir": str(download)}
    assert find_results("13_images", parameters, tmp_path / "results") == (record, "")
    band = pairs.pairs[0].s2_dir / f"{pairs.pairs[0].s2_name}_B02.tif"  # read by GDAL, not Python
    _touch(band)
    found, why = find_results("13_images", parameters, tmp_path / "results")
    assert found is None and "computed on other data" in why


def test_the_data_fingerprint_covers_what_was_read(tmp_path: Path) -> None:
    """Files read, folders listed (their files and subfolders' names), trees scanned."""
    (tmp_path / "set" / "a").mkdir(parents=True)
    (tmp_path / "set" / "f.txt").write_text("1")
    (tmp_path / "set" / "a" / "g.txt").write_text("2")
    (tmp_path / "other.txt").write_text("3")

    def digest(**read: list[str]) -> str:
        return str(data_fingerprint(tmp_path, read)["digest"])

    before = {k: digest(**{k: [v]}) for k, v in (("files", "other.txt"), ("folders", "set"),
                                                  ("trees", "set"))}  # fmt: skip
    (tmp_path / "set" / "a" / "g.txt").write_text("22")  # below the folder: its tree only
    assert digest(files=["other.txt"]) == before["files"]
    assert digest(folders=["set"]) == before["folders"]
    assert digest(trees=["set"]) != before["trees"]
    (tmp_path / "set" / "b").mkdir()  # a new subfolder: the folder's names change
    assert digest(folders=["set"]) != before["folders"]
    assert digest(files=["missing"]) != digest(files=["other.txt"])


def test_data_read_records_only_the_data_folder(tmp_path: Path) -> None:
    (tmp_path / "data" / "set").mkdir(parents=True)
    (tmp_path / "data" / "set" / "x.npy").write_bytes(b"x")
    (tmp_path / "elsewhere.txt").write_text("not data")
    chapter.start_read_log()
    (tmp_path / "data" / "set" / "x.npy").read_bytes()
    (tmp_path / "elsewhere.txt").read_text()
    (tmp_path / "data" / "written.txt").write_text("written, not read")
    assert chapter.data_read(tmp_path / "data") == {
        "files": ["set/x.npy"], "folders": [], "trees": []}  # fmt: skip
    chapter.start_read_log()  # a new run of the kernel starts afresh
    assert chapter.data_read(tmp_path / "data")["files"] == []


def test_a_record_is_not_reused_once_a_record_its_chapter_read_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reviewer's case: 07's code edited (and 07 run again) left 10 and 11 found."""
    monkeypatch.delenv(SCALE_ENV, raising=False)
    results = tmp_path / "results"
    _record_of(_start(results), "07_synthetic")
    cfg = _start(results)  # chapter 10, which reads 07's results
    assert find_results("07_synthetic", {}, results)[0] is not None
    ten = _record_of(cfg, "10_protocol")
    assert [(e["chapter"], e["results_dir"]) for e in ten["upstream"]] == [("07_synthetic", ".")]
    cfg = _start(results)  # chapter 11 reads 10's
    assert find_results("10_protocol", {}, results) == (ten, "")
    eleven = _record_of(cfg, "11_when_to_align")
    cfg = _start(results)  # chapter 12 looks for 08's and finds none
    assert find_results("08_lfmc", {}, results)[0] is None
    twelve = _record_of(cfg, "12_should_i_align")
    assert find_results("11_when_to_align", {}, results) == (eleven, "")
    assert find_results("12_should_i_align", {}, results) == (twelve, "")
    _record_of(_start(results), "08_lfmc")  # now there is one
    found, why = find_results("12_should_i_align", {}, results)
    assert found is None and "read results of 08_lfmc that changed since" in why
    code = run.code_digest
    monkeypatch.setattr(
        run, "code_digest", lambda c: "edited" if run.resolve(c).stem == "07_synthetic" else code(c)
    )
    for name, changed in (("10_protocol", "07_synthetic"), ("11_when_to_align", "10_protocol")):
        found, why = find_results(name, {}, results)
        assert found is None and f"read results of {changed} that changed since" in why
    _record_of(_start(results), "07_synthetic")  # 07 run again: found, but not the one 10 read
    assert find_results("07_synthetic", {}, results)[0] is not None
    assert find_results("10_protocol", {}, results)[0] is None
    cfg = _start(results)  # 10 run again
    assert find_results("07_synthetic", {}, results)[0] is not None
    ten = _record_of(cfg, "10_protocol")
    moved = tmp_path / "moved"
    results.rename(moved)  # the folders it read are saved relative to its own
    assert find_results("10_protocol", {}, moved) == (ten, "")


def test_the_logs_of_a_run_end_with_its_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run over a large download logs many paths: they are dropped once its record is saved;
    a second record of the same run (nothing logged for it) is then never reused."""
    monkeypatch.delenv(SCALE_ENV, raising=False)
    cfg = _start(tmp_path / "results")
    lfmc.load()
    _record_of(cfg, "08_lfmc")
    assert chapter._read_log is None and chapter._upstream_log is None
    lfmc.load()
    second = _record_of(cfg, "08_lfmc")
    assert second["data"] is None
    found, why = find_results("08_lfmc", {}, tmp_path / "results")
    assert found is None and "does not say which files it read" in why
    _record_of(_start(tmp_path / "results"), "10_protocol")
    ten = _record_of(cfg, "10_protocol")  # saved again: what it read is not known
    assert ten["upstream"] is None
    found, why = find_results("10_protocol", {}, tmp_path / "results")
    assert found is None and "does not list the results it read" in why


def test_files_read_under_the_pretrained_folder_key_the_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retraining into the same ``pretrained`` folder changes chapter 13's results."""
    monkeypatch.delenv(SCALE_ENV, raising=False)
    folder = tmp_path / "encoders"
    folder.mkdir()
    (folder / "encoders.pt").write_bytes(b"weights")
    (folder / "notes.txt").write_text("not read")
    cfg = _start(tmp_path / "results")
    (folder / "encoders.pt").read_bytes()
    record = _record_of(cfg, "13_images", pretrained=str(folder))
    assert record["inputs"]["pretrained"]["read"]["files"] == ["encoders.pt"]
    wanted = {"pretrained": str(folder)}
    assert find_results("13_images", wanted, tmp_path / "results") == (record, "")
    _touch(folder / "notes.txt")
    assert find_results("13_images", wanted, tmp_path / "results") == (record, "")
    _touch(folder / "encoders.pt")
    found, why = find_results("13_images", wanted, tmp_path / "results")
    assert found is None and "computed on other files in 'pretrained'" in why


def test_a_record_is_not_reused_once_one_it_read_holds_other_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reviewer's case: 07 run again with the same key, code and data (on another device,
    say) gave other numbers, and 10's record, computed from the old ones, was still found."""
    monkeypatch.delenv(SCALE_ENV, raising=False)
    results = tmp_path / "results"
    _record_of(_start(results), "07_synthetic")
    cfg = _start(results)
    assert find_results("07_synthetic", {}, results)[0] is not None
    ten = _record_of(cfg, "10_protocol")
    assert find_results("10_protocol", {}, results) == (ten, "")
    seven = run.chapter_parameters("07_synthetic")
    chapter.save_results(_start(results), "07_synthetic", {"answer": -999.0}, seven)
    found, why = find_results("10_protocol", {}, results)
    assert found is None and "read results of 07_synthetic that changed since" in why


def test_records_that_list_one_another_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reviewer's case: a 07 record listing 10's and 10's listing 07's recursed forever."""
    monkeypatch.delenv(SCALE_ENV, raising=False)
    results = tmp_path / "results"
    cfg = _start(results)
    find_results("10_protocol", {}, results)  # none yet, but listed
    _record_of(cfg, "07_synthetic")
    cfg = _start(results)
    find_results("07_synthetic", {}, results)
    _record_of(cfg, "10_protocol")
    found, why = find_results("07_synthetic", {}, results)
    assert found is None
    assert why == (
        "a record lists itself among the results it read "
        "(07_synthetic -> 10_protocol -> 07_synthetic)"
    )
