"""Setup.metrics: extra metrics computed from a job's frozen features, in its worker too."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from aligninfo.encoders import LinearEncoder, MultimodalEncoder
from aligninfo.experiment import Setup, Splits, compare
from aligninfo.gaussian import GaussianModel
from aligninfo.train import TrainConfig

MODEL = GaussianModel.random(
    d_shared=2, d_unique=(2, 2), dims=(6, 6), noise=(0.2, 0.2), unique_share=(0.5, 0.5), seed=0
)


def splits(n: int = 300) -> Splits:
    parts = {}
    for i, name in enumerate(("train", "val", "test")):
        s = MODEL.sample(n, seed=i)
        parts[name] = {"x1": s["X1"], "x2": s["X2"], "y": s["Y1"][:, 0]}
    return Splits(**parts)


def feature_stats(rep: Mapping[str, Any], data: Splits) -> dict[str, Any]:
    """Width of z1 and the mean of its test features (depends on the trained weights)."""
    return {
        "width": rep["z1"]["test"].shape[1],
        "z1_mean": float(rep["z1"]["test"].mean()),
        "n_test": len(data.test["y"]),
    }


def make_setup(metrics: Any = None) -> Setup:
    def make_model() -> MultimodalEncoder:
        return MultimodalEncoder({"x1": LinearEncoder(6, 3), "x2": LinearEncoder(6, 3)})

    return Setup(
        make_model=make_model,
        targets={"y": "regression"},
        train=TrainConfig(epochs=2, batch_size=64, device="cpu"),
        sigmas=(0.0,),
        metrics=metrics,
    )


def test_extra_metrics_join_each_row_serial_and_parallel() -> None:
    data = splits()
    serial = compare(
        ["raw", "info_nce"], data, make_setup(feature_stats), seeds=[0, 1], progress=False
    )
    parallel = compare(
        ["raw", "info_nce"],
        data,
        make_setup(feature_stats),
        seeds=[0, 1],
        progress=False,
        workers=2,
    )
    assert [r["width"] for r in serial] == [6, 3, 3]
    assert all(r["n_test"] == 300 for r in serial)
    assert serial[1]["z1_mean"] != serial[2]["z1_mean"]  # computed per job, from its features
    for a, b in zip(serial, parallel, strict=True):
        assert (a["width"], a["z1_mean"]) == (b["width"], b["z1_mean"])
        assert a["y/z1"] == b["y/z1"]


def test_without_metrics_rows_are_unchanged() -> None:
    rows = compare(["raw"], splits(), make_setup(), seeds=[0], progress=False)
    assert "width" not in rows[0] and np.isfinite(rows[0]["y/z1"])
