"""fit's ``val_score``: a score (higher is better) in place of the validation loss decides the
kept epoch and early stopping."""

from __future__ import annotations

import pytest
import torch

from aligninfo import losses as L
from aligninfo.encoders import MLP, MultimodalEncoder
from aligninfo.train import CheckpointError, TrainConfig, fit


def _data(n: int, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(n, 2, generator=g)
    return {"x1": s @ torch.randn(2, 5, generator=g), "x2": s @ torch.randn(2, 4, generator=g)}


TRAIN, VAL = _data(128, 0), _data(64, 1)
BASE = TrainConfig(epochs=5, batch_size=32, lr=5e-3, progress=False, device="cpu")


def _model() -> MultimodalEncoder:
    torch.manual_seed(0)
    return MultimodalEncoder({"x1": MLP(5, 3, (8,)), "x2": MLP(4, 3, (8,))})


class Scripted:
    """Returns the given scores in turn and records the weights it was shown, and the mode."""

    def __init__(self, scores: list[float]) -> None:
        self.scores = list(scores)
        self.seen: list[dict[str, torch.Tensor]] = []
        self.modes: list[tuple[bool, bool]] = []

    def __call__(self, model: MultimodalEncoder, objective: L.Objective) -> float:
        self.seen.append({k: v.clone() for k, v in model.state_dict().items()})
        self.modes.append((model.training, torch.is_grad_enabled()))
        return self.scores[len(self.seen) - 1]


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_the_epoch_of_highest_score_is_kept_not_the_lowest_loss() -> None:
    score = Scripted([0.1, 0.9, 0.2, 0.3, 0.4])
    model = _model()
    history = fit(model, L.InfoNCE(), TRAIN, VAL, BASE, val_score=score)
    assert history.epoch == [1, 2, 3, 4, 5] and history.best_epoch == 2
    assert _same(model.state_dict(), score.seen[1])  # the weights of epoch 2
    assert all(mode == (False, False) for mode in score.modes)  # eval mode, no gradients
    # the loss alone keeps another epoch (the validation loss falls on this problem)
    by_loss = fit(_model(), L.InfoNCE(), TRAIN, VAL, BASE)
    assert by_loss.best_epoch != 2 and history.val_loss == by_loss.val_loss


def test_patience_counts_epochs_without_a_higher_score() -> None:
    score = Scripted([0.5, 0.6, 0.6, 0.59, 0.7])
    history = fit(_model(), L.InfoNCE(), TRAIN, VAL, BASE, val_score=score, patience=2)
    assert history.stopped_early and history.epoch == [1, 2, 3, 4] and history.best_epoch == 2


def test_a_score_works_without_validation_data_and_must_be_finite() -> None:
    history = fit(_model(), L.InfoNCE(), TRAIN, None, BASE, val_score=Scripted([0, 2, 1, 0, 0]))
    assert history.best_epoch == 2
    with pytest.raises(ValueError, match="val_score"):
        fit(_model(), L.InfoNCE(), TRAIN, VAL, BASE, val_score=lambda m, o: float("nan"))


def accuracy_a(model: MultimodalEncoder, objective: L.Objective) -> float:
    return 0.5


def accuracy_b(model: MultimodalEncoder, objective: L.Objective) -> float:
    return 0.5


def test_a_checkpoint_records_which_score_chose_its_epoch(tmp_path) -> None:
    path = tmp_path / "run.ckpt"
    fit(_model(), L.InfoNCE(), TRAIN, VAL, BASE, val_score=accuracy_a, checkpoint=path, epochs=2)
    fit(_model(), L.InfoNCE(), TRAIN, VAL, BASE, val_score=accuracy_a, checkpoint=path, epochs=3)
    with pytest.raises(CheckpointError, match="val_score"):
        fit(_model(), L.InfoNCE(), TRAIN, VAL, BASE, val_score=accuracy_b, checkpoint=path)
