"""The experiment protocol on the linear-Gaussian model, where the right answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from aligninfo.encoders import LinearEncoder, MultimodalEncoder
from aligninfo.experiment import Setup, Splits, compare, markdown_table, summarize
from aligninfo.gaussian import GaussianModel

MODEL = GaussianModel.random(d_shared=2, d_unique=(2, 2), dims=(6, 6), noise=(0.2, 0.2),
                             unique_share=(0.5, 0.5), seed=0)


def splits(n: int = 3000) -> Splits:
    parts = {}
    for i, name in enumerate(("train", "val", "test")):
        s = MODEL.sample(n if name != "val" else n // 3, seed=i)
        parts[name] = {"x1": s["X1"], "x2": s["X2"], "y": s["Y1"][:, 0],
                       "c": (s["Y1"][:, 0] > 0).astype(np.int64)}
    return Splits(**parts)


def setup(k: int = 4) -> Setup:
    def make_model() -> MultimodalEncoder:
        return MultimodalEncoder({"x1": LinearEncoder(6, k), "x2": LinearEncoder(6, k)})

    return Setup(
        make_model=make_model,
        targets={"y": "regression", "c": "classification"},
        supervised={"x1": "y", "x2": "y"}, epochs=8, batch_size=128, lr=1e-2, device="cpu",
        sigmas=(0.0, 1.0))


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return compare(["raw", "random", "supervised", "info_nce"], splits(), setup(),
                   seeds=[0, 1], progress=False)


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
        [r["top1"] for r in by["random"]]), "alignment makes the pairs retrievable"
    assert min(r["c/z1"] for r in by["supervised"]) > 0.8
    for r in rows:
        per_class = r["c/z1/per_class"]
        assert per_class.shape == (2,) and r["c/z1/balanced"] == pytest.approx(per_class.mean())
    assert by["info_nce"][0]["history"].epoch[-1] == 8


def test_seeds_are_deterministic() -> None:
    a, b = (compare(["info_nce"], splits(600), setup(), seeds=[3], progress=False)[0]
            for _ in range(2))
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
