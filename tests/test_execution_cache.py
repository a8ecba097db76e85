"""The book build re-executes chapter 10 when chapters 7-9 or their results change.

Checked on a real build too: a two-chapter Jupyter Book whose downstream chapter prints the time
it runs was rebuilt after touching the upstream source, after new upstream results and with
nothing changed; only in the first two cases did the printed time change.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_cache import get_cache

from aligninfo import run
from aligninfo.__main__ import main

DOWNSTREAM = "10_when_to_align"


@pytest.fixture
def book(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A copy of the book's chapters 7-10, so that their times can be changed."""
    folder = tmp_path / "book"
    folder.mkdir()
    for name in (*run.UPSTREAM[DOWNSTREAM], DOWNSTREAM):
        shutil.copy2(run.resolve(name), folder)
    monkeypatch.setattr(run, "BOOK", folder)
    return folder


def cached(build: Path, book: Path) -> nbformat.NotebookNode:
    """Store an executed chapter 10 as Jupyter Book would (cache record, doctree); return it."""
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("x = 1", execution_count=1)],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}})
    build.mkdir(exist_ok=True)
    path = build / f"{DOWNSTREAM}.ipynb"
    nbformat.write(notebook, path)
    get_cache(str(build / ".jupyter_cache")).cache_notebook_file(
        str(path), uri=str(book / f"{DOWNSTREAM}.md"), check_validity=False)
    doctree(build).parent.mkdir(parents=True)
    doctree(build).write_bytes(b"")
    return notebook


def doctree(build: Path) -> Path:
    """Where Sphinx keeps what it read of chapter 10."""
    return build / ".doctrees" / "book" / f"{DOWNSTREAM}.doctree"


def is_cached(build: Path, notebook: nbformat.NotebookNode) -> bool:
    """Whether the build would reuse chapter 10 (cached execution and doctree)."""
    try:
        get_cache(str(build / ".jupyter_cache")).match_cache_notebook(notebook)
    except KeyError:
        return False
    return doctree(build).is_file()


def later(path: Path) -> None:
    """Mark a file as changed after the cached execution."""
    stamp = time.time() + 60
    os.utime(path, (stamp, stamp))


def test_unchanged_upstream_keeps_the_cache(book: Path, tmp_path: Path) -> None:
    notebook = cached(tmp_path / "_build", book)
    (tmp_path / "results").mkdir()
    assert run.invalidate_stale(tmp_path / "_build", tmp_path / "results") == []
    assert is_cached(tmp_path / "_build", notebook)


def test_changed_upstream_chapter_drops_the_cached_execution(book: Path, tmp_path: Path) -> None:
    notebook = cached(tmp_path / "_build", book)
    later(book / "08_lfmc.md")
    assert run.invalidate_stale(tmp_path / "_build", tmp_path / "results") == [DOWNSTREAM]
    assert not is_cached(tmp_path / "_build", notebook)
    assert not doctree(tmp_path / "_build").exists()


def test_a_doctree_older_than_the_upstream_is_dropped(book: Path, tmp_path: Path) -> None:
    doctree(tmp_path / "_build").parent.mkdir(parents=True)
    doctree(tmp_path / "_build").write_bytes(b"")
    os.utime(doctree(tmp_path / "_build"), (0, 0))
    assert run.invalidate_stale(tmp_path / "_build", tmp_path / "results") == [DOWNSTREAM]
    assert not doctree(tmp_path / "_build").exists()


def test_new_upstream_results_drop_the_cached_execution(
    book: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = cached(tmp_path / "_build", book)
    results = book / "results"
    results.mkdir()
    (results / "10_when_to_align-0.json").write_text("{}")
    later(results / "10_when_to_align-0.json")  # its own results do not count
    assert main(["invalidate", str(tmp_path / "_build")]) == 0
    assert is_cached(tmp_path / "_build", notebook)
    (results / "07_synthetic-0123456789abcdef.json").write_text("{}")
    later(results / "07_synthetic-0123456789abcdef.json")
    assert main(["invalidate", str(tmp_path / "_build")]) == 0
    assert f"{DOWNSTREAM}: upstream chapters or results changed" in capsys.readouterr().out
    assert not is_cached(tmp_path / "_build", notebook)


def test_no_build_yet_is_nothing_to_do(tmp_path: Path) -> None:
    assert run.invalidate_stale(tmp_path / "absent") == []
    assert not (tmp_path / "absent").exists()
