"""The command line: list, check, run, sync."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from aligninfo import run
from aligninfo.__main__ import main


def test_list_shows_chapters_and_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for chapter in run.chapters():
        assert chapter.stem in out
    assert 'scale = "book"' in out


def test_check_passes_on_the_repository() -> None:
    assert main(["check"]) == 0


def test_check_fails_on_a_stale_pair(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    chapter = run.chapters()[0]
    pair = tmp_path / "notebooks" / run.pair_of(chapter).name
    pair.parent.mkdir()
    notebook = nbformat.read(run.pair_of(chapter), as_version=4)
    notebook.cells[-1].source += "\nprint('edited')"
    nbformat.write(notebook, pair)
    monkeypatch.setattr(run, "NOTEBOOKS", pair.parent)
    assert main(["check"]) == 1


def test_sync_without_execution_keeps_checked_outputs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    chapter = run.chapters()[0]
    monkeypatch.setattr(run, "NOTEBOOKS", tmp_path)
    shutil.copy(run.ROOT / "notebooks" / f"{chapter.stem}.ipynb", tmp_path)
    (written,) = run.sync([chapter], execute=False)
    fresh = nbformat.read(written, as_version=4)
    stored = nbformat.read(run.ROOT / "notebooks" / f"{chapter.stem}.ipynb", as_version=4)
    assert [c.get("outputs") for c in fresh.cells] == [c.get("outputs") for c in stored.cells]


def test_unknown_chapter_is_refused() -> None:
    with pytest.raises(FileNotFoundError, match="no chapter"):
        main(["run", "nonexistent", "-p", "scale", "smoke"])


@pytest.mark.chapters
def test_plain_papermill_runs_a_paired_notebook(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "out.ipynb"
    pair = run.pair_of(run.chapters()[0])
    command = [sys.executable, "-m", "papermill", str(pair), str(out), "-p", "scale", "smoke",
               "-p", "results_dir", str(tmp_path), "--cwd", str(pair.parent), "--no-progress-bar"]
    subprocess.run(command, check=True, capture_output=True)
    executed = nbformat.read(out, as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "scale = \"smoke\"" in injected[0].source
