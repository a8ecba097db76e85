"""The supervised baselines: encoders trained to predict their targets.

:class:`Supervised` is the objective of the ``"supervised"`` method of
:mod:`aligninfo.experiment` (each modality's encoder with a linear head on its own target);
:func:`train_classifier` trains one encoder and its head end to end as a classifier, tuned on
validation data only (the chapters' supervised reference), read by its own head.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aligninfo.encoders import MultimodalEncoder
from aligninfo.losses import Objective
from aligninfo.runtime import eval_mode
from aligninfo.train import History, ValScore, encode, fit

Task = Literal["regression", "classification"]
Criterion = Literal["accuracy", "loss"]


class Supervised(Objective):
    """Each modality's encoder predicts its own target through a linear head (the baseline).

    Args:
        heads: ``{modality key: (target key, task, number of outputs)}``.
        dim: Embedding size of the encoders.
    """

    def __init__(self, heads: Mapping[str, tuple[str, Task, int]], dim: int) -> None:
        super().__init__()
        self.spec = dict(heads)
        self.heads = nn.ModuleDict({k: nn.Linear(dim, n) for k, (_, _, n) in self.spec.items()})

    def forward(self, model: MultimodalEncoder, batch: Mapping[str, Tensor]) -> Tensor:
        """Mean over modalities of the MSE (regression) or cross-entropy (classification)."""
        losses = []
        for key, (target, task, _) in self.spec.items():
            out = self.heads[key](model.encode(key, batch[key])).float()
            y = batch[target]
            if task == "classification":
                losses.append(F.cross_entropy(out, y.long()))
            else:
                losses.append(F.mse_loss(out, y.float().reshape(out.shape)))
        return torch.stack(losses).mean()


@dataclass
class EndToEnd:
    """A classifier trained end to end (encoder and linear head together), read directly.

    Attributes:
        model: The trained encoder, under the key ``"x"``.
        head: The linear head on its output.
        lr: The learning rate chosen on the validation data.
        val_accuracy: Validation accuracy of each learning rate tried (at its kept epoch), by
            learning rate.
        epochs: Epoch whose weights were kept (by the selection criterion), by learning rate.
        val_curves: Validation accuracy after each epoch, by learning rate (recorded with the
            criterion ``"accuracy"`` only; empty lists otherwise).
        criterion: What chose the epoch: ``"accuracy"`` (highest validation accuracy) or
            ``"loss"`` (lowest validation loss).
        refitted: Whether ``model`` and ``head`` were retrained on the training and
            validation data with the chosen learning rate and epochs.
        monitor_curves: Accuracy on the ``monitor`` data of :func:`train_classifier` after
            each epoch of the selection runs, by learning rate (empty without it): recorded,
            never used to choose.
    """

    model: MultimodalEncoder
    head: nn.Module
    lr: float
    val_accuracy: dict[float, float]
    epochs: dict[float, int]
    val_curves: dict[float, list[float]] = field(default_factory=dict)
    criterion: Criterion = "accuracy"
    refitted: bool = False
    monitor_curves: dict[float, list[float]] = field(default_factory=dict)

    def predict(self, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """Predicted classes ``(n,)`` of inputs ``(n, *shape)``: the head's argmax, no re-probe."""
        return _predict_classes(self.model, self.head, x, batch_size)


def _predict_classes(
    model: MultimodalEncoder, head: nn.Module, x: np.ndarray, batch_size: int = 4096
) -> np.ndarray:
    """The head's argmax on the encoded inputs, computed where the head lives."""
    z = torch.as_tensor(encode(model, np.asarray(x, dtype=np.float32), "x", batch_size))
    with eval_mode(head):
        return head(z.to(next(head.parameters()).device)).argmax(dim=1).cpu().numpy()


def _accuracy_curve(watched: Sequence[tuple[np.ndarray, np.ndarray, list[float]]]) -> ValScore:
    """A :func:`aligninfo.train.fit` score: the head's accuracy on the first watched set.

    ``watched``: ``(inputs, classes, curve)`` triples; the accuracy on each is appended to its
    curve after every epoch.
    """

    def validation_accuracy(model: MultimodalEncoder, objective: Objective) -> float:
        heads = objective.heads
        assert isinstance(heads, nn.ModuleDict), "a score for the Supervised objective"
        for x, y, curve in watched:
            curve.append(float(np.mean(_predict_classes(model, heads["x"], x) == y)))
        return watched[0][2][-1]

    return validation_accuracy


def _train(
    make_encoder: Callable[[], nn.Module],
    data: tuple[np.ndarray, np.ndarray],
    n_classes: int,
    settings: dict[str, Any],
    val: tuple[np.ndarray, np.ndarray] | None = None,
    val_score: ValScore | None = None,
) -> tuple[MultimodalEncoder, nn.Module, History]:
    """A fresh encoder (seeded by ``settings["seed"]``) and linear head trained together."""
    torch.manual_seed(settings["seed"])
    model = MultimodalEncoder({"x": make_encoder()})
    dim = encode(model, data[0][:2], "x").shape[1]
    objective = Supervised({"x": ("y", "classification", n_classes)}, dim)
    history = fit(
        model,
        objective,
        {"x": data[0], "y": data[1]},
        val=None if val is None else {"x": val[0], "y": val[1]},
        val_score=val_score,
        progress=False,
        **settings,
    )
    model.cpu()
    return model, objective.heads["x"], history


