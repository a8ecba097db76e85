"""Linear encoder pairs ``Z_m = W_m X_m``: the trained representations of the theory chapters.

::

    config = TrainConfig(epochs=20, lr=THEORY_LR, seed=1, progress=False)
    run = train_linear(make_objective("info_nce"), as_batch(model.sample(20_000, seed=1)),
                       config, dims=(8, 8), k=3)
    w1 = weight(run.encoders, "x1")        # (3, 8), for the closed forms of aligninfo.gaussian

Every theory chapter trains its linear encoders through :func:`train_linear`, with
:data:`THEORY_LR` unless its text says why not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import torch

from aligninfo.encoders import LinearEncoder, MultimodalEncoder
from aligninfo.losses import Objective
from aligninfo.train import Data, History, TrainConfig, fit

#: AdamW learning rate of the theory chapters' linear encoders (batches of 256 pairs).
THEORY_LR = 3e-2


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


@dataclass
class LinearRun:
    """What :func:`train_linear` returns.

    Attributes:
        encoders: The trained pair (on ``config.device``).
        history: The per-epoch history of the (last) call to :func:`aligninfo.train.fit`.
        snapshots: ``(epochs + 1, k, dims[0])`` weights of ``"x1"``, at initialisation and
            after each epoch, when asked for; else None.
    """

    encoders: MultimodalEncoder
    history: History
    snapshots: np.ndarray | None = None


def train_linear(
    objective: Objective,
    train: Data,
    config: TrainConfig,
    dims: tuple[int, int],
    k: int,
    val: Data | None = None,
    decoders: bool = False,
    snapshots: bool = False,
) -> LinearRun:
    """Initialise a :func:`linear_pair` from ``config.seed`` and train it with :func:`fit`.

    The initialisation seeds torch's global generator with ``config.seed``, so one config gives
    one run. With ``snapshots`` the ``"x1"`` weights are copied at each epoch's end, by a
    ``val_score`` of :func:`fit` that records them and scores each epoch above the one before (the
    run is one uninterrupted call; it ends with its last weights, its best epoch the last).

    Args:
        objective: A :mod:`aligninfo.losses` objective.
        train: ``(n, dims[m])`` arrays or tensors under ``"x1"``, ``"x2"`` (see :func:`as_batch`).
        config: Training settings (epochs, batch size, learning rate, seed, device...).
        dims: Input dimensions of the two modalities.
        k: Embedding size.
        val: Validation data of the same layout (best-epoch weights, see :class:`TrainConfig`).
        decoders: Build linear decoders too (reconstruction objectives).
        snapshots: Also record the ``"x1"`` weights at initialisation and after every epoch.

    Returns:
        The trained encoders, the history and the snapshots.

    Raises:
        ValueError: For ``snapshots`` with validation data (the run would end on its best
            epoch, not its last) or with a checkpoint or step budget in ``config`` (a resumed
            or truncated run would miss snapshots), and for anything :func:`fit` refuses.
    """
    if snapshots and (val is not None or config.checkpoint or config.max_steps is not None):
        raise ValueError(
            "snapshots need a whole run in one call: no checkpoint, max_steps or validation data"
        )
    torch.manual_seed(config.seed)
    encoders = linear_pair(dims, k, decoders=decoders)
    if not snapshots:
        return LinearRun(encoders, fit(encoders, objective, train, val=val, config=config))
    weights = [weight(encoders)]

    def record(model: MultimodalEncoder, _objective: Objective) -> float:
        weights.append(weight(model))
        return float(len(weights))  # the last epoch scores best (nothing is restored anyway)

    history = fit(
        encoders, objective, train, config=replace(config, restore_best=False), val_score=record
    )
    return LinearRun(encoders, history, np.array(weights))


def weight(model: MultimodalEncoder, key: str = "x1") -> np.ndarray:
    """The matrix ``W`` of a linear encoder, ``(k, dim)`` float64 on the CPU (a copy)."""
    encoder = model.encoders[key]
    if not isinstance(encoder, LinearEncoder):
        raise ValueError(f"encoder {key!r} is a {type(encoder).__name__}, not a LinearEncoder")
    return encoder.linear.weight.detach().cpu().double().numpy().copy()


def as_batch(sample: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The two modalities of a :meth:`GaussianModel.sample` under the training loop's keys."""
    return {"x1": sample["X1"], "x2": sample["X2"]}
