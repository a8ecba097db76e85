"""Mistakes a new user makes, each refused early with one clear line naming what is wrong.

Found by trying the command line, the chapters and ``train.fit`` as a user would (issue 9):
each test here failed before its fix.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jupytext
import papermill
import pytest
import torch
from fixtures import myst_chapter

from aligninfo import train as train_module
from aligninfo.book import run, sweep
from aligninfo.book.chapter import SCALE_ENV, configure
from aligninfo.book.cli import main
from aligninfo.data.registry import ENV_VAR as DATA_ENV
from aligninfo.data.registry import DataFileError, data_root
from aligninfo.encoders import MLP, MultimodalEncoder
from aligninfo.losses import InfoNCE
from aligninfo.train import CheckpointError, TrainConfig, fit, load_checkpoint


@pytest.fixture(autouse=True)
def _no_scale_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(SCALE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)


def _no_execution(*args: object, **kwargs: object) -> None:
    raise AssertionError("the chapter was about to run")


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    """The command's stderr, which must be one line starting with ``error:``."""
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


# ---------------------------------------------------------------- python -m aligninfo run / sync


def test_a_parameter_given_twice_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(papermill, "execute_notebook", _no_execution)
    assert main(["run", "01_model", "-p", "seed", "1", "-p", "seed", "2"]) == 2
    assert "'seed' is given twice" in one_line_error(capsys)


def test_sync_of_an_unknown_chapter_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync", "99_nope"]) == 2
    assert "no chapter '99_nope'" in one_line_error(capsys)


def test_a_file_that_is_not_a_chapter_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(papermill, "execute_notebook", _no_execution)
    assert main(["run", str(run.ROOT / "README.md")]) == 2
    assert "is not a chapter" in one_line_error(capsys)
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{}")
    assert main(["run", str(broken)]) == 2
    assert f"cannot read {broken} as a notebook" in one_line_error(capsys)


def test_an_output_that_cannot_be_written_is_refused_before_running(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(papermill, "execute_notebook", _no_execution)
    assert main(["run", "01_model", "-o", str(tmp_path)]) == 2
    assert "is a folder" in one_line_error(capsys)
    assert main(["run", "01_model", "-o", str(tmp_path / "missing" / "out.ipynb")]) == 2
    assert "does not exist" in one_line_error(capsys)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"scale": "huge"}, "parameter 'scale' must be one of"),
        ({"seed": -1}, "parameter 'seed'"),
        ({"seed": 1.5}, "parameter 'seed'"),
        ({"seed": 2**64}, "parameter 'seed'"),
        ({"device": "gpu"}, "parameter 'device'"),
        ({"results_dir": ""}, "parameter 'results_dir' must name a folder"),
        ({"results_dir": 3}, "parameter 'results_dir' must name a folder"),
        ({"results_dir": "afile"}, "'results_dir': .*afile' is a file"),
        ({"results_dir": "afile/sub"}, "'results_dir': cannot create"),
    ],
)
def test_values_the_chapter_would_refuse_are_refused_before_its_kernel_starts(
    parameters: dict, message: str, tmp_path: Path
) -> None:
    (tmp_path / "afile").write_text("")
    with pytest.raises(ValueError, match=message):
        run.check_parameters("03_linear_alignment", parameters)  # it has a device parameter


@pytest.mark.parametrize(
    ("parameters", "env", "message"),
    [
        ({"data_dir": "missing"}, None, "parameter 'data_dir': .*missing' does not exist"),
        ({"data_dir": "afile"}, None, "parameter 'data_dir': .*afile' is not a folder"),
        ({"data_dir": ""}, None, "parameter 'data_dir' must name a folder"),
        ({}, "missing", f"{DATA_ENV}='missing'.*does not exist"),
        ({}, "afile", f"{DATA_ENV}='afile'.*is a file"),
    ],
)
def test_a_data_folder_that_is_not_one_is_refused_before_the_kernel_starts(
    parameters: dict, env: str | None, message: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "afile").write_text("")
    if env is None:
        monkeypatch.delenv(DATA_ENV, raising=False)
    else:
        monkeypatch.setenv(DATA_ENV, env)
    with pytest.raises(ValueError, match=message):
        run.check_parameters("08_lfmc", parameters)


def test_an_existing_data_folder_passes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    monkeypatch.setenv(DATA_ENV, "data")
    assert run.check_parameters("08_lfmc", {"scale": "smoke"}) == {"scale": "smoke"}
    assert run.check_parameters("08_lfmc", {"data_dir": "data"}) == {
        "data_dir": str(tmp_path / "data")
    }


