"""Linear encoder pairs ``Z_m = W_m X_m``: the trained representations of the theory chapters.

::

    encoders = linear_pair((8, 8), k=3)
    fit(encoders, make_objective("info_nce"), as_batch(model.sample(20_000, seed=1)), ...)
    w1 = weight(encoders, "x1")            # (3, 8), for the closed forms of aligninfo.gaussian
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from aligninfo.encoders import LinearEncoder, MultimodalEncoder


def linear_pair(dims: tuple[int, int], k: int, decoders: bool = False) -> MultimodalEncoder:
    """Bias-free linear encoders ``"x1"``, ``"x2"`` to ``k`` dimensions.

    Args:
        dims: Input dimensions of the two modalities.
        k: Embedding size.
        decoders: Also linear decoders back to each modality (reconstruction objectives);
            they are built first, so the encoders' initialisation depends on this flag.

    Returns:
        The pair, initialised from torch's global generator (seed it first).
    """
    keys = ("x1", "x2")
    back = (
        {key: LinearEncoder(k, d, bias=False) for key, d in zip(keys, dims, strict=True)}
        if decoders
        else None
    )
    forth = {key: LinearEncoder(d, k, bias=False) for key, d in zip(keys, dims, strict=True)}
    return MultimodalEncoder(forth, decoders=back)


def weight(model: MultimodalEncoder, key: str = "x1") -> np.ndarray:
    """The matrix ``W`` of a linear encoder, ``(k, dim)`` float64 on the CPU (a copy)."""
    encoder = model.encoders[key]
    if not isinstance(encoder, LinearEncoder):
        raise ValueError(f"encoder {key!r} is a {type(encoder).__name__}, not a LinearEncoder")
    return encoder.linear.weight.detach().cpu().double().numpy().copy()


def as_batch(sample: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The two modalities of a :meth:`GaussianModel.sample` under the training loop's keys."""
    return {"x1": sample["X1"], "x2": sample["X2"]}
