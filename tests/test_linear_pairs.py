"""Linear encoder pairs: shapes, weights equal to the map applied, decoders, seeding, training."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from aligninfo import linear_pairs
from aligninfo.encoders import MLP, MultimodalEncoder
from aligninfo.gaussian import GaussianModel
from aligninfo.linear_pairs import THEORY_LR, as_batch, linear_pair, train_linear, weight
from aligninfo.losses import make_objective
from aligninfo.train import TrainConfig, encode, fit


def test_weight_is_the_map_the_encoder_applies() -> None:
    torch.manual_seed(0)
    pair = linear_pair((5, 7), k=3)
    x = np.random.default_rng(0).standard_normal((10, 7))
    np.testing.assert_allclose(encode(pair, x, "x2"), x @ weight(pair, "x2").T, atol=1e-5)
    assert weight(pair, "x1").shape == (3, 5)
    assert not pair.decoders


def test_decoders_map_back_and_seeding_is_reproducible() -> None:
    torch.manual_seed(1)
    a = linear_pair((4, 6), k=2, decoders=True)
    torch.manual_seed(1)
    b = linear_pair((4, 6), k=2, decoders=True)
    np.testing.assert_array_equal(weight(a), weight(b))
    assert a.decode("x2", torch.zeros(3, 2)).shape == (3, 6)


def test_as_batch_and_errors() -> None:
    sample = GaussianModel.random(seed=0).sample(4, seed=0)
    batch = as_batch(sample)
    assert set(batch) == {"x1", "x2"} and batch["x1"] is sample["X1"]
    mlp = MultimodalEncoder({"x1": MLP(3, 2), "x2": MLP(3, 2)})
    with pytest.raises(ValueError, match="not a LinearEncoder"):
        weight(mlp, "x1")


def _setup(n: int = 512) -> tuple[dict[str, np.ndarray], TrainConfig]:
    model = GaussianModel.random(d_shared=2, d_unique=(2, 2), dims=(5, 4), seed=0)
    config = TrainConfig(
        epochs=3, batch_size=128, lr=THEORY_LR, seed=7, device="cpu", progress=False
    )
    return as_batch(model.sample(n, seed=1)), config


def test_train_linear_seeds_the_initialisation_and_trains() -> None:
    data, config = _setup()
    objective = make_objective("info_nce", temperature=0.5)
    run = train_linear(objective, data, config, dims=(5, 4), k=2)
    torch.manual_seed(config.seed)
    untrained = linear_pair((5, 4), k=2)
    assert run.snapshots is None and len(run.history.epoch) == config.epochs
    assert run.history.train_loss[-1] < run.history.train_loss[0]
    assert not np.allclose(weight(run.encoders), weight(untrained))
    again = train_linear(objective, data, config, dims=(5, 4), k=2)
    np.testing.assert_array_equal(weight(again.encoders), weight(run.encoders))
    other = train_linear(objective, data, replace(config, seed=8), dims=(5, 4), k=2)
    assert not np.allclose(weight(other.encoders), weight(run.encoders))


def test_train_linear_snapshots_are_the_uninterrupted_run() -> None:
    data, config = _setup()
    objective = make_objective("info_nce", temperature=0.5)
    whole = train_linear(objective, data, config, dims=(5, 4), k=2)
    cut = train_linear(objective, data, config, dims=(5, 4), k=2, snapshots=True)
    assert cut.snapshots is not None and cut.snapshots.shape == (config.epochs + 1, 2, 5)
    torch.manual_seed(config.seed)
    np.testing.assert_array_equal(cut.snapshots[0], weight(linear_pair((5, 4), k=2)))
    np.testing.assert_array_equal(cut.snapshots[-1], weight(whole.encoders))
    assert not np.allclose(cut.snapshots[1], cut.snapshots[0])
    # Each snapshot is the weight after that many epochs, not before them.
    for epochs in (1, 2):
        short = train_linear(objective, data, replace(config, epochs=epochs), dims=(5, 4), k=2)
        np.testing.assert_array_equal(cut.snapshots[epochs], weight(short.encoders))


def test_train_linear_snapshots_train_in_one_call(monkeypatch: pytest.MonkeyPatch) -> None:
    data, config = _setup()
    calls = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return fit(*args, **kwargs)

    monkeypatch.setattr(linear_pairs, "fit", counted)
    run = train_linear(make_objective("cca"), data, config, dims=(5, 4), k=2, snapshots=True)
    assert len(calls) == 1 and run.history.best_epoch == config.epochs


def test_train_linear_decoders_and_refusals(tmp_path: Path) -> None:
    data, config = _setup()
    recon = make_objective("cross_recon", recon_weight=1.0)
    run = train_linear(recon, data, config, dims=(5, 4), k=2, decoders=True)
    assert run.encoders.decoders
    objective = make_objective("info_nce")
    for bad in (replace(config, checkpoint=tmp_path / "c.pt"), replace(config, max_steps=2)):
        with pytest.raises(ValueError, match="snapshots"):
            train_linear(objective, data, bad, dims=(5, 4), k=2, snapshots=True)
    with pytest.raises(ValueError, match="validation"):
        train_linear(objective, data, config, dims=(5, 4), k=2, val=data, snapshots=True)
