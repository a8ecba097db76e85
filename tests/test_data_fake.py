"""The fake data files: what tests/data/make_fake.py writes, in the real layout, every file."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from fixtures import FAKE_DATA, fake_hashes, fake_registry

from aligninfo.data import houston, lfmc, registry
from aligninfo.data.registry import REGISTRY, DataFileError


def committed_files() -> dict[str, bytes]:
    """Every committed fake file (and SHA256SUMS), by path relative to tests/data."""
    paths = [FAKE_DATA / "SHA256SUMS", *(p for d in REGISTRY for p in (FAKE_DATA / d).iterdir())]
    return {str(p.relative_to(FAKE_DATA)): p.read_bytes() for p in paths}


def test_committed_fake_files_are_the_scripts_output(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_fake", FAKE_DATA / "make_fake.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    written = script.write(tmp_path)
    assert sorted(written) == sorted(committed_files())  # no file missing, none left over
    for relative, content in committed_files().items():
        assert (tmp_path / relative).read_bytes() == content, (
            f"tests/data/{relative} differs from what make_fake.py writes: rerun the script"
        )


def test_every_registered_file_has_a_fake_with_its_hash() -> None:
    hashes = fake_hashes()
    assert set(hashes) == {(d, name) for d, files in REGISTRY.items() for name in files}
    for (dataset, name), digest in hashes.items():
        assert registry.sha256(FAKE_DATA / dataset / name) == digest
        assert digest != REGISTRY[dataset][name].sha256  # not the real file


def test_fake_registry_is_undone_after_its_block() -> None:
    real = {
        (d, name): entry.sha256 for d, files in REGISTRY.items() for name, entry in files.items()
    }
    with fake_registry() as root:
        assert lfmc.load(root).n > 0 and houston.load(root).n > 0
        assert REGISTRY["lfmc"]["target.npy"].sha256 == fake_hashes()["lfmc", "target.npy"]
    assert {(d, n): e.sha256 for d, files in REGISTRY.items() for n, e in files.items()} == real


def test_fake_files_fail_the_real_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the fixture, a fake file is a damaged real file (never silently accepted)."""
    (tmp_path / "lfmc").mkdir()
    (tmp_path / "lfmc" / "target.npy").write_bytes((FAKE_DATA / "lfmc" / "target.npy").read_bytes())
    (tmp_path / "lfmc").chmod(0o555)
    try:
        with pytest.raises(DataFileError, match=r"target\.npy has SHA-256 .* read-only"):
            registry.fetch("lfmc", "target.npy", tmp_path)
    finally:
        (tmp_path / "lfmc").chmod(0o755)
