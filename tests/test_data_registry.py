"""Fetching by address and SHA-256: no refetch of good files, clear errors on bad ones.

Tests taking ``source`` or ``copy_dir`` run on the committed fake files (the registry pointed at
their hashes) and on the real data (skipped without it); those taking ``data_dir`` check the
real files and the registry's own hashes.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pooch
import pytest

from aligninfo.data import registry
from aligninfo.data.registry import REGISTRY, DataFileError, FileEntry, fetch

ALL_FILES = [(ds, name) for ds, files in REGISTRY.items() for name in files]
COMMITS = {
    "lfmc": "nasaharvest/presto/13173d028f035abcbcc3b13829314323a5c15d02/",
    "houston2013": "danfenghong/IEEE_TGRS_MDL-RS/cb0e1287c6011dfa127a9d2fb10991dbb47e9ac1/",
}


@pytest.fixture
def no_download(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record (and refuse) every download attempt."""
    calls: list[str] = []

    def refuse(url: str, **kwargs: Any) -> str:
        calls.append(url)
        raise RuntimeError("download attempted in a test")

    monkeypatch.setattr(registry.pooch, "retrieve", refuse)
    return calls


def make_read_only(folder: Path) -> None:
    for path in folder.iterdir():
        path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    folder.chmod(0o555)


def damage(path: Path) -> bytes:
    """Flip one byte in the middle of ``path``; return the damaged bytes."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return bytes(data)


@pytest.mark.parametrize(("dataset", "name"), ALL_FILES)
def test_registry_hash_matches_real_file(data_dir: Path, dataset: str, name: str) -> None:
    assert registry.sha256(data_dir / dataset / name) == REGISTRY[dataset][name].sha256


@pytest.mark.parametrize(("dataset", "name"), ALL_FILES)
def test_registry_url_is_pinned_raw_address(dataset: str, name: str) -> None:
    url = REGISTRY[dataset][name].url
    assert url.startswith("https://raw.githubusercontent.com/" + COMMITS[dataset])
    assert url.endswith("/" + name)


def test_registry_lists_every_file(data_dir: Path) -> None:
    for dataset, files in REGISTRY.items():
        on_disk = {p.name for p in (data_dir / dataset).iterdir()} - {"LICENSE"}
        assert on_disk == set(files)


def test_good_file_in_read_only_dir_is_not_fetched(copy_dir: Path, no_download: list[str]) -> None:
    for dataset in REGISTRY:
        make_read_only(copy_dir / dataset)
    for dataset, name in ALL_FILES:
        assert fetch(dataset, name, copy_dir) == copy_dir / dataset / name
    assert no_download == []


def test_good_files_of_the_real_folder_are_not_fetched(
    data_dir: Path, no_download: list[str]
) -> None:
    for dataset, name in ALL_FILES:
        assert fetch(dataset, name, data_dir) == data_dir / dataset / name
    assert no_download == []


def test_good_file_in_writable_dir_is_not_fetched(copy_dir: Path, no_download: list[str]) -> None:
    before = (copy_dir / "lfmc" / "target.npy").stat().st_mtime_ns
    assert fetch("lfmc", "target.npy", copy_dir) == copy_dir / "lfmc" / "target.npy"
    assert (copy_dir / "lfmc" / "target.npy").stat().st_mtime_ns == before
    assert no_download == []


def test_data_dir_from_env_var(
    source: Path, monkeypatch: pytest.MonkeyPatch, no_download: list[str]
) -> None:
    monkeypatch.setenv("ALIGNINFO_DATA", str(source))
    assert registry.default_data_dir() == source
    assert fetch("houston2013", "TrLabel.mat") == source / "houston2013" / "TrLabel.mat"


def test_relative_data_dir_is_read_from_the_working_directory(
    source: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_download: list[str]
) -> None:
    (tmp_path / "book").mkdir()
    monkeypatch.chdir(source.parent)
    monkeypatch.setenv("ALIGNINFO_DATA", source.name)
    root = registry.default_data_dir()
    # the working directory is the real path: compare with symbolic links resolved
    assert root.is_absolute() and root.resolve() == source.resolve()
    monkeypatch.chdir(tmp_path / "book")  # where a chapter's kernel would run
    with pytest.raises(DataFileError, match="does not exist"):
        registry.default_data_dir()
    assert not (tmp_path / "book" / source.name).exists()


@pytest.mark.parametrize("how", ["env", "argument"])
def test_missing_data_root_is_an_error_naming_it_not_created(
    how: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_download: list[str]
) -> None:
    root = tmp_path / "no" / "data"
    monkeypatch.setenv("ALIGNINFO_DATA", str(root))
    with pytest.raises(DataFileError, match=f"{root}.*does not exist"):
        fetch("lfmc", "target.npy", root if how == "argument" else None)
    assert not (tmp_path / "no").exists()
    assert no_download == []


def test_default_data_dir_is_pooch_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALIGNINFO_DATA", raising=False)
    assert registry.default_data_dir() == Path(pooch.os_cache("aligninfo"))


def test_unknown_file_is_rejected(source: Path) -> None:
    with pytest.raises(KeyError, match="lfmc/nope.npy"):
        fetch("lfmc", "nope.npy", source)


def test_bad_hash_in_read_only_dir_is_reported_not_overwritten(
    copy_dir: Path, no_download: list[str]
) -> None:
    path = copy_dir / "lfmc" / "target.npy"
    damaged = damage(path)
    make_read_only(path.parent)
    assert not registry.is_writable(path.parent)
    with pytest.raises(DataFileError) as info:
        fetch("lfmc", "target.npy", copy_dir)
    message = str(info.value)
    assert str(path) in message
    assert REGISTRY["lfmc"]["target.npy"].sha256 in message
    assert registry.sha256(path) in message
    assert "read-only" in message and "not" in message
    assert path.read_bytes() == damaged
    assert no_download == []


def test_missing_file_in_read_only_dir_is_reported(copy_dir: Path, no_download: list[str]) -> None:
    (copy_dir / "houston2013" / "TeLabel.mat").unlink()
    make_read_only(copy_dir / "houston2013")
    with pytest.raises(DataFileError, match=r"TeLabel\.mat is missing.*read-only"):
        fetch("houston2013", "TeLabel.mat", copy_dir)
    assert no_download == []


def test_refetch_without_network_fails_clearly(
    copy_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writable folder triggers a real pooch download, here from an unreachable address."""
    path = copy_dir / "lfmc" / "month.npy"
    damaged = damage(path)
    url = "http://127.0.0.1:9/month.npy"
    old = REGISTRY["lfmc"]["month.npy"]
    monkeypatch.setitem(REGISTRY["lfmc"], "month.npy", FileEntry(url, old.sha256))
    with pytest.raises(DataFileError) as info:
        fetch("lfmc", "month.npy", copy_dir)
    message = str(info.value)
    assert str(path) in message and url in message and "failed" in message
    assert path.read_bytes() == damaged


