"""Chapter parameters: scales, overrides, validation naming the parameter, atomic results."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aligninfo.chapter import SCALE_ENV, configure, save_results
from aligninfo.run import parse_value, resolve

PRESETS = {"n_samples": (10, 1000, 10_000), "lr": (0.1, 0.01, 0.001), "tags": (["a"], ["b"], ["c"])}


@pytest.fixture(autouse=True)
def _no_scale_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SCALE_ENV, raising=False)


@pytest.mark.parametrize(("scale", "index"), [("smoke", 0), ("book", 1), ("paper", 2)])
def test_scale_picks_its_column(scale: str, index: int) -> None:
    cfg = configure(scale, 3, PRESETS)
    assert cfg.n_samples == PRESETS["n_samples"][index]
    assert cfg.lr == PRESETS["lr"][index]
    assert (cfg.scale, cfg.seed, cfg.device) == (scale, 3, "auto")


def test_explicit_values_override_the_scale() -> None:
    cfg = configure("smoke", 0, PRESETS, n_samples=77, lr=1, tags=("x", "y"))
    assert (cfg.n_samples, cfg.lr, cfg.tags) == (77, 1.0, ["x", "y"])


def test_environment_replaces_the_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SCALE_ENV, "smoke")
    assert configure("paper", 0, PRESETS).n_samples == 10


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"scale": "huge"}, "scale"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"device": "gpu"}, "device"),
        ({"n_samples": -1}, "n_samples"),
        ({"n_samples": 2.5}, "n_samples"),
        ({"lr": float("nan")}, "lr"),
        ({"lr": 0}, "lr"),
        ({"tags": []}, "tags"),
        ({"epochs": 3}, "epochs"),
    ],
)
def test_invalid_values_name_the_parameter(kwargs: dict, name: str) -> None:
    args = {"scale": "book", "seed": 0} | kwargs
    with pytest.raises(ValueError, match=name):
        configure(args.pop("scale"), args.pop("seed"), PRESETS, **args)


def test_results_are_written_atomically_as_json(tmp_path: Path) -> None:
    cfg = configure("smoke", 5, PRESETS, results_dir=str(tmp_path))
    path = save_results(cfg, "demo", {"r2": np.float64(0.5), "curve": np.arange(3)})
    assert path is not None
    record = json.loads(path.read_text())
    assert record["results"] == {"r2": 0.5, "curve": [0, 1, 2]}
    assert record["parameters"]["seed"] == 5
    assert list(tmp_path.iterdir()) == [path]


def test_no_results_dir_writes_nothing() -> None:
    assert save_results(configure("smoke", 0, results_dir=None), "demo", {}) is None


def test_parse_value_reads_literals_else_strings() -> None:
    assert parse_value("3") == 3
    assert parse_value("0.5") == 0.5
    assert parse_value("None") is None
    assert parse_value("[1, 2]") == [1, 2]
    assert parse_value("paper") == "paper"


def test_unknown_chapter_lists_the_chapters() -> None:
    with pytest.raises(FileNotFoundError, match="the chapters are"):
        resolve("no_such_chapter")
