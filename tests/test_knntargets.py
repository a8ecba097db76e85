"""Multi-target kNN probe: the single-target probe's choices, one neighbour search, test unseen."""

from __future__ import annotations

import numpy as np
import pytest

from aligninfo.cvprobes import KNNCVProbe
from aligninfo.knntargets import knn_scores
from aligninfo.probes import r2


def data(n: int, seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 4))
    return z, {
        "smooth": np.sin(2 * z[:, 0]) + 0.1 * rng.standard_normal(n),
        "noisy": z[:, 1] + rng.standard_normal(n),
        "block": np.stack([z[:, 2] ** 2, z[:, 3]], axis=1),
    }


def test_each_single_target_matches_the_single_target_probe() -> None:
    (z, y), (zt, yt) = data(600, 0), data(300, 1)
    scores = knn_scores(z, y, zt, yt, seed=3)
    for name in ("smooth", "noisy"):
        probe = KNNCVProbe("regression", seed=3).fit(z, y[name])
        assert scores[name] == (pytest.approx(probe.score(zt, yt[name]), abs=1e-12), probe.k_)
    assert scores["smooth"][1] < scores["noisy"][1]  # k is chosen per target


def test_a_block_of_targets_is_scored_as_a_whole() -> None:
    (z, y), (zt, yt) = data(600, 0), data(300, 1)
    score, k = knn_scores(z, {"block": y["block"]}, zt, {"block": yt["block"]})["block"]
    # the same k on each column, pooled: 1 - sum SSE / sum SST
    preds = []
    for col in range(2):
        probe = KNNCVProbe("regression", ks=(k,)).fit(z, y["block"][:, col])
        preds.append(probe.predict(zt))
    assert score == pytest.approx(r2(yt["block"], np.stack(preds, axis=1)), abs=1e-12)


def test_the_choice_of_k_never_sees_the_test_data() -> None:
    (z, y), (zt, yt) = data(600, 0), data(300, 1)
    rng = np.random.default_rng(9)
    shuffled = {name: rng.permutation(v) for name, v in yt.items()}
    a = knn_scores(z, y, zt, yt)
    b = knn_scores(z, y, rng.standard_normal(zt.shape), shuffled)
    assert {n: k for n, (_, k) in a.items()} == {n: k for n, (_, k) in b.items()}
    assert a["smooth"][0] > 0.5 > b["smooth"][0]


def test_bad_inputs_are_refused() -> None:
    (z, y), (zt, yt) = data(100, 0), data(50, 1)
    with pytest.raises(ValueError, match="same targets"):
        knn_scores(z, y, zt, {"smooth": yt["smooth"]})
    with pytest.raises(ValueError, match="samples"):
        knn_scores(z, {"smooth": y["smooth"][:10]}, zt, {"smooth": yt["smooth"]})
    with pytest.raises(ValueError, match="features"):
        knn_scores(z, y, zt[:, :2], yt)