# --------------------------------------------------------------------------------- configure


def test_configure_refuses_an_empty_results_dir_and_a_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="parameter 'results_dir' must name a folder"):
        configure("smoke", 0, {}, results_dir="")
    assert not list(tmp_path.iterdir())  # nothing written in the working directory
    (tmp_path / "afile").write_text("")
    with pytest.raises(ValueError, match="'results_dir': .*afile' is a file, not a folder"):
        configure("smoke", 0, {}, results_dir=str(tmp_path / "afile"))


def test_configure_refuses_a_seed_too_large_for_the_generators() -> None:
    with pytest.raises(ValueError, match="parameter 'seed'.*2\\*\\*32"):
        configure("smoke", 2**32, {}, results_dir=None)
    assert configure("smoke", 2**32 - 1, {}, results_dir=None).seed == 2**32 - 1


PARAMETERS_CELL = 'scale = "smoke"\nseed = 0\nresults_dir = None\n'


def _configure_after(injected: str) -> object:
    """Run configure as a chapter's second cell would, after papermill's injected cell."""
    namespace = {"configure": configure, "In": ["", PARAMETERS_CELL, injected]}
    exec(PARAMETERS_CELL + injected, namespace)  # noqa: S102 (the test's own cells)
    exec("cfg = configure(scale, seed, {}, results_dir=results_dir)", namespace)  # noqa: S102
    return namespace["cfg"]


def test_configure_refuses_a_name_papermill_injected_that_the_chapter_lacks() -> None:
    with pytest.raises(ValueError, match="no parameter 'sede'.*parameters are: scale, seed"):
        _configure_after("# Parameters\nsede = 3\n")
    assert _configure_after("# Parameters\nseed = 3\n").seed == 3


def test_configure_refuses_an_injected_scale_the_environment_replaces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SCALE_ENV, "smoke")
    with pytest.raises(ValueError, match=f"'scale' is 'paper' but {SCALE_ENV}='smoke'"):
        _configure_after('# Parameters\nscale = "paper"\n')
    assert _configure_after('# Parameters\nscale = "smoke"\n').scale == "smoke"


TINY = myst_chapter(
    """
    scale = "smoke"
    seed = 0
    """,
    """
    from aligninfo.book.chapter import configure

    cfg = configure(scale, seed, {}, results_dir=None)
    """,
)


@pytest.mark.chapters
def test_plain_papermill_with_a_misspelt_parameter_stops(tmp_path: Path) -> None:
    notebook = tmp_path / "tiny.ipynb"
    jupytext.write(jupytext.reads(TINY, fmt="md:myst"), notebook)
    command = [
        sys.executable,
        "-m",
        "papermill",
        str(notebook),
        str(tmp_path / "out.ipynb"),
        "-p",
        "sede",
        "3",
        "--no-progress-bar",
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode != 0
    assert "no parameter 'sede'" in done.stderr + done.stdout


# ---------------------------------------------------------------------------------- sweeps


def test_a_sweep_into_a_file_is_refused_before_anything_runs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sweep, "_run_pending", _no_execution)
    (tmp_path / "afile").write_text("")
    assert main(["sweep", "01_model", "-p", "seed", "1", "--results-dir", "afile"]) == 2
    assert "is a file" in one_line_error(capsys)


def test_a_sweep_with_a_bad_seed_is_refused_before_anything_runs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sweep, "_run_pending", _no_execution)
    assert main(["sweep", "01_model", "-p", "seed", "1", "-1"]) == 2
    assert "parameter 'seed'" in one_line_error(capsys)


# ----------------------------------------------------------------------------- data folder


def test_a_data_root_that_is_a_file_or_empty_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    with pytest.raises(DataFileError, match="is a file, not a folder"):
        data_root(tmp_path / "afile")
    with pytest.raises(DataFileError, match="empty path"):
        data_root("")


# ------------------------------------------------------------------------------- train.fit


def _data(n: int, width: int = 6) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(n)
    return {"x1": torch.randn(n, width, generator=g), "x2": torch.randn(n, 5, generator=g)}


def _model() -> MultimodalEncoder:
    torch.manual_seed(0)
    return MultimodalEncoder({"x1": MLP(6, 4, (8,)), "x2": MLP(5, 4, (8,))})


BASE = TrainConfig(epochs=1, batch_size=32, progress=False, device="cpu")


