"""The command line: list, check, run, sync."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import papermill
import pytest
import torch
from fixtures import myst_chapter

from aligninfo.book import run
from aligninfo.book.chapter import SCALE_ENV, load_results
from aligninfo.book.cli import main
from aligninfo.data.registry import ENV_VAR as DATA_ENV


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


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    """The command's message after papermill's progress bar: one line, no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    message = err.split("\r")[-1].split("\n", 1)[-1] if "Executing" in err else err
    assert message.startswith("error: ") and message.count("\n") == 1, err
    return message


def test_unknown_chapter_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "nonexistent", "-p", "scale", "smoke"]) == 2
    assert "no chapter 'nonexistent'" in one_line_error(capsys)


def test_unknown_parameter_is_refused_before_running(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(papermill, "execute_notebook", _no_execution)
    assert main(["run", "01_model", "-p", "sede", "3"]) == 2
    err = one_line_error(capsys)
    assert "01_model has no parameter 'sede'" in err
    assert "its parameters are: scale, seed, " in err


def _no_execution(*args: object, **kwargs: object) -> None:
    raise AssertionError("the chapter was about to run")


def test_scale_conflicting_with_the_environment_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SCALE_ENV, "smoke")
    monkeypatch.setattr(papermill, "execute_notebook", _no_execution)
    assert main(["run", "01_model", "-p", "scale", "paper"]) == 2
    err = one_line_error(capsys)
    assert "'paper'" in err and f"{SCALE_ENV}='smoke'" in err
    assert run.check_parameters("01_model", {"scale": "smoke"}) == {"scale": "smoke"}


def test_tuples_reach_the_kernel_as_lists() -> None:
    value = run.parse_value("(0.3, 0.3)")
    assert run.check_parameters("01_model", {"noise": value}) == {"noise": [0.3, 0.3]}


