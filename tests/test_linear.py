"""Linear encoder pairs: shapes, weights equal to the map applied, decoders, seeding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aligninfo.encoders import MLP, MultimodalEncoder
from aligninfo.gaussian import GaussianModel
from aligninfo.linear import as_batch, linear_pair, weight
from aligninfo.train import encode


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
