"""Sweeps: grid expansion and checks, reuse of computed points, parallel = serial, failed points.

The chapter swept here is a tiny parameterised MyST notebook written to a temporary book folder,
so that each point runs through papermill in about a second.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixtures import myst_chapter, one_chapter_book, running

from aligninfo.book import chapter, run
from aligninfo.book.chapter import SCALE_ENV, load_results
from aligninfo.book.cli import main
from aligninfo.book.sweep import (
    check_grid,
    estimated_cost,
    expand,
    run_grid,
    run_points,
    summary,
)

TINY = myst_chapter(
    """
    scale = "smoke"  # the scale
    seed = 0  # the seed
    n = None  # a size (None: set by the scale)
    width = 2  # a plain parameter
    workers = 2  # parallel processes of the chapter itself
    results_dir = "results"
    """,
    """
    import os
    from pathlib import Path

    import numpy as np

    from aligninfo.book import run
    from aligninfo.book.chapter import configure, save_results

    assert "draws" not in dir(), "a previous run's variables are visible"
    run.BOOK = Path.cwd()  # this kernel runs in the temporary book folder: its chapters are there
    cfg = configure(scale, seed, {"n": (2, 5, 9)}, n=n, results_dir=results_dir)
    if cfg.n == 3:
        raise ValueError("n = 3 is the failing point")
    if cfg.n == 6:
        os._exit(1)  # the kernel dies
    with open(Path(results_dir) / "executions.log", "a") as log:
        log.write(f"{cfg.n} {width} {os.environ.get('OMP_NUM_THREADS')}\\n")
    draws = np.random.default_rng([seed, cfg.n, width]).normal(size=cfg.n)
    _ = save_results(cfg, "99_tiny", {"mean": float(draws.mean()) * width, "workers": workers})
    """,
    title="Tiny",
)


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A book of one chapter, ``99_tiny``; returns the chapter."""
    monkeypatch.delenv(SCALE_ENV, raising=False)
    return one_chapter_book(monkeypatch, tmp_path, "99_tiny", TINY)


def executions(results: Path) -> list[list[str]]:
    """The runs the tiny chapter logged: n, width and its thread setting, one per execution."""
    log = results / "executions.log"
    return [line.split() for line in log.read_text().splitlines()] if log.is_file() else []


def test_grid_expands_to_the_cartesian_product_first_name_slowest() -> None:
    points = expand({"a": [1, 2], "b": ["x", "y", "z"]})
    assert len(points) == 6
    assert points[:4] == [
        {"a": 1, "b": "x"},
        {"a": 1, "b": "y"},
        {"a": 1, "b": "z"},
        {"a": 2, "b": "x"},
    ]
    assert expand({}) == [{}]


def test_grid_is_checked_against_the_chapter(tiny: Path) -> None:
    with pytest.raises(
        ValueError,
        match=r"99_tiny has no parameter 'wdth'.*"
        r"its parameters are: scale, seed, n, width",
    ):
        check_grid("99_tiny", {"wdth": [1, 2]})
    with pytest.raises(ValueError, match="'n' has no values"):
        check_grid("99_tiny", {"n": []})
    with pytest.raises(ValueError, match="'n' repeats a value"):
        check_grid("99_tiny", {"n": [2, 2]})
    with pytest.raises(ValueError, match="needs a list of values"):
        check_grid("99_tiny", {"n": 2})
    with pytest.raises(ValueError, match="both in the grid and fixed"):
        check_grid("99_tiny", {"n": [2]}, fixed={"n": 4})
    with pytest.raises(ValueError, match="cannot vary"):
        check_grid("99_tiny", {"results_dir": ["a", "b"]})
    with pytest.raises(ValueError, match="'workers' says .* not what is computed: it cannot vary"):
        check_grid("99_tiny", {"n": [2], "workers": [1, 2]})  # both points: one results file
    check_grid("99_tiny", {"n": [2], "results_dir": ["a"], "workers": [1]})  # one value: fixed
    assert "width" in check_grid("99_tiny", {"n": [2, 4]}, fixed={"width": 3})


