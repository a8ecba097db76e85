"""The training loop: determinism, resume after an interruption, early stopping, checks."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from aligninfo import losses as L
from aligninfo.encoders import MLP, MultimodalEncoder
from aligninfo.runtime import autocast, resolve_device, rng_state, seed_everything, set_rng_state
from aligninfo.train import TrainConfig, encode, fit, load_checkpoint


def make_data(n, seed):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(n, 2, generator=g)
    x1 = torch.cat([s, torch.randn(n, 2, generator=g)], 1) @ torch.randn(4, 6, generator=g)
    x2 = torch.cat([s, torch.randn(n, 1, generator=g)], 1) @ torch.randn(3, 5, generator=g)
    return {"x1": x1, "x2": x2}


TRAIN, VAL = make_data(256, 0), make_data(96, 1)
BASE = TrainConfig(epochs=3, batch_size=32, lr=5e-3, progress=False, device="cpu")


def make_model(seed=0):
    torch.manual_seed(seed)
    return MultimodalEncoder({"x1": MLP(6, 4, (16,)), "x2": MLP(5, 4, (16,))})


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_fit_decreases_the_loss_and_records_history():
    model = make_model()
    history = fit(model, L.InfoNCE(), TRAIN, VAL, BASE, epochs=4)
    assert history.epoch == [1, 2, 3, 4]
    assert history.steps == [8, 16, 24, 32]
    assert history.train_loss[-1] < 0.8 * history.train_loss[0]
    assert history.val_loss[-1] < history.val_loss[0]
    assert all(b > a for a, b in zip(history.time, history.time[1:], strict=False))
    assert history.best_epoch is not None and not history.stopped_early
    assert set(history.as_dict()) >= {"epoch", "train_loss", "val_loss", "time"}


def test_seeded_runs_are_identical_and_seeds_matter():
    runs = []
    for seed in (0, 0, 1):
        model, objective = make_model(), L.cross_self(learnable=True)
        history = fit(model, objective, TRAIN, config=BASE, epochs=2, seed=seed)
        runs.append((weights(model), history.train_loss))
    assert_same_weights(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]
    assert runs[0][1] != runs[2][1]


def test_resume_after_a_crash_equals_the_uninterrupted_run(tmp_path):
    # An augmented objective with a learnable temperature, validation and best-weight restore:
    # every piece of state (RNG, optimiser, objective, partial epoch) must survive.
    config = dataclasses.replace(BASE, checkpoint_every=5)
    reference_model, reference_objective = make_model(), L.cross_self(learnable=True)
    reference = fit(reference_model, reference_objective, TRAIN, VAL, config)

    path = tmp_path / "run.ckpt"
    model, objective = make_model(), L.cross_self(learnable=True)
    calls = {"n": 0}
    forward = objective.forward

    def crash_at_step_13(*args):
        calls["n"] += 1
        if calls["n"] == 16:  # 3 validation calls after epoch 1; checkpoint at step 10
            raise RuntimeError("simulated interruption")
        return forward(*args)

    objective.forward = crash_at_step_13
    with pytest.raises(RuntimeError, match="simulated"):
        fit(model, objective, TRAIN, VAL, config, checkpoint=path)
    assert load_checkpoint(path)["step"] == 10
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind

    model, objective = make_model(seed=99), L.cross_self(learnable=True)  # fresh process
    resumed = fit(model, objective, TRAIN, VAL, config, checkpoint=path)
    assert_same_weights(weights(model), weights(reference_model))
    assert_same_weights(objective.state_dict(), reference_objective.state_dict())
    assert resumed.train_loss == reference.train_loss
    assert resumed.val_loss == reference.val_loss
    assert resumed.best_epoch == reference.best_epoch


def test_step_budget_then_continue_equals_one_run(tmp_path):
    reference_model = make_model()
    reference = fit(reference_model, L.InfoNCE(), TRAIN, config=BASE)
    path = tmp_path / "budget.ckpt"
    model = make_model()
    partial = fit(model, L.InfoNCE(), TRAIN, config=BASE, checkpoint=path, max_steps=11)
    assert partial.epoch == [1] and load_checkpoint(path)["step"] == 11
    model = make_model(seed=5)
    full = fit(model, L.InfoNCE(), TRAIN, config=BASE, checkpoint=path)
    assert_same_weights(weights(model), weights(reference_model))
    assert full.train_loss == reference.train_loss


def test_a_finished_checkpoint_is_not_trained_again(tmp_path):
    path = tmp_path / "done.ckpt"
    model = make_model()
    first = fit(model, L.InfoNCE(), TRAIN, config=BASE, checkpoint=path)
    again_model = make_model(seed=3)
    again = fit(again_model, L.InfoNCE(), TRAIN, config=BASE, checkpoint=path)
    assert again.train_loss == first.train_loss
    assert_same_weights(weights(again_model), weights(model))
    with pytest.raises(ValueError, match="belongs to a run"):
        fit(make_model(), L.InfoNCE(), TRAIN, config=BASE, checkpoint=path, batch_size=16)


def test_early_stopping_restores_the_best_weights():
    after_one = make_model()
    fit(after_one, L.InfoNCE(), TRAIN, VAL, BASE, epochs=1)
    model = make_model()
    # min_delta so large that no epoch after the first counts as an improvement
    history = fit(model, L.InfoNCE(), TRAIN, VAL, BASE, epochs=10, patience=2, min_delta=1e9)
    assert history.stopped_early and history.epoch == [1, 2, 3]
    assert history.best_epoch == 1
    assert_same_weights(weights(model), weights(after_one))


def test_divergence_is_reported():
    class Nan(L.Objective):
        def forward(self, model, batch):
            return model.encode("x1", batch["x1"]).sum() * math.nan

    with pytest.raises(FloatingPointError, match="step 1"):
        fit(make_model(), Nan(), TRAIN, config=BASE, log_every=1)


def test_numpy_inputs_and_encode():
    data = {k: v.double().numpy() for k, v in TRAIN.items()}
    model = make_model()
    fit(model, L.CCA(), data, config=BASE, epochs=1)
    z = encode(model, data["x1"], "x1", batch_size=100)
    assert z.shape == (256, 4) and z.dtype == np.float32
    with torch.no_grad():
        expected = model.encode("x1", TRAIN["x1"]).numpy()
    np.testing.assert_allclose(z, expected, rtol=1e-5, atol=1e-6)
    assert model.training  # encode restores the mode


def test_invalid_settings_and_data_raise():
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(lr=-1.0)
    with pytest.raises(ValueError, match="patience"):
        TrainConfig(patience=0)
    with pytest.raises(ValueError, match="exceeds"):
        fit(make_model(), L.InfoNCE(), TRAIN, config=BASE, batch_size=1000)
    with pytest.raises(ValueError, match="same number of samples"):
        fit(make_model(), L.InfoNCE(), {"x1": TRAIN["x1"], "x2": TRAIN["x2"][:10]}, config=BASE)


def test_runtime_helpers():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available"):
            resolve_device("cuda")
    with autocast(torch.device("cpu")):  # a no-op on CPU: float32 stays float32
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    seed_everything(7)
    state = rng_state()
    a = torch.rand(3)
    set_rng_state(state)
    assert torch.equal(a, torch.rand(3))
    with pytest.raises(ValueError, match="seed"):
        seed_everything(-1)