@pytest.mark.parametrize(
    "command",
    [
        ["run", "08_lfmc", "-p", "methods", "info_nce"],
        ["sweep", "08_lfmc", "-p", "methods", "raw", "info_nce"],  # two points, each a string
        ["sweep", "08_lfmc", "-p", "methods", "['raw', 3]"],
        ["sweep", "01_model", "-p", "noise", "(0.3,)", "(0.3, 0.2)"],  # one per modality
        ["run", "01_model", "-p", "d_unique", "(2.5, 3)"],
    ],
)
def test_a_list_parameter_is_checked_before_any_kernel_starts(
    command: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from aligninfo.book import sweep

    monkeypatch.setattr(papermill, "execute_notebook", _no_execution)
    monkeypatch.setattr(sweep, "_run_pending", _no_execution)
    assert main(command) == 2
    assert f"parameter {command[3]!r}" in one_line_error(capsys)
    good = {"methods": ["raw", "info_nce"], "noise": [0.3, 0.2], "d_unique": [2, 3]}[command[3]]
    chapter_ = command[1]
    assert run.check_parameters(chapter_, {command[3]: good}) == {command[3]: good}


def test_run_and_sweep_take_the_results_folder_alike(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from aligninfo.book import sweep

    seen: list[object] = []
    monkeypatch.setattr(run, "run_chapter", lambda c, o, p: seen.append(p["results_dir"]))
    monkeypatch.setattr(sweep, "run_grid", lambda c, g, **k: seen.append(k["results_dir"]) or [])
    monkeypatch.setattr(sweep, "summary", lambda points: "")
    for command in ("run", "sweep"):
        assert main([command, "01_model", "--results-dir", "out"]) == 0
        assert main([command, "01_model", "-p", "results_dir", "out"]) == 0
        assert main([command, "01_model", "-p", "results_dir", "a", "--results-dir", "b"]) == 2
        assert "given twice" in one_line_error(capsys)
    assert seen == ["out", "out", "out", "out"]


def test_relative_folders_are_resolved_against_the_callers_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "work").mkdir()
    (tmp_path / "data").mkdir()  # a data_dir must exist
    monkeypatch.chdir(tmp_path / "work")
    checked = run.check_parameters("09_houston", {"results_dir": "out", "data_dir": "../data"})
    assert checked == {
        "results_dir": str(tmp_path / "work" / "out"),
        "data_dir": str(tmp_path / "work" / ".." / "data"),
    }
    pretrained = run.check_parameters("13_images", {"pretrained": "encoders"})
    assert pretrained == {"pretrained": str(tmp_path / "work" / "encoders")}
    monkeypatch.setenv(DATA_ENV, "../shared/data")
    run.absolute_data_env()
    assert os.environ[DATA_ENV] == str(tmp_path / "work" / ".." / "shared" / "data")


@pytest.mark.chapters
def test_tuple_parameter_from_the_command_line_runs(tmp_path: Path) -> None:
    out = tmp_path / "out.ipynb"
    argv = [
        "run",
        "01_model",
        "-p",
        "scale",
        "smoke",
        "-p",
        "noise",
        "(0.3, 0.2)",
        "-p",
        "results_dir",
        str(tmp_path),
        "-o",
        str(out),
    ]
    assert main(argv) == 0
    record = load_results("01_model", {"scale": "smoke", "noise": [0.3, 0.2]}, tmp_path)
    assert record is not None and record["parameters"]["noise"] == [0.3, 0.2]


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_missing_device_is_refused_before_the_chapter_runs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(papermill, "execute_notebook", _no_execution)
    argv = [
        "run",
        "03_linear_alignment",
        "-p",
        "scale",
        "smoke",
        "-p",
        "device",
        "cuda",
        "-p",
        "results_dir",
        str(tmp_path),
        "-o",
        str(tmp_path / "out.ipynb"),
    ]
    assert main(argv) == 2
    assert "parameter 'device'" in one_line_error(capsys)


@pytest.mark.chapters
def test_plain_papermill_runs_a_paired_notebook(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "out.ipynb"
    pair = run.pair_of(run.chapters()[0])
    command = [
        sys.executable,
        "-m",
        "papermill",
        str(pair),
        str(out),
        "-p",
        "scale",
        "smoke",
        "-p",
        "results_dir",
        str(tmp_path),
        "--cwd",
        str(pair.parent),
        "--no-progress-bar",
    ]
    subprocess.run(command, check=True, capture_output=True)
    executed = nbformat.read(out, as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and 'scale = "smoke"' in injected[0].source


KERNEL_DATA = myst_chapter(
    'scale = "smoke"',
    """
    from aligninfo.data.registry import default_data_dir

    print(default_data_dir())
    """,
)


@pytest.mark.chapters
def test_kernel_reads_a_relative_data_folder_from_the_callers_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "book").mkdir()
    chapter = tmp_path / "book" / "99_data.md"
    chapter.write_text(KERNEL_DATA)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(DATA_ENV, "data")
    executed = run.run_chapter(chapter, None, {}, progress=False)
    assert executed.cells[-1].outputs[0]["text"].strip() == str(tmp_path / "data")
    assert not (tmp_path / "book" / "data").exists()


def test_a_kernel_that_dies_at_start_is_started_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def flaky(*args: object, **kwargs: object) -> str:
        calls.append(1)
        if len(calls) < run.KERNEL_STARTS:
            raise RuntimeError(run.KERNEL_DIED)
        return "executed"

    monkeypatch.setattr(papermill, "execute_notebook", flaky)
    assert run.run_chapter("01_model", progress=False) == "executed"
    assert len(calls) == run.KERNEL_STARTS

    def broken(*args: object, **kwargs: object) -> str:
        calls.append(1)
        raise RuntimeError("something else")

    calls.clear()
    monkeypatch.setattr(papermill, "execute_notebook", broken)
    with pytest.raises(RuntimeError, match="something else"):
        run.run_chapter("01_model", progress=False)
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("argv", "example"),
    [
        (["run", "08_lfmc", "-p", "methods", "raw", "info_nce"],
         "-p methods \"['raw', 'info_nce']\""),
        (["run", "10_protocol", "-p", "width_factors", "2", "4", "-p", "seed", "1"],
         '-p width_factors "[2, 4]"'),
    ],
)  # fmt: skip
def test_a_list_given_as_several_values_to_run_says_how_to_quote_it(
    argv: list[str], example: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Parameters whose default is None (a list set by the scale) got argparse's bare message."""
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.endswith(f"give a list as one quoted value, e.g. {example})")
    with pytest.raises(SystemExit):
        main(["list", "extra"])
    assert capsys.readouterr().err.strip().endswith("unrecognized arguments: extra")
