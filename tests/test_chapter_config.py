"""Chapter parameters: scales, overrides, validation naming the parameter, atomic results."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures import myst_chapter, one_chapter_book

import aligninfo
from aligninfo.book import chapter as chapter_module
from aligninfo.book import run
from aligninfo.book.chapter import SCALE_ENV, configure, find_results, load_results, save_results
from aligninfo.book.run import parse_value, resolve

PRESETS = {"n_samples": (10, 1000, 10_000), "lr": (0.1, 0.01, 0.001), "tags": (["a"], ["b"], ["c"])}


@pytest.fixture(autouse=True)
def _no_scale_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(SCALE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # configure creates the default results_dir, "results"


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


def test_an_empty_list_is_taken_where_a_preset_is_empty() -> None:
    """Chapter 10's ``width_factors`` is [] at smoke: ``-p width_factors "[]"`` was refused."""
    presets = {"factors": ([], [2], [2, 4]), "tags": (["a"], ["a", "b"], ["a", "b"])}
    for scale in ("smoke", "book"):
        assert configure(scale, 0, presets, results_dir=None, factors=[]).factors == []
    with pytest.raises(ValueError, match="'tags' must be a non-empty list"):
        configure("smoke", 0, presets, results_dir=None, tags=[])


def test_results_are_written_atomically_as_json(tmp_path: Path) -> None:
    cfg = configure("smoke", 5, PRESETS, results_dir=str(tmp_path))
    path = save_results(cfg, "demo", {"r2": np.float64(0.5), "curve": np.arange(3)})
    assert path is not None
    record = json.loads(path.read_text())
    assert record["results"] == {"r2": 0.5, "curve": [0, 1, 2]}
    assert record["parameters"]["seed"] == 5
    assert list(tmp_path.iterdir()) == [path]
    assert path.name == f"demo-{record['key']}.json"


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


def test_tuple_preset_accepts_a_list_and_list_preset_a_tuple() -> None:
    presets = {"widths": ((4, 4), (8, 8), (16, 16)), "tags": (["a"], ["b"], ["c"])}
    cfg = configure("smoke", 0, presets, widths=[5, 5], tags=("x",))
    assert (cfg.widths, cfg.tags) == ((5, 5), ["x"])


def test_explicit_device_must_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="parameter 'device'.*CUDA is not available"):
        configure("smoke", 0, PRESETS, device="cuda")
    assert configure("smoke", 0, PRESETS, device="auto").device == "auto"
    assert configure("smoke", 0, PRESETS, device="cpu").device == "cpu"


def test_cuda_index_must_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match=r"parameter 'device'.*'cuda:3'.*1 CUDA device"):
        configure("smoke", 0, PRESETS, device="cuda:3")