def _check_parts(train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray]) -> None:
    """Stop with a clear message when a part is empty or its inputs and classes differ."""
    for name, (x, y) in (("training", train), ("validation", val)):
        if len(x) != len(y):
            raise ValueError(f"the {name} part has {len(x)} inputs but {len(y)} classes")
    if len(train[0]) == 0:
        raise ValueError("the training part is empty")
    if len(val[0]) == 0:
        raise ValueError(
            "the validation part is empty: nothing can choose the learning rate and epochs. "
            "A part of whole groups is empty when no class has two groups "
            "(cvprobes.class_holdout holds none out then); draw it by samples instead "
            "(e.g. sklearn's train_test_split, stratified by class)"
        )


def train_classifier(
    make_encoder: Callable[[], nn.Module],
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    lrs: Sequence[float],
    epochs: int,
    batch_size: int = 256,
    seed: int = 0,
    device: str = "cpu",
    patience: int | None = None,
    criterion: Criterion = "accuracy",
    refit: bool = False,
    monitor: tuple[np.ndarray, np.ndarray] | None = None,
) -> EndToEnd:
    """A supervised reference trained end to end and tuned on validation data only.

    For each learning rate, a fresh encoder (seeded by ``seed``) and a linear head are trained
    together with cross-entropy (:class:`Supervised`, AdamW) for at most ``epochs`` passes,
    keeping the weights of the epoch with the highest validation accuracy (``criterion=
    "loss"``: the lowest validation loss), so the number of epochs is chosen on the validation
    data; the learning rate with the highest validation accuracy is kept (ties: the first in
    ``lrs``; ties between epochs: the first). Draw the validation part as the test data are
    drawn (by whole polygons or sites when the test holds unseen ones:
    :func:`aligninfo.cvprobes.class_holdout`). The accuracy suits such a part better than the
    loss: on unseen polygons the cross-entropy of a sharpening classifier can rise while its
    accuracy still improves, which stops a loss criterion early. With ``refit``, the chosen
    learning rate and number of epochs then train a fresh classifier on the training and
    validation data together (as a probe tuned by inner cross-validation is refitted on all its
    data): a validation part of whole groups can hold much of a class's data.

    Args:
        make_encoder: Builds a fresh encoder ``(n, *shape) -> (n, k)``.
        train: Inputs ``(n, *shape)`` and classes ``(n,)`` (integers from 0).
        val: The validation inputs and classes (never the test data).
        lrs: Candidate learning rates.
        epochs: Largest number of passes over ``train``.
        batch_size: Samples per step.
        seed: Seed of the initialisation and the batches.
        device: Where to train.
        patience: Stop a run after this many epochs without a better validation score (the
            criterion's; None: run every epoch).
        criterion: ``"accuracy"`` or ``"loss"``: what chooses the kept epoch.
        refit: Retrain on ``train`` and ``val`` together with the chosen settings.
        monitor: Inputs and classes whose accuracy is recorded after every epoch of the
            selection runs (``monitor_curves``), never used to choose anything: for instance
            the test data, to report what the validation part could not see. Needs the
            ``"accuracy"`` criterion.

    Returns:
        The chosen classifier (refitted with ``refit``), its learning rate and the validation
        scores (of the runs that chose them).

    Raises:
        ValueError: when the training or the validation part is empty, or inputs and classes
            differ in length.
    """
    if not lrs:
        raise ValueError("give at least one learning rate")
    if criterion not in ("accuracy", "loss"):
        raise ValueError(f"criterion must be 'accuracy' or 'loss', got {criterion!r}")
    if monitor is not None and criterion != "accuracy":
        raise ValueError("monitor records accuracies alongside the 'accuracy' criterion only")
    (x_tr, y_tr), (x_va, y_va) = train, val
    _check_parts(train, val)
    n_classes = int(max(np.max(y_tr), np.max(y_va))) + 1
    settings: dict[str, Any] = dict(
        epochs=epochs, batch_size=batch_size, seed=seed, device=device, patience=patience
    )
    best: EndToEnd | None = None
    scores: dict[float, float] = {}
    kept_epochs: dict[float, int] = {}
    curves: dict[float, list[float]] = {}
    monitored: dict[float, list[float]] = {}
    for lr in lrs:
        watched = [(x_va, np.asarray(y_va), curves.setdefault(float(lr), []))]
        if monitor is not None:
            watched.append(
                (monitor[0], np.asarray(monitor[1]), monitored.setdefault(float(lr), []))
            )
        score = _accuracy_curve(watched) if criterion == "accuracy" else None
        model, head, history = _train(
            make_encoder, train, n_classes, {**settings, "lr": lr}, val, score
        )
        scores[float(lr)] = float(np.mean(_predict_classes(model, head, x_va) == y_va))
        assert history.best_epoch is not None
        kept_epochs[float(lr)] = history.best_epoch
        if best is None or scores[float(lr)] > best.val_accuracy[best.lr]:
            best = EndToEnd(model, head, float(lr), scores, kept_epochs, curves, criterion)
            best.monitor_curves = monitored
    assert best is not None
    if refit:
        both = (np.concatenate([x_tr, x_va]), np.concatenate([y_tr, y_va]))
        chosen = {**settings, "lr": best.lr, "epochs": best.epochs[best.lr], "patience": None}
        best.model, best.head, _ = _train(make_encoder, both, n_classes, chosen)
        best.refitted = True
    return best
