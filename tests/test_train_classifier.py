"""The supervised reference keeps the epoch of highest validation accuracy (fit's val_score),
not that of lowest validation loss."""

from __future__ import annotations

import numpy as np
import pytest

from aligninfo.encoders import MLP
from aligninfo.supervised import train_classifier


def noisy_blobs(n: int, seed: int, flip: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """Three overlapping classes, a quarter of the labels redrawn at random.

    A wide classifier grows confident on the noisy labels, so its validation loss turns up
    before its validation accuracy stops changing: the two criteria keep different epochs.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = 1.5 * np.eye(3, 4)
    x = (centres[y] + rng.normal(size=(n, 4))).astype(np.float32)
    return x, np.where(rng.random(n) < flip, rng.integers(0, 3, n), y)


TRAIN, VAL = noisy_blobs(200, 0), noisy_blobs(150, 1)


def _fit(criterion: str, **kwargs):
    options = {"lrs": (1e-2,), "epochs": 40, "batch_size": 20, "seed": 0, **kwargs}
    return train_classifier(lambda: MLP(4, 16, (64,)), TRAIN, VAL, criterion=criterion, **options)


def test_the_kept_epoch_is_the_one_of_highest_validation_accuracy() -> None:
    clf = _fit("accuracy")
    curve = clf.val_curves[1e-2]
    assert len(curve) == 40 and clf.criterion == "accuracy"
    assert clf.epochs[1e-2] == int(np.argmax(curve)) + 1  # the first epoch of the best score
    accuracy = float(np.mean(clf.predict(VAL[0]) == VAL[1]))
    assert clf.val_accuracy[1e-2] == accuracy == max(curve)  # the kept weights are that epoch's
    by_loss = _fit("loss")
    assert by_loss.val_curves[1e-2] == [] and by_loss.criterion == "loss"
    assert by_loss.epochs[1e-2] != clf.epochs[1e-2]  # the loss keeps another epoch here
    assert by_loss.val_accuracy[1e-2] < clf.val_accuracy[1e-2]


def test_patience_counts_epochs_without_a_higher_validation_accuracy() -> None:
    clf = _fit("accuracy", patience=3)
    curve = clf.val_curves[1e-2]
    best = int(np.argmax(curve))
    assert len(curve) == best + 4  # stopped three epochs after the last improvement
    assert all(c <= curve[best] for c in curve[best + 1 :])
    with pytest.raises(ValueError, match="criterion"):
        _fit("log-loss")


def test_refit_trains_on_training_and_validation_data_with_the_chosen_settings() -> None:
    """A class seen only in the validation part is learnt once the classifier is refitted."""
    x, y = noisy_blobs(400, 2, flip=0.0)
    only_val = y == 2
    train, val = (x[~only_val][:150], y[~only_val][:150]), (x[only_val], y[only_val])
    val = (
        np.concatenate([val[0], x[~only_val][150:]]),
        np.concatenate([val[1], y[~only_val][150:]]),
    )
    test_x, test_y = noisy_blobs(300, 3, flip=0.0)
    kwargs = {"lrs": (1e-2,), "epochs": 20, "batch_size": 20, "seed": 0}
    plain = train_classifier(lambda: MLP(4, 16, (64,)), train, val, **kwargs)
    refitted = train_classifier(lambda: MLP(4, 16, (64,)), train, val, refit=True, **kwargs)
    assert not plain.refitted and refitted.refitted
    assert refitted.epochs == plain.epochs and refitted.val_accuracy == plain.val_accuracy
    assert not np.any(plain.predict(test_x) == 2)  # never trained on class 2
    assert np.mean(refitted.predict(test_x)[test_y == 2] == 2) > 0.8


def test_an_empty_validation_part_is_refused_with_a_clear_message() -> None:
    """Every class in one group: class_holdout holds nothing out, and the part it leaves for
    validation is empty (this crashed inside numpy with a "zero-size array" error)."""
    from aligninfo.cvprobes import class_holdout

    x, y = TRAIN
    held = class_holdout(y, y, 0.2)  # each class is its own single group
    assert not held.any()
    with pytest.raises(ValueError, match="validation part is empty.*by samples"):
        train_classifier(
            lambda: MLP(4, 16, (64,)), (x[~held], y[~held]), (x[held], y[held]), (1e-2,), 2
        )
    with pytest.raises(ValueError, match="training part is empty"):
        train_classifier(lambda: MLP(4, 16, (64,)), (x[:0], y[:0]), VAL, (1e-2,), 2)
    with pytest.raises(ValueError, match="3 inputs but 2 classes"):
        train_classifier(lambda: MLP(4, 16, (64,)), TRAIN, (x[:3], y[:2]), (1e-2,), 2)


def test_a_monitor_is_recorded_every_epoch_and_never_chooses() -> None:
    """Monitored test accuracies are recorded beside the validation curve; the kept epoch,
    learning rate and weights are those of the run without a monitor."""
    test = noisy_blobs(300, 4)
    plain = _fit("accuracy", lrs=(1e-2, 1e-3), epochs=8)
    watched = _fit("accuracy", lrs=(1e-2, 1e-3), epochs=8, monitor=test)
    assert plain.monitor_curves == {}
    assert watched.lr == plain.lr and watched.epochs == plain.epochs
    assert watched.val_curves == plain.val_curves
    for lr, curve in watched.monitor_curves.items():
        assert len(curve) == len(watched.val_curves[lr]) == 8
    kept = watched.monitor_curves[watched.lr][watched.epochs[watched.lr] - 1]
    assert kept == float(np.mean(watched.predict(test[0]) == test[1]))
    with pytest.raises(ValueError, match="monitor"):
        _fit("loss", monitor=test)