def test_refused_grid_runs_nothing(tiny: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        run_grid("99_tiny", {"n": [2]}, workers=0, results_dir=tmp_path / "r")
    with pytest.raises(ValueError, match="'scale' must be one of"):
        run_grid("99_tiny", {"scale": ["smoke", "huge"]}, results_dir=tmp_path / "r")


def test_scale_conflicting_with_the_environment_is_refused_before_any_run(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SCALE_ENV, "smoke")
    with pytest.raises(ValueError, match="would replace it"):
        run_grid("99_tiny", {"n": [2, 4]}, fixed={"scale": "book"}, results_dir=tmp_path / "r")
    assert not (tmp_path / "r").exists()
    assert executions(tmp_path / "r") == []


def test_a_second_sweep_reuses_every_point(tiny: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    lines: list[str] = []
    first = run_grid(
        "99_tiny",
        {"n": [2, 4], "width": [1, 3]},
        workers=2,
        results_dir=results,
        progress=lines.append,
    )
    assert [p.status for p in first] == ["computed"] * 4
    assert len(lines) == 4 and all(line.startswith("[") for line in lines)
    assert sorted(map(tuple, executions(results))) == [
        ("2", "1", "1"),
        ("2", "3", "1"),
        ("4", "1", "1"),
        ("4", "3", "1"),
    ]  # one thread each
    assert len(list(results.glob("99_tiny-*.json"))) == 4  # one results file per point
    # The chapter's own parallelism is off inside a sweep, and recorded as such.
    assert all(p.parameters["workers"] == 1 and p.results["workers"] == 1 for p in first)
    assert first[1].values == {"n": 2, "width": 3} and first[1].record is not None
    assert first[1].record["parameters"]["n"] == 2 and first[1].record["requested"]["width"] == 3

    again = run_grid("99_tiny", {"n": [2, 4], "width": [1, 3]}, workers=2, results_dir=results)
    assert [p.status for p in again] == ["reused"] * 4
    assert len(executions(results)) == 4  # nothing ran
    assert [p.record for p in again] == [p.record for p in first]
    wider = run_grid("99_tiny", {"n": [2, 5]}, fixed={"width": 3}, results_dir=results)
    assert [p.status for p in wider] == ["reused", "computed"]
    # An unkeyed parameter with one value is a fixed one: same points, same records.
    one = run_grid(
        "99_tiny", {"n": [2, 4], "workers": [1]}, fixed={"width": 1}, results_dir=results
    )
    assert [p.values for p in one] == [{"n": 2}, {"n": 4}]
    assert [p.status for p in one] == ["reused"] * 2 and one[0].record == first[0].record
    # A point recomputed says why its saved results were not reused.
    (results / f"{first[0].record['chapter']}-{first[0].record['key']}.json").write_text("{")
    lines.clear()
    redone = run_grid(
        "99_tiny", {"n": [2]}, fixed={"width": 1}, results_dir=results, progress=lines.append
    )
    assert redone[0].status == "computed" and "cannot be read (JSONDecodeError" in redone[0].stale
    assert "computed in" in lines[0] and "earlier results not reused:" in lines[0]
    assert "cannot be read" in lines[0]
    assert wider[1].stale == ""  # nothing was saved for it before


def test_parallel_and_serial_sweeps_give_the_same_records(tiny: Path, tmp_path: Path) -> None:
    grid = {"n": [2, 4], "seed": [0, 1]}
    serial = run_grid("99_tiny", grid, workers=1, results_dir=tmp_path / "serial")
    parallel = run_grid("99_tiny", grid, workers=2, results_dir=tmp_path / "parallel")
    assert [p.values for p in serial] == [p.values for p in parallel] == expand(grid)
    for a, b in zip(serial, parallel, strict=True):
        assert a.record is not None and b.record is not None
        assert a.record["key"] == b.record["key"]
        assert a.record["results"] == b.record["results"]
    assert len({p.results["mean"] for p in serial}) == len(serial)  # the points differ


def test_a_failing_point_is_reported_and_the_others_kept(tiny: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    lines: list[str] = []
    points = run_grid(
        "99_tiny", {"n": [3, 4]}, workers=2, results_dir=results, progress=lines.append
    )
    assert [p.status for p in points] == ["failed", "computed"]
    failed = points[0]
    assert failed.record is None and "ValueError: n = 3 is the failing point" in failed.error
    assert any("n=3: FAILED (" in line and "failing point" in line for line in lines)
    with pytest.raises(RuntimeError, match="n=3 has no results"):
        _ = failed.results
    assert len(list(results.glob("99_tiny-*.json"))) == 1
    table = summary(points).splitlines()
    assert table[0].split()[:3] == ["n", "status", "seconds"]
    assert "failed" in table[2] and "computed" in table[3]


def test_sweep_command(tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "out"
    argv = [
        "sweep",
        "99_tiny",
        "-p",
        "n",
        "2",
        "3",
        "-p",
        "width",
        "2",
        "--workers",
        "2",
        "--results-dir",
        str(results),
    ]
    assert main(argv) == 1  # a point failed
    captured = capsys.readouterr()
    assert "n=3 width=2: FAILED" in captured.out and "failed: n=3 width=2" in captured.err
    assert "computed" in captured.out.split("status", 1)[1]  # in the summary table
    (saved,) = results.glob("99_tiny-*.json")
    assert json.loads(saved.read_text())["requested"]["n"] == 2

    assert main(["sweep", "99_tiny", "-p", "n", "2", "--results-dir", str(results)]) == 0
    assert "reused" in capsys.readouterr().out
    assert main(["sweep", "99_tiny", "-p", "n"]) == 2
    assert "'n' has no values" in capsys.readouterr().err
    assert main(["sweep", "99_tiny", "-p", "sede", "1", "2"]) == 2
    assert "99_tiny has no parameter 'sede'" in capsys.readouterr().err
    assert main(["sweep", "99_tiny", "-p", "n", "2", "-p", "workers", "1", "2"]) == 2
    assert "'workers' says" in capsys.readouterr().err


def test_a_list_of_points_runs_each_distinct_point_once(tiny: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    points = run_points(
        "99_tiny", [{"n": 2}, {"width": 5}, {"n": 2}], workers=2, results_dir=results
    )
    assert [p.status for p in points] == ["computed"] * 3
    assert len(executions(results)) == 2
    assert points[0].record == points[2].record != points[1].record
    assert points[1].record is not None and points[1].record["requested"]["width"] == 5
    with pytest.raises(ValueError, match="has no parameter 'm'"):
        run_points("99_tiny", [{"n": 2}, {"m": 1}], results_dir=results)


def test_a_chapter_running_a_sweep_notes_the_records_of_its_points(
    tiny: Path, tmp_path: Path
) -> None:
    """Chapter 10 reads its points through run_points: its record lists them, computed or not."""
    results = tmp_path / "results"
    chapter.loaded_digest.cache_clear()
    cfg = chapter.configure("smoke", 0, results_dir=str(tmp_path / "consumer"))
    run_points("99_tiny", [{"n": 2}], workers=1, results_dir=results)  # computed
    points = run_points("99_tiny", [{"n": 2}, {"n": 4}], workers=1, results_dir=results)
    assert [p.status for p in points] == ["reused", "computed"]
    saved = chapter.save_results(cfg, "consumer", {})
    assert saved is not None
    upstream = json.loads(saved.read_text())["upstream"]
    assert [(e["chapter"], e["parameters"]["n"], e["results_dir"]) for e in upstream] == [
        ("99_tiny", 2, "../results"),
        ("99_tiny", 4, "../results"),
    ]
    assert [e["identity"] for e in upstream] == [
        chapter.record_identity(p.record) for p in points if p.record is not None
    ]


def test_one_kernel_runs_point_after_point_as_fresh_kernels_do(tiny: Path, tmp_path: Path) -> None:
    points = [{"n": 2}, {"n": 3}, {"n": 4, "width": 5}, {"n": 2, "seed": 1}]
    reused, fresh = tmp_path / "reused", tmp_path / "fresh"
    with run.ChapterKernel() as kernel:
        for point in points:
            if point["n"] == 3:  # a failing run leaves the kernel usable
                with pytest.raises(run.ChapterError, match="failing point") as failed:
                    kernel.run("99_tiny", point | {"results_dir": str(reused)})
                assert failed.value.cell == 3 and failed.value.ename == "ValueError"
            else:  # and each run starts from an empty namespace (the chapter asserts it)
                kernel.run("99_tiny", point | {"results_dir": str(reused)})
    assert len(executions(reused)) == 3
    with run.ChapterKernel() as kernel:  # a kernel that died is replaced at the next run
        with pytest.raises(RuntimeError, match="died"):
            kernel.run("99_tiny", {"n": 6, "results_dir": str(reused)})
        kernel.run("99_tiny", {"n": 4, "results_dir": str(reused)})
    assert executions(reused)[-1][0] == "4"
    for point in points:
        if point["n"] != 3:
            run.run_chapter("99_tiny", None, point | {"results_dir": str(fresh)}, progress=False)
            a, b = (load_results("99_tiny", point, folder) for folder in (reused, fresh))
            assert a is not None and b is not None and a["results"] == b["results"]


STATEFUL = myst_chapter(
    """
    results_dir = "results"
    """,
    """
    import decimal
    import json
    import locale
    import logging
    import os
    import random
    import signal
    import subprocess
    import sys
    import warnings
    from pathlib import Path

    import matplotlib
    import numpy as np
    import threadpoolctl
    import torch

    import aligninfo.losses

    umask = os.umask(0o022)
    os.umask(umask)
    state = {
        "pid": os.getpid(),
        "left": os.environ.get("TINY_LEFT"),
        "aligninfo": os.environ.get("ALIGNINFO_TINY"),
        "filters": len(warnings.filters),
        "linewidth": matplotlib.rcParams["lines.linewidth"],
        "dtype": str(torch.get_default_dtype()),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "threads": torch.get_num_threads(),
        "seterr": np.geterr(),
        "precision": np.get_printoptions()["precision"],
        "path": sys.path[:2],
        "cudnn": [torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark],
        "draws": [random.random(), float(np.random.random()), float(torch.rand(1))],
        "grad": torch.is_grad_enabled(),
        "anomaly": torch.is_anomaly_enabled(),
        "denormal": float(torch.tensor([1e-40], dtype=torch.float32)[0]) > 0,
        "torch_print": repr(torch.tensor([1 / 3])),
        "device": str(torch.get_default_device()),
        "blas": [pool["num_threads"] for pool in threadpoolctl.threadpool_info()],
        "check_finite": aligninfo.losses._CHECK_FINITE,
        "user_module": "tiny_user" in sys.modules,
        "umask": umask,
        "recursion": sys.getrecursionlimit(),
        "logging": [logging.root.level, len(logging.root.handlers), logging.root.manager.disable],
        "decimal": decimal.getcontext().prec,
        "locale": locale.setlocale(locale.LC_NUMERIC),
        "signals": [str(signal.getsignal(s)) for s in (signal.SIGINT, signal.SIGTERM)],
    }
    with open(Path(results_dir) / "state.log", "a") as log:
        log.write(json.dumps(state) + "\\n")
    # What a run may leave behind in its process:
    os.environ["TINY_LEFT"] = "1"
    warnings.filterwarnings("ignore", message="tiny")
    matplotlib.rcParams["lines.linewidth"] = 7.0
    torch.set_default_dtype(torch.float64)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(3)
    np.seterr(all="raise")
    np.set_printoptions(precision=2)
    sys.path.insert(0, "/tiny/bogus")
    torch.backends.cudnn.deterministic = torch.backends.cudnn.benchmark = True
    torch.set_grad_enabled(False)
    torch.autograd.set_detect_anomaly(True)
    torch.set_flush_denormal(True)
    torch.set_printoptions(precision=2)
    torch.set_default_device("meta")
    threadpoolctl.threadpool_limits(2)
    aligninfo.losses._CHECK_FINITE = False
    Path("tiny_user.py").write_text("X = 1\\n")  # a module next to the chapter
    import tiny_user
    os.umask(0o077)
    sys.setrecursionlimit(4321)
    logging.basicConfig(level=logging.ERROR, force=True)
    logging.disable(logging.INFO)
    decimal.getcontext().prec = 5
    locale.setlocale(locale.LC_NUMERIC, locale.setlocale(locale.LC_CTYPE))  # C.UTF-8, say
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if os.environ.get("ALIGNINFO_TINY") == "die":  # a child left running, then the kernel dies
        child = subprocess.Popen(["sleep", "120"])
        (Path(results_dir) / "child.pid").write_text(str(child.pid))
        os._exit(1)
    """,
    title="Stateful",
)


def states(results: Path) -> list[dict[str, object]]:
    """What each run of the stateful chapter found when it started."""
    return [json.loads(line) for line in (results / "state.log").read_text().splitlines()]


@pytest.fixture
def stateful(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A book of one chapter, ``99_stateful``, that changes its process's state; its results."""
    monkeypatch.delenv(SCALE_ENV, raising=False)
    monkeypatch.delenv("ALIGNINFO_TINY", raising=False)
    one_chapter_book(monkeypatch, tmp_path, "99_stateful", STATEFUL)
    results = tmp_path / "results"
    results.mkdir()
    return results


def test_a_reused_kernel_puts_back_the_state_a_run_changed(stateful: Path) -> None:
    with run.ChapterKernel() as kernel:
        for _ in range(2):
            kernel.run("99_stateful", {"results_dir": str(stateful)})
    run.run_chapter("99_stateful", None, {"results_dir": str(stateful)}, progress=False)
    first, second, fresh = states(stateful)
    assert second["pid"] == first["pid"] != fresh["pid"]  # the same kernel ran twice
    assert second == first  # environment, paths, filters, NumPy, rcParams, torch, locale...
    same = ("pid", "draws")  # a fresh kernel's NumPy and random generators start anywhere
    assert {k: v for k, v in first.items() if k not in same} == {
        k: v for k, v in fresh.items() if k not in same
    }


def test_a_kernel_starts_again_when_the_aligninfo_variables_change(
    stateful: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with run.ChapterKernel() as kernel:
        for value in ("a", "a", "b"):
            monkeypatch.setenv("ALIGNINFO_TINY", value)
            kernel.run("99_stateful", {"results_dir": str(stateful)})
    seen = states(stateful)
    assert [s["aligninfo"] for s in seen] == ["a", "a", "b"]
    assert seen[0]["pid"] == seen[1]["pid"] != seen[2]["pid"]


def test_a_kernel_starts_again_when_the_library_source_changes(
    stateful: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with run.ChapterKernel() as kernel:
        for digest in ("a", "a", "b"):  # the library's source as this process sees it
            monkeypatch.setattr(chapter, "library_digest", lambda d=digest: d * 64)
            kernel.run("99_stateful", {"results_dir": str(stateful)})
    seen = states(stateful)
    assert seen[0]["pid"] == seen[1]["pid"] != seen[2]["pid"]


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_what_a_dead_kernel_started_is_stopped_when_it_is_replaced(
    stateful: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIGNINFO_TINY", "die")
    with run.ChapterKernel() as kernel:
        with pytest.raises(RuntimeError, match="died"):
            kernel.run("99_stateful", {"results_dir": str(stateful)})
        child = int((stateful / "child.pid").read_text())
        try:
            monkeypatch.setenv("ALIGNINFO_TINY", "lives")
            kernel.run("99_stateful", {"results_dir": str(stateful)})  # a new kernel
            time.sleep(0.5)
            assert not running(child)
        finally:
            if running(child):
                os.kill(child, signal.SIGKILL)


def test_a_points_cost_is_its_sizes_times_its_methods() -> None:
    centre = {"epochs": 15, "width": 64, "embedding_dim": 8, "methods": ["raw", "a", "b", "c"]}
    assert estimated_cost({"epochs": 30, "methods": ["raw", "a"]}, centre) == 30 * 64 * 2
    assert estimated_cost({"embedding_dim": 128}, centre) == 15 * 64 * 4  # k: not a size
    assert estimated_cost({"width": True, "epochs": "many"}, {}) == 1.0  # not numbers: 1


def test_points_run_longest_first(tiny: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    points = [{"width": 1}, {"width": 5, "n": 2}, {"width": 3}]
    done = run_points("99_tiny", points, workers=1, results_dir=results)
    assert [p.values for p in done] == points  # reported in the order given
    assert [run[1] for run in executions(results)] == ["5", "3", "1"]  # run widest first


STUBBORN = myst_chapter(
    """
    seed = 0  # the seed
    results_dir = "results"
    """,
    """
    import os
    import signal
    import time
    from pathlib import Path

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a computation deaf to Ctrl-C
    (Path(results_dir) / f"kernel-{seed}.pid").write_text(str(os.getpid()))
    time.sleep(120)
    """,
    title="Stubborn",
)

LAUNCHER = """
import sys
from pathlib import Path

from aligninfo.book import run

run.BOOK = Path(sys.argv[1])
if __name__ == "__main__":
    from aligninfo.book.cli import main

    sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_an_interrupted_sweep_stops_at_once_and_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Ctrl-C (SIGINT to the command's process group) while kernels ignore it: no 'Kernel died'."""
    monkeypatch.delenv(SCALE_ENV, raising=False)
    chapter_ = one_chapter_book(monkeypatch, tmp_path, "99_stubborn", STUBBORN)
    (tmp_path / "launch.py").write_text(LAUNCHER)
    results = tmp_path / "results"
    results.mkdir()
    args = [str(chapter_.parent), "sweep", "99_stubborn", "-p", "seed", "0", "1", "2"]
    command = subprocess.Popen(
        [sys.executable, str(tmp_path / "launch.py"), *args, "--results-dir", str(results)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while len(list(results.glob("kernel-*.pid"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)  # both workers' kernels are in the chapter's computation
        kernels = [int(p.read_text()) for p in results.glob("kernel-*.pid")]
        assert len(kernels) == 2, "the kernels did not start"
        os.killpg(command.pid, signal.SIGINT)
        out, err = command.communicate(timeout=30)  # the computations would take 120 s
    finally:
        if command.poll() is None:
            os.killpg(command.pid, signal.SIGKILL)
    assert command.returncode == 130
    assert "error: interrupted" in err.splitlines()  # the kernels' own warnings may follow
    assert "died" not in out + err and "Traceback" not in err
    time.sleep(3)  # a kernel ends within a second of its parent
    assert not any(map(running, kernels)), "the kernels outlived the sweep"
