"""``python -m aligninfo pretrain`` and :func:`aligninfo.pretrain.load_encoders` (one process)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from aligninfo import pretrain as pretrain_module
from aligninfo.book.cli import main
from aligninfo.losses import make_objective
from aligninfo.pretrain import NEEDS_MORE, build_model, load_encoders

N = 96


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two .npy files of paired rows sharing two latent columns, in raw units (offset, scale)."""
    folder = tmp_path_factory.mktemp("pairs")
    rng = np.random.default_rng(0)
    s = rng.normal(size=(N, 2))
    x1 = np.hstack([s, rng.normal(size=(N, 3))]) * 4.0 + 10.0
    x2 = np.hstack([s + 0.1 * rng.normal(size=(N, 2)), rng.normal(size=(N, 2))])
    paths = folder / "x1.npy", folder / "x2.npy"
    np.save(paths[0], x1)
    np.save(paths[1], x2)
    return paths


def _args(pairs: tuple[Path, Path], out: Path, *extra: str) -> list[str]:
    return [
        "pretrain",
        *map(str, pairs),
        "-k",
        "3",
        "--hidden",
        "8",
        "--batch-size",
        "16",
        "--lr",
        "0.01",
        "--out",
        str(out),
        "--no-progress",
        *extra,
    ]


def _loss(model: torch.nn.Module, x1: np.ndarray, x2: np.ndarray) -> float:
    """InfoNCE at temperature 0.1 of the backbone features of the whole data set."""
    objective = make_objective("info_nce", temperature=0.1).eval()
    with torch.no_grad():
        return float(objective(model, {"x1": torch.as_tensor(x1), "x2": torch.as_tensor(x2)}))


def test_pretrain_writes_encoders_that_load_encoders_rebuilds(
    pairs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "enc"
    assert main(_args(pairs, out, "--epochs", "4")) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out}: info_nce, k=3, 4 epochs on 1 process")
    encoders = load_encoders(out)
    x1, x2 = (np.load(p) for p in pairs)
    assert encoders.spec["history"]["epoch"] == [1, 2, 3, 4] and encoders.spec["processes"] == 1
    assert 0 < encoders.spec["samples_per_cpu_second"] < np.inf
    mean, scale = encoders.scaling["x1"]
    np.testing.assert_allclose(mean.numpy(), x1.mean(0), rtol=1e-5)
    np.testing.assert_allclose(scale.numpy(), x1.std(0), rtol=1e-5)
    z1 = encoders.encode("x1", x1)
    assert z1.shape == (N, 3) and z1.dtype == np.float32
    standard = {k: encoders.standardise(k, x).numpy() for k, x in (("x1", x1), ("x2", x2))}
    torch.manual_seed(0)
    untrained = build_model(encoders.spec)
    assert _loss(encoders.model, standard["x1"], standard["x2"]) < _loss(
        untrained, standard["x1"], standard["x2"]
    )


def test_pretrain_again_with_more_epochs_continues_the_run(
    pairs: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "enc"
    assert main(_args(pairs, out, "--epochs", "2")) == 0
    assert main(_args(pairs, out, "--epochs", "3")) == 0
    assert load_encoders(out).spec["history"]["epoch"] == [1, 2, 3]
    whole = tmp_path / "whole"
    assert main(_args(pairs, whole, "--epochs", "3")) == 0
    for key, value in load_encoders(whole).model.state_dict().items():
        torch.testing.assert_close(load_encoders(out).model.state_dict()[key], value)


def test_pretrain_on_a_named_data_set(data_dir: Path, tmp_path: Path) -> None:
    args = ["pretrain", "houston", "--data-dir", str(data_dir), "-k", "4", "--hidden", "16"]
    assert main([*args, "--epochs", "1", "--out", str(tmp_path), "--no-progress"]) == 0
    encoders = load_encoders(tmp_path / "encoders.json")
    assert encoders.spec["modalities"] == {"x1": "HSI", "x2": "LiDAR"}
    assert encoders.encode("x2", np.zeros((2, 21))).shape == (2, 4)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"inputs": ["nosuch"]}, "unknown data set 'nosuch'"),
        ({"inputs": ["a.npy", "b.npy", "c.npy"]}, "give a data set"),
        ({"inputs": ["x1.npy", "missing.npy"]}, "X2: cannot read"),
        ({"inputs": ["x1.npy", "short.npy"]}, "rows must pair"),
        ({"inputs": ["x1.npy", "nan.npy"]}, "NaN or infinite"),
        ({"extra": ["--objective", "nosuch"]}, "unknown objective 'nosuch'"),
        ({"extra": ["--objective", "comm"]}, "needs a fusion head"),
        ({"extra": ["--param", "colour", "1"]}, "cannot build the model or objective"),
        ({"extra": ["-k", "0"]}, "k must be a positive integer"),
        ({"extra": ["--epochs", "0"]}, "epochs must be a positive integer"),
        ({"extra": ["--batch-size", "500"]}, "batch_size=500 exceeds the 96"),
        ({"out": "file"}, "is a file, not a folder"),
    ],
)
def test_bad_input_is_refused_in_one_line(
    pairs: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, list[str] | str],
    message: str,
) -> None:
    folder = pairs[0].parent
    np.save(folder / "short.npy", np.zeros((N - 1, 2)))
    np.save(folder / "nan.npy", np.full((N, 2), np.nan))
    (tmp_path / "file").write_text("")
    inputs = [str(folder / name) for name in change.get("inputs", ["x1.npy", "x2.npy"])]
    if change.get("inputs") == ["nosuch"]:
        inputs = ["nosuch"]
    out = tmp_path / str(change.get("out", "enc"))
    args = _args(pairs, out, *change.get("extra", []))
    args[1:3] = inputs
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "enc" / "encoders.pt").exists()


def test_an_unknown_objective_is_answered_with_those_pretrain_trains(
    pairs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_args(pairs, tmp_path / "enc", "--objective", "infonce")) == 2
    choices = capsys.readouterr().err.split("choose from ")[1]
    assert "info_nce" in choices and "simclr" in choices
    offered = choices.strip().split(", ")
    assert "info_nce" in offered and "simclr" in offered
    assert not set(offered) & set(NEEDS_MORE)


def test_a_training_loss_that_turns_nan_is_refused_in_one_line(
    pairs: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A diverging run (what fit raises then) ends with one line and status 2, no traceback."""

    def diverging(*args: object, **kwargs: object) -> None:
        raise FloatingPointError("training loss is nan at step 7")

    monkeypatch.setattr(pretrain_module, "fit", diverging)
    assert main(_args(pairs, tmp_path / "enc")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: training loss is nan at step 7") and err.count("\n") == 1


def test_load_encoders_names_a_folder_without_encoders(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="encoders.json not found"):
        load_encoders(tmp_path)
