"""parallel_map (any job, serial = parallel), train_classifier (tuned, end to end) and the
logistic probe's inner-CV grid of make_probe."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aligninfo.cvprobes import chosen_hyperparameters, make_probe
from aligninfo.encoders import MLP
from aligninfo.experiment import parallel_map
from aligninfo.supervised import EndToEnd, train_classifier


def _noisy_job(offset: float):
    """A seeded torch job whose closure (offset) must reach the workers."""

    def job(seed: int) -> np.ndarray:
        torch.manual_seed(seed)
        w = torch.randn(64, 64)
        return (torch.tanh(w @ w.T).sum(0) + offset).numpy()

    return job


def test_parallel_map_equals_the_serial_map_in_order() -> None:
    job = _noisy_job(0.5)
    serial = parallel_map(job, range(5), workers=1)
    parallel = parallel_map(job, range(5), workers=2)
    assert len(parallel) == 5
    for a, b in zip(serial, parallel, strict=True):
        assert np.array_equal(a, b)
    assert not np.array_equal(serial[0], serial[1])  # the items matter
    with pytest.raises(ValueError, match="workers"):
        parallel_map(job, [0], workers=0)


def _blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[3.0, 0, 0, 0], [0, 3.0, 0, 0], [0, 0, 3.0, 0]])
    return (centres[y] + rng.normal(size=(n, 4))).astype(np.float32), y


def test_train_classifier_is_tuned_on_validation_and_read_directly() -> None:
    train, val, test = _blobs(300, 0), _blobs(120, 1), _blobs(300, 2)
    # a learning rate too small to learn anything in two epochs loses to a sensible one
    clf = train_classifier(
        lambda: MLP(4, 8, (16,)), train, val, lrs=(1e-7, 1e-2), epochs=30, batch_size=32, seed=0
    )
    assert isinstance(clf, EndToEnd)
    assert clf.lr == 1e-2
    assert clf.val_accuracy[1e-2] > clf.val_accuracy[1e-7]
    assert set(clf.epochs) == {1e-7, 1e-2} and all(1 <= e <= 30 for e in clf.epochs.values())
    pred = clf.predict(test[0])
    assert pred.shape == (300,) and np.mean(pred == test[1]) > 0.9
    # the head is what predicts: zeroing it makes every prediction class 0
    with torch.no_grad():
        for p in clf.head.parameters():
            p.zero_()
    assert np.all(clf.predict(test[0]) == 0)
    again = train_classifier(
        lambda: MLP(4, 8, (16,)), train, val, lrs=(1e-2,), epochs=30, batch_size=32, seed=0
    )
    assert np.array_equal(again.predict(test[0]), pred)  # seeded
    stopped = train_classifier(
        lambda: MLP(4, 8, (16,)),
        train,
        val,
        lrs=(1e-2,),
        epochs=200,
        batch_size=32,
        seed=0,
        patience=2,
    )
    assert stopped.epochs[1e-2] < 200  # early stopping on the validation accuracy
    with pytest.raises(ValueError, match="learning rate"):
        train_classifier(lambda: MLP(4, 8, (16,)), train, val, lrs=(), epochs=1)


def test_make_probe_takes_the_logistic_grid_and_inner_folds() -> None:
    z, y = _blobs(200, 3)
    grid = [0.05, 7.0]
    probe = make_probe("linear", "classification", logistic_cs=grid, inner_folds=3).fit(z, y)
    assert chosen_hyperparameters(probe)["C"] in grid
    assert probe.model_[-1].Cs_.tolist() == grid and probe.cv == 3
    assert make_probe("knn", "classification", inner_folds=4).cv == 4
    assert make_probe("linear", "classification").cv == 5  # the defaults are unchanged
