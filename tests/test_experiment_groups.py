"""The protocol with grouped inner folds (sites) and the probes' test predictions kept."""

from __future__ import annotations

import numpy as np

from aligninfo.encoders import LinearEncoder, MultimodalEncoder
from aligninfo.experiment import Setup, Splits, evaluate, representations
from aligninfo.probes import r2
from aligninfo.train import TrainConfig


def site_split(n_sites: int, per_site: int, seed: int, first_site: int) -> dict[str, np.ndarray]:
    """Features that identify the site, a target mostly made of an unpredictable site offset."""
    rng = np.random.default_rng(seed)
    signature = rng.standard_normal((n_sites, 8))
    site = np.repeat(np.arange(n_sites), per_site)
    x1 = signature[site] + 0.1 * rng.standard_normal((len(site), 8))
    x2 = rng.standard_normal((len(site), 8))
    y = 0.3 * x2[:, 0] + 2.0 * rng.standard_normal(n_sites)[site]
    return {"x1": x1, "x2": x2, "y": y, "site": site + first_site}


def make_setup(**kwargs: object) -> Setup:
    def make_model() -> MultimodalEncoder:
        return MultimodalEncoder({"x1": LinearEncoder(8, 4), "x2": LinearEncoder(8, 4)})

    return Setup(
        make_model=make_model,
        targets={"y": "regression"},
        sigmas=(0.0,),
        train=TrainConfig(epochs=20, device="cpu"),
        probes=("linear", "knn"),
        **kwargs,
    )  # type: ignore[arg-type]


DATA = Splits(site_split(30, 20, 0, 0), site_split(10, 20, 1, 100), site_split(20, 20, 2, 200))


def test_grouped_inner_folds_change_the_chosen_penalty_not_the_protocol() -> None:
    rep = representations("raw", DATA, make_setup(), 0)
    by_sample = evaluate(rep, DATA, make_setup())
    by_site = evaluate(rep, DATA, make_setup(probe_groups="site"))
    assert set(by_sample) == set(by_site)
    # Sites identify themselves in x1: shuffled inner folds reward interpolating their
    # offsets (small penalty, few neighbours); folds by site do not.
    assert by_site["y/z1/alpha"] > by_sample["y/z1/alpha"]
    assert by_site["y/z1/knn_k"] > by_sample["y/z1/knn_k"]
    assert by_site["y/z1"] > by_sample["y/z1"]


def test_kept_predictions_reproduce_the_scores() -> None:
    setup = make_setup(probe_groups="site", keep_predictions=True)
    out = evaluate(representations("raw", DATA, setup, 0), DATA, setup)
    for view in ("z1", "z2", "joint"):
        for suffix in ("", "/knn"):
            pred = out[f"y/{view}{suffix}/pred"]
            assert pred.shape == DATA.test["y"].shape
            assert r2(DATA.test["y"], pred) == out[f"y/{view}{suffix}"]
    assert not any(
        k.endswith("/pred")
        for k in evaluate(representations("raw", DATA, make_setup(), 0), DATA, make_setup())
    )
