"""The book build re-executes chapters 10 and 11 when what they read changes.

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

from aligninfo.book import run
from aligninfo.book.cli import main

DOWNSTREAM = "11_when_to_align"
PROTOCOL = "10_protocol"


@pytest.fixture
def book(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A copy of the book's chapters 7-11, so that their times can be changed."""
    folder = tmp_path / "book"
    folder.mkdir()
    for name in (*run.UPSTREAM[DOWNSTREAM], DOWNSTREAM):
        shutil.copy2(run.resolve(name), folder)
    monkeypatch.setattr(run, "BOOK", folder)
    return folder


def cached(build: Path, book: Path, chapter: str = DOWNSTREAM) -> nbformat.NotebookNode:
    """Store an executed chapter as Jupyter Book would (cache record, doctree); return it."""
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("x = 1", execution_count=1)],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    build.mkdir(exist_ok=True)
    notebook.cells[0].source = f"x = {chapter!r}"  # one cache record per chapter
    path = build / f"{chapter}.ipynb"
    nbformat.write(notebook, path)
    get_cache(str(build / ".jupyter_cache")).cache_notebook_file(
        str(path), uri=str(book / f"{chapter}.md"), check_validity=False
    )
    doctree(build, chapter).parent.mkdir(parents=True, exist_ok=True)
    doctree(build, chapter).write_bytes(b"")
    return notebook


def doctree(build: Path, chapter: str = DOWNSTREAM) -> Path:
    """Where Sphinx keeps what it read of a chapter."""
    return build / ".doctrees" / "book" / f"{chapter}.doctree"


def is_cached(build: Path, notebook: nbformat.NotebookNode, chapter: str = DOWNSTREAM) -> bool:
    """Whether the build would reuse a chapter (cached execution and doctree)."""
    try:
        get_cache(str(build / ".jupyter_cache")).match_cache_notebook(notebook)
    except KeyError:
        return False
    return doctree(build, chapter).is_file()


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
    (results / f"{DOWNSTREAM}-0.json").write_text("{}")
    later(results / f"{DOWNSTREAM}-0.json")  # its own results do not count
    assert main(["invalidate", str(tmp_path / "_build")]) == 0
    assert is_cached(tmp_path / "_build", notebook)
    (results / "07_synthetic-0123456789abcdef.json").write_text("{}")
    later(results / "07_synthetic-0123456789abcdef.json")
    assert main(["invalidate", str(tmp_path / "_build")]) == 0
    assert f"{DOWNSTREAM}: upstream chapters or results changed" in capsys.readouterr().out
    assert not is_cached(tmp_path / "_build", notebook)


def test_the_protocol_chapter_follows_chapters_7_and_8(book: Path, tmp_path: Path) -> None:
    build = tmp_path / "_build"
    protocol = cached(build, book, PROTOCOL)
    closing = cached(build, book)
    later(book / "09_houston.md")  # read by chapter 11 only
    assert run.invalidate_stale(build, tmp_path / "results") == [DOWNSTREAM]
    assert is_cached(build, protocol, PROTOCOL) and not is_cached(build, closing)
    later(book / "07_synthetic.md")
    assert run.invalidate_stale(build, tmp_path / "results") == [PROTOCOL]
    assert not is_cached(build, protocol, PROTOCOL)


def test_new_protocol_results_drop_the_closing_chapter(book: Path, tmp_path: Path) -> None:
    build = tmp_path / "_build"
    closing = cached(build, book)
    results = tmp_path / "results"
    results.mkdir()
    assert run.invalidate_stale(build, results) == []
    (results / f"{PROTOCOL}-0123456789abcdef.json").write_text("{}")
    later(results / f"{PROTOCOL}-0123456789abcdef.json")
    assert run.invalidate_stale(build, results) == [DOWNSTREAM]
    assert not is_cached(build, closing)


def test_no_build_yet_is_nothing_to_do(tmp_path: Path) -> None:
    assert run.invalidate_stale(tmp_path / "absent") == []
    assert not (tmp_path / "absent").exists()
