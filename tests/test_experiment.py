"""The experiment protocol on the linear-Gaussian model, where the right answers are known."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from fixtures import running

from aligninfo.encoders import LinearEncoder, MultimodalEncoder
from aligninfo.experiment import (
    Job,
    Setup,
    Splits,
    compare,
    markdown_table,
    run_jobs,
    summarize,
)
from aligninfo.gaussian import GaussianModel
from aligninfo.lifetime import ORPHAN_STATUS, POLL_SECONDS
from aligninfo.train import TrainConfig

MODEL = GaussianModel.random(
    d_shared=2, d_unique=(2, 2), dims=(6, 6), noise=(0.2, 0.2), unique_share=(0.5, 0.5), seed=0
)


def splits(n: int = 3000, draw: int = 0) -> Splits:
    parts = {}
    for i, name in enumerate(("train", "val", "test")):
        s = MODEL.sample(n if name != "val" else n // 3, seed=3 * draw + i)
        parts[name] = {
            "x1": s["X1"],
            "x2": s["X2"],
            "y": s["Y1"][:, 0],
            "c": (s["Y1"][:, 0] > 0).astype(np.int64),
        }
    return Splits(**parts)


def setup(k: int = 4) -> Setup:
    def make_model() -> MultimodalEncoder:
        return MultimodalEncoder({"x1": LinearEncoder(6, k), "x2": LinearEncoder(6, k)})

    return Setup(
        make_model=make_model,
        targets={"y": "regression", "c": "classification"},
        supervised={"x1": "y", "x2": "y"},
        train=TrainConfig(epochs=8, batch_size=128, lr=1e-2, device="cpu"),
        sigmas=(0.0, 1.0),
    )


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return compare(
        ["raw", "random", "supervised", "info_nce"], splits(), setup(), seeds=[0, 1], progress=False
    )


def test_raw_inputs_reach_the_closed_form(rows: list[dict]) -> None:
    raw = [r for r in rows if r["method"] == "raw"]
    assert len(raw) == 1, "raw is deterministic: one run"
    assert raw[0]["y/z1"] == pytest.approx(MODEL.r2("Y1", "X1"), abs=0.03)
    assert raw[0]["y/z2"] == pytest.approx(MODEL.r2("Y1", "X2"), abs=0.03)
    assert raw[0]["y/joint"] == pytest.approx(MODEL.r2("Y1", ("X1", "X2")), abs=0.03)
    curve = raw[0]["sigma/y/z1"]
    assert curve[0] == pytest.approx(raw[0]["y/z1"], abs=0.02) and curve[1] < curve[0]


def test_methods_differ_as_they_should(rows: list[dict]) -> None:
    by = {m: [r for r in rows if r["method"] == m] for m in ("random", "supervised", "info_nce")}
    assert all(len(v) == 2 for v in by.values())
    sup_x2 = np.mean([r["y/z2"] for r in by["supervised"]])
    assert sup_x2 == pytest.approx(MODEL.r2("Y1", "X2"), abs=0.05), "X2 sees Y1 only via S"
    assert np.mean([r["top1"] for r in by["info_nce"]]) > 5 * np.mean(
        [r["top1"] for r in by["random"]]
    ), "alignment makes the pairs retrievable"
    assert min(r["c/z1"] for r in by["supervised"]) > 0.8
    for r in rows:
        per_class = r["c/z1/per_class"]
        assert per_class.shape == (2,) and r["c/z1/balanced"] == pytest.approx(per_class.mean())
    assert by["info_nce"][0]["history"].epoch[-1] == 8


def test_seeds_are_deterministic() -> None:
    a, b = (
        compare(["info_nce"], splits(600), setup(), seeds=[3], progress=False)[0] for _ in range(2)
    )
    assert a["y/z1"] == b["y/z1"] and a["top1"] == b["top1"]


def test_summary_and_table(rows: list[dict]) -> None:
    summary = summarize(rows, ["y/z1", "top1"])
    assert [s["method"] for s in summary] == ["raw", "random", "supervised", "info_nce"]
    values = [r["y/z1"] for r in rows if r["method"] == "info_nce"]
    mean, sd = summary[-1]["y/z1"]
    assert mean == pytest.approx(np.mean(values)) and sd == pytest.approx(np.std(values, ddof=1))
    table = markdown_table(summary, labels={"y/z1": "R² from Z1"})
    assert table.splitlines()[0] == "| method | runs | R² from Z1 | top1 |"
    assert f"{mean:.3f} ± {sd:.3f}" in table


def test_unknown_method_is_named() -> None:
    with pytest.raises(ValueError, match="no_such_loss"):
        compare(["no_such_loss"], splits(300), setup(), seeds=[0], progress=False)


def test_per_class_accuracy_counts_each_class() -> None:
    from aligninfo.experiment import per_class_accuracy

    y = np.array([0, 0, 1, 1, 1, 3])
    pred = np.array([0, 1, 1, 1, 0, 3])
    np.testing.assert_allclose(per_class_accuracy(y, pred), [0.5, 2 / 3, np.nan, 1.0])


def test_missing_metric_shows_a_dash() -> None:
    rows = [{"method": "a", "x": 1.0}, {"method": "a", "x": 3.0}, {"method": "b"}]
    summary = summarize(rows, ["x"])
    assert summary[0]["x"] == pytest.approx((2.0, np.sqrt(2)))
    assert markdown_table(summary).splitlines()[-1] == "| b | 1 | – |"


# ----------------------------------------------------------------- protocol of issue 10


def fused_setup(k: int = 4, **kwargs) -> Setup:
    from aligninfo.encoders import Fusion

    def make_model() -> MultimodalEncoder:
        return MultimodalEncoder(
            {"x1": LinearEncoder(6, k), "x2": LinearEncoder(6, k)},
            fusion=Fusion({"x1": k, "x2": k}, k, (8,)),
        )

    base = dict(
        make_model=make_model,
        targets={"y": "regression"},
        train=TrainConfig(epochs=3, batch_size=100, lr=1e-2, device="cpu"),
        sigmas=(0.0,),
        projector=(3, 8),
    )
    return Setup(**{**base, **kwargs})


def test_projector_is_trained_but_the_backbone_is_probed() -> None:
    import torch

    from aligninfo.experiment import attach_projectors, evaluate, representations
    from aligninfo.probes import RidgeProbe

    data, setup_ = splits(600), fused_setup()
    rep = representations("info_nce", data, setup_, seed=0)
    model = rep["model"]
    assert set(model.projectors) == {"x1", "x2", "fused"}
    assert rep["z1"]["test"].shape[1] == 4 and rep["p1"]["test"].shape[1] == 3
    torch.manual_seed(0)
    initial = attach_projectors(setup_.make_model(), data, 3, 8)
    for key in ("x1", "x2"):
        before = initial.projectors[key].state_dict()
        after = model.projectors[key].state_dict()
        assert any(not torch.equal(before[n], after[n]) for n in before), "projector trained"
    metrics = evaluate(rep, data, setup_)
    fit = np.concatenate([rep["z1"]["train"], rep["z1"]["val"]])
    y_fit = np.concatenate([data.train["y"], data.val["y"]])
    backbone = RidgeProbe().fit(fit, y_fit).score(rep["z1"]["test"], data.test["y"])
    assert metrics["y/z1"] == pytest.approx(backbone), "the default view is the backbone"
    assert "y/p1" in metrics and metrics["y/p1"] != pytest.approx(metrics["y/z1"])
    assert "top1/p" in metrics and "fused" not in rep, "fusion untrained: not probed"


def test_comm_is_probed_on_its_fused_representation() -> None:
    from aligninfo.experiment import evaluate, representations

    data, setup_ = splits(600), fused_setup()
    rep = representations("comm", data, setup_, seed=0)
    assert rep["fused"]["test"].shape == (len(data.test["y"]), 4)
    assert "y/fused" in evaluate(rep, data, setup_)


def test_learnt_temperature_is_reported() -> None:
    rows = compare(
        ["info_nce", "barlow_twins"], splits(600), fused_setup(), seeds=[0], progress=False
    )
    nce, barlow = rows
    assert np.isfinite(nce["temperature"]) and nce["temperature"] != pytest.approx(0.1)
    assert nce["temperatures"] == {"learnable_temperature": nce["temperature"]}
    assert np.isnan(barlow["temperature"]) and barlow["temperatures"] == {}


def test_setup_gives_the_temperature_its_own_learning_rate() -> None:
    def temperature(rate: float | None) -> float:
        chosen = fused_setup(
            train=TrainConfig(epochs=3, batch_size=100, lr=1e-2, temperature_lr=rate, device="cpu")
        )
        (row,) = compare(["info_nce"], splits(600), chosen, seeds=[0], progress=False)
        return row["temperature"]

    slow, fast = temperature(None), temperature(0.1)
    assert abs(np.log(fast / 0.1)) > 3 * abs(np.log(slow / 0.1)), (slow, fast)


def test_target_views_limit_the_probes_to_the_views_asked_for() -> None:
    chosen = dataclasses.replace(setup(), target_views={"y": ("z1", "joint")})
    (row,) = compare(["raw"], splits(600), chosen, seeds=[0], progress=False)
    assert "y/z1" in row and "y/joint" in row and "sigma/y/z1" in row
    assert "y/z2" not in row and "sigma/y/z2" not in row
    assert {"c/z1", "c/z2", "c/joint"} <= set(row)  # a target not listed: every view
    with pytest.raises(ValueError, match="target_views"):
        dataclasses.replace(setup(), target_views={"y": ("z3",)})
    with pytest.raises(ValueError, match="target_views"):
        dataclasses.replace(setup(), target_views={"w": ("z1",)})


def test_inner_cv_never_sees_the_test_data() -> None:
    """Corrupt the test split: every chosen hyperparameter stays, the scores change."""
    from aligninfo.experiment import evaluate, representations

    data = splits(500)
    rng = np.random.default_rng(0)
    test = dict(data.test)
    test.update(
        x1=rng.standard_normal(test["x1"].shape),
        y=rng.permutation(test["y"]),
        c=rng.permutation(test["c"]),
    )
    corrupted = Splits(data.train, data.val, test)
    setup_ = Setup(
        make_model=setup().make_model,
        targets={"y": "regression", "c": "classification"},
        sigmas=(0.0,),
        probes=("linear", "knn", "mlp"),
    )
    a = evaluate(representations("raw", data, setup_, 0), data, setup_)
    b = evaluate(representations("raw", corrupted, setup_, 0), corrupted, setup_)
    chosen = [k for k in a if k.endswith(("/alpha", "/C", "/knn_k"))]
    assert len(chosen) == 2 * 3 * 2  # 2 targets x 3 views x (linear + knn)
    for key in chosen:
        assert a[key] == b[key], key
    assert a["y/z1"] != b["y/z1"] and a["c/joint/knn"] != b["c/joint/knn"]  # it was corrupted


def assert_rows_identical(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for ra, rb in zip(a, b, strict=True):
        assert set(ra) == set(rb)
        for key in ra:
            if key == "seconds":
                continue
            va, vb = ra[key], rb[key]
            if isinstance(va, np.ndarray) or isinstance(va, float):
                np.testing.assert_array_equal(va, vb, err_msg=key)  # NaN == NaN, bit for bit
            elif key == "history" and va is not None:  # all but the wall-clock times
                assert {**va.as_dict(), "time": None} == {**vb.as_dict(), "time": None}
            else:
                assert va == vb, key


def test_parallel_runs_equal_the_serial_run_bit_for_bit() -> None:
    data, setup_ = splits(500), fused_setup(probes=("linear", "knn"))
    methods = ["raw", "info_nce", "comm"]
    serial = compare(methods, data, setup_, seeds=[0, 1], progress=False)
    parallel = compare(methods, data, setup_, seeds=[0, 1], progress=False, workers=2)
    assert [(r["method"], r["seed"]) for r in parallel] == [
        ("raw", 0),
        ("info_nce", 0),
        ("info_nce", 1),
        ("comm", 0),
        ("comm", 1),
    ]
    assert_rows_identical(serial, parallel)
    with pytest.raises(ValueError, match="workers"):
        compare(methods, data, setup_, seeds=[0], workers=0)
    with pytest.raises(ValueError, match="GPU|CUDA"):  # CUDA: not on this machine
        compare(methods, data, fused_setup(train=TrainConfig(device="cuda")), seeds=[0], workers=2)


def test_one_pool_for_jobs_of_several_draws_and_setups_equals_each_run_alone() -> None:
    draws = [splits(400, draw=0), splits(400, draw=1)]
    setups = [fused_setup(), fused_setup(k=3, projector=None, probes=("linear", "knn"))]
    plan = [(d, s, m) for d in (0, 1) for s in (0, 1) for m in ("raw", "info_nce", "comm")]
    jobs = [Job(m, 7, draws[d], setups[s]) for d, s, m in plan]
    parallel = run_jobs(jobs, workers=2)
    assert [r["method"] for r in parallel] == [m for _, _, m in plan]
    assert_rows_identical(run_jobs(jobs), parallel)
    alone = [
        row
        for d in (0, 1)
        for s in (0, 1)
        for row in compare(["raw", "info_nce", "comm"], draws[d], setups[s], [7], False)
    ]
    assert_rows_identical(alone, parallel)
    assert parallel[0]["y/z1"] != parallel[6]["y/z1"]  # the draws differ
    assert "y/z1/knn" in parallel[3] and "y/z1/knn" not in parallel[0]  # and the setups
    with pytest.raises(ValueError, match="unknown method"):
        run_jobs([*jobs, Job("nope", 0, draws[0], setups[0])], workers=2)


def test_setup_rejects_unknown_probes() -> None:
    with pytest.raises(ValueError, match="unknown probes"):
        Setup(make_model=setup().make_model, targets={"y": "regression"}, probes=("svm",))


def test_no_sigma_curves_without_noise_levels() -> None:
    (row,) = compare(["raw"], splits(300), dataclasses.replace(setup(), sigmas=()), [0], False)
    assert "y/z1" in row and not any(key.startswith("sigma/") for key in row)
    as_array = dataclasses.replace(setup(), sigmas=np.array([0.0, 1.0]))  # type: ignore[arg-type]
    (row,) = compare(["raw"], splits(300), as_array, [0], False)
    assert len(row["sigma/y/z1"]) == 2


ORPHANS = """
import os, sys, time
from pathlib import Path
from aligninfo.experiment import parallel_map

def job(item):
    (Path(sys.argv[1]) / f"{os.getpid()}.worker").write_text("")
    time.sleep(120)
    return item

parallel_map(job, range(2), workers=2)
"""


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_pool_workers_end_when_their_parent_is_killed(tmp_path: Path) -> None:
    parent = subprocess.Popen([sys.executable, "-c", ORPHANS, str(tmp_path)])
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2 and time.monotonic() < deadline and parent.poll() is None:
            time.sleep(0.2)
            workers = [int(p.stem) for p in tmp_path.glob("*.worker")]
        assert len(workers) == 2 and all(map(running, workers))  # both busy in a job
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10 * POLL_SECONDS + 5
        while any(map(running, workers)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(map(running, workers))
    finally:
        parent.kill()
        for pid in filter(running, workers):
            os.kill(pid, signal.SIGKILL)


def test_a_worker_ends_when_its_parent_is_not_the_one_it_was_given() -> None:
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, time; from aligninfo.lifetime import die_with_parent\n"
            "die_with_parent(os.getppid() + 10**7, poll=0.01); time.sleep(30)",
        ],
        timeout=25,
    )
    assert child.returncode == ORPHAN_STATUS