class _Counting(InfoNCE):
    """InfoNCE that counts its calls (none may happen before a refusal)."""

    calls = 0

    def forward(self, model, batch):  # type: ignore[no-untyped-def]
        _Counting.calls += 1
        return super().forward(model, batch)


def test_validation_data_of_another_shape_or_kind_is_refused_before_training() -> None:
    _Counting.calls = 0
    with pytest.raises(ValueError, match=r"val\['x1'\] has samples of shape \(5,\)"):
        fit(_model(), _Counting(), _data(64), _data(32, width=5), BASE)
    integers = {k: v.long() for k, v in _data(32).items()}
    with pytest.raises(ValueError, match=r"val\['x1'\].*int64"):
        fit(_model(), _Counting(), _data(64), integers, BASE)
    assert _Counting.calls == 0


@pytest.mark.parametrize("fingerprint", [5, [1], "x"])
def test_a_torch_file_with_a_foreign_fingerprint_is_not_a_checkpoint(
    fingerprint: object, tmp_path: Path
) -> None:
    path = tmp_path / "other.pt"
    torch.save({"fingerprint": fingerprint}, path)
    with pytest.raises(CheckpointError, match=f"{path} is not a checkpoint"):
        load_checkpoint(path)


@pytest.mark.parametrize("damage", ["model", "step"])
def test_a_checkpoint_damaged_inside_is_an_error_naming_the_file(
    damage: str, tmp_path: Path
) -> None:
    path = tmp_path / "run.ckpt"
    fit(_model(), InfoNCE(), _data(64), config=BASE, checkpoint=path)
    state = load_checkpoint(path)
    state[damage] = {"bogus": torch.ones(1)} if damage == "model" else "x"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=f"checkpoint {path} is damaged"):
        fit(_model(), InfoNCE(), _data(64), config=BASE, checkpoint=path, epochs=2)


def test_a_checkpoint_that_could_not_be_written_is_refused_before_training(
    tmp_path: Path,
) -> None:
    _Counting.calls = 0
    (tmp_path / "afile").write_text("")
    (tmp_path / "folder").mkdir()
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(0o555)
    try:
        for path, message in [
            (tmp_path / "afile" / "run.ckpt", "afile is a file"),
            (tmp_path / "folder", "is a folder"),
            (readonly / "run.ckpt", "is read-only"),
        ]:
            with pytest.raises(ValueError, match=message):
                fit(_model(), _Counting(), _data(64), config=BASE, checkpoint=path)
    finally:
        readonly.chmod(0o755)
    assert _Counting.calls == 0


def test_a_seed_too_large_for_the_epoch_generators_is_refused() -> None:
    with pytest.raises(ValueError, match="seed must be below"):
        TrainConfig(seed=train_module.SEED_LIMIT)
    assert TrainConfig(seed=train_module.SEED_LIMIT - 1).seed == train_module.SEED_LIMIT - 1


def test_an_interruption_ends_the_command_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "run_chapter", interrupted)
    assert main(["run", "01_model"]) == 130
    assert "interrupted" in one_line_error(capsys)


def test_a_dead_kernel_ends_the_run_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbclient.exceptions import DeadKernelError

    def dies(*args: object, **kwargs: object) -> None:
        raise DeadKernelError("Kernel died")

    monkeypatch.setattr(run, "run_chapter", dies)
    assert main(["run", "01_model"]) == 1
    assert "01_model: its kernel died" in one_line_error(capsys)


@pytest.mark.parametrize("text", ['{"chapter": "01_mo', "[1, 2]"])
def test_a_damaged_results_file_is_not_used_and_says_why(text: str, tmp_path: Path) -> None:
    from aligninfo.book.chapter import UNKEYED, find_results, results_key

    wanted = run.chapter_parameters("01_model") | {"scale": "smoke"}
    key = results_key("01_model", {k: v for k, v in wanted.items() if k not in UNKEYED})
    path = tmp_path / f"01_model-{key}.json"
    path.write_text(text)
    record, why = find_results("01_model", {"scale": "smoke"}, tmp_path)
    assert record is None and str(path) in why


def test_an_unknown_scale_in_the_environment_is_named_as_such(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SCALE_ENV, "huge")
    with pytest.raises(ValueError, match=f"{SCALE_ENV}='huge' must be one of"):
        run.check_parameters("01_model", {})
    with pytest.raises(ValueError, match=f"{SCALE_ENV}='huge' must be one of"):
        configure("smoke", 0, {}, results_dir=None)