def test_results_dir_is_created(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "b"
    configure("smoke", 0, PRESETS, results_dir=str(folder))
    assert folder.is_dir()


def test_results_dir_that_cannot_be_created_is_refused_at_once(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="parameter 'results_dir': cannot create"):
        configure("smoke", 0, PRESETS, results_dir=str(tmp_path / "file" / "results"))


def test_read_only_results_dir_is_refused_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(ValueError, match="parameter 'results_dir'.*not writable"):
            configure("smoke", 0, PRESETS, results_dir=str(folder))
    finally:
        folder.chmod(0o755)


def test_sizes_below_the_smallest_preset_are_refused() -> None:
    with pytest.raises(ValueError, match=r"parameter 'n_samples' must be >= 10; got 9"):
        configure("book", 0, PRESETS, n_samples=9)
    assert configure("book", 0, PRESETS, n_samples=10).n_samples == 10


def test_an_explicit_minimum_replaces_the_smallest_preset() -> None:
    assert configure("book", 0, PRESETS, minimum={"n_samples": 2}, n_samples=2).n_samples == 2
    with pytest.raises(ValueError, match=r"'lr' must be >= 0.05"):
        configure("book", 0, PRESETS, minimum={"lr": 0.05}, lr=0.01)
    with pytest.raises(ValueError, match="no preset"):
        configure("book", 0, PRESETS, minimum={"epochs": 2})


def test_results_are_readable_by_all(tmp_path: Path) -> None:
    path = save_results(configure("smoke", 0, PRESETS, results_dir=str(tmp_path)), "demo", {})
    assert path is not None and stat.S_IMODE(path.stat().st_mode) == 0o644


def test_results_of_other_parameters_are_kept_apart(tmp_path: Path) -> None:
    first = save_results(
        configure("smoke", 0, PRESETS, results_dir=str(tmp_path)), "demo", {"x": 1}
    )
    other = save_results(
        configure("smoke", 0, PRESETS, results_dir=str(tmp_path), n_samples=20), "demo", {"x": 2}
    )
    again = save_results(
        configure("smoke", 0, PRESETS, results_dir=str(tmp_path)), "demo", {"x": 3}
    )
    assert first is not None and other is not None
    assert first != other and again == first and first.name.startswith("demo-")
    assert json.loads(other.read_text())["results"] == {"x": 2}
    assert json.loads(first.read_text())["results"] == {"x": 3}
    assert sorted(tmp_path.iterdir()) == sorted([first, other])


DEMO = myst_chapter(
    """
    scale = "book"  # the scale
    seed = 0  # the seed
    noise = (0.3, 0.3)  # a tuple parameter
    n = None  # a size (None: set by the scale)
    workers = 1  # parallel processes (not in the results key)
    results_dir = "results"
    """,
    "value = 1",
    title="Demo",
)


@pytest.fixture
def demo_book(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A book of one chapter, ``99_demo``, with a parameters cell; returns the chapter."""
    return one_chapter_book(monkeypatch, tmp_path, "99_demo", DEMO)


def run_demo(results: Path, **injected: object) -> None:
    """Do what the demo chapter's kernel does: its parameters cell, overrides, configure, save."""
    namespace: dict[str, object] = {"configure": configure, "save_results": save_results}
    exec(
        'scale = "book"\nseed = 0\nnoise = (0.3, 0.3)\nn = None\nworkers = 1\n'
        'results_dir = "results"',
        namespace,
    )
    namespace |= injected | {"results_dir": str(results)}
    exec(
        "cfg = configure(scale, seed, {'n': (2, 5, 9)}, n=n, results_dir=results_dir)\n"
        "save_results(cfg, '99_demo', {'n': cfg.n})",
        namespace,
    )


def test_a_consumer_finds_only_the_results_of_its_parameters(
    demo_book: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    run_demo(results, n=7)
    record, why = find_results("99_demo", {"scale": "book"}, results)
    assert record is None and "no results of 99_demo for these parameters" in why
    assert "1 for other parameters" in why
    run_demo(results)
    assert len(list(results.iterdir())) == 2
    assert load_results("99_demo", {}, results)["results"] == {"n": 5}
    assert load_results("99_demo", {"n": 7}, results)["results"] == {"n": 7}
    assert load_results("99_demo", {"noise": [0.3, 0.3]}, results)["results"] == {"n": 5}
    assert load_results("99_demo", {"seed": 1}, results) is None
    record = load_results("99_demo", {}, results)
    assert record["parameters"]["n"] == 5 and record["requested"]["n"] is None
    assert record["aligninfo_version"] == aligninfo.__version__


def test_the_number_of_workers_does_not_enter_the_key(demo_book: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    run_demo(results, workers=2)
    assert load_results("99_demo", {"workers": 1}, results)["results"] == {"n": 5}
    run_demo(results, workers=3)
    assert len(list(results.iterdir())) == 1


def test_results_of_older_code_or_library_are_not_used(
    demo_book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_demo(tmp_path)
    assert load_results("99_demo", {}, tmp_path) is not None
    monkeypatch.setattr(chapter_module, "__version__", "0.0.1")
    record, why = find_results("99_demo", {}, tmp_path)
    assert record is None and f"computed by aligninfo {aligninfo.__version__}" in why
    assert "this is 0.0.1" in why
    monkeypatch.undo()
    monkeypatch.setattr(run, "BOOK", demo_book.parent)
    demo_book.write_text(DEMO.replace("value = 1", "value = 2"))
    record, why = find_results("99_demo", {}, tmp_path)
    assert record is None and "older version of 99_demo's code" in why


def test_the_scale_environment_variable_enters_the_key(
    demo_book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SCALE_ENV, "smoke")
    run_demo(tmp_path)
    assert load_results("99_demo", {}, tmp_path)["results"] == {"n": 2}
    monkeypatch.delenv(SCALE_ENV)
    assert load_results("99_demo", {"scale": "smoke"}, tmp_path)["results"] == {"n": 2}
    assert load_results("99_demo", {}, tmp_path) is None


def test_a_consumer_naming_an_unknown_parameter_is_refused(demo_book: Path) -> None:
    with pytest.raises(ValueError, match="99_demo has no parameter sede"):
        find_results("99_demo", {"sede": 3})


@pytest.mark.parametrize("workers", [0, -1, True, "2", 2.5])
def test_workers_is_checked_before_a_kernel(workers: object) -> None:
    with pytest.raises(ValueError, match="parameter 'workers' must be a positive integer"):
        chapter_module.check_values({"workers": workers})
    chapter_module.check_values({"workers": 2})