def fake_server(monkeypatch: pytest.MonkeyPatch, payload: bytes) -> list[str]:
    """Make pooch 'download' ``payload`` for any address, keeping its own hash check."""
    calls: list[str] = []
    real_retrieve = pooch.retrieve

    def downloader(url: str, output_file: Any, pooch_: Any) -> None:
        calls.append(url)
        Path(output_file).write_bytes(payload)

    def retrieve(url: str, **kwargs: Any) -> str:
        return str(real_retrieve(url, downloader=downloader, **kwargs))

    monkeypatch.setattr(registry.pooch, "retrieve", retrieve)
    return calls


def test_damaged_file_in_writable_dir_is_refetched(
    source: Path, copy_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = (source / "houston2013" / "TrLabel.mat").read_bytes()
    path = copy_dir / "houston2013" / "TrLabel.mat"
    damage(path)
    calls = fake_server(monkeypatch, good)
    assert fetch("houston2013", "TrLabel.mat", copy_dir) == path
    assert calls == [REGISTRY["houston2013"]["TrLabel.mat"].url]
    assert path.read_bytes() == good


def test_missing_file_in_new_dir_is_fetched(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = (source / "lfmc" / "is_test.npy").read_bytes()
    calls = fake_server(monkeypatch, good)
    (tmp_path / "fresh").mkdir()
    path = fetch("lfmc", "is_test.npy", tmp_path / "fresh")
    assert path == tmp_path / "fresh" / "lfmc" / "is_test.npy"
    assert path.read_bytes() == good and len(calls) == 1
    fetch("lfmc", "is_test.npy", tmp_path / "fresh")
    assert len(calls) == 1


def test_download_with_wrong_hash_fails_clearly(
    copy_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = copy_dir / "lfmc" / "latlon.npy"
    path.unlink()
    fake_server(monkeypatch, b"not the file")
    with pytest.raises(
        DataFileError, match=r"latlon\.npy is missing.*downloading it from .* failed"
    ):
        fetch("lfmc", "latlon.npy", copy_dir)
    assert not path.exists()
