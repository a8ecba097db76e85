"""The training loop: determinism, resume after an interruption, early stopping, checks."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from aligninfo import losses as L
from aligninfo import train as train_module
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


# ----------------------------------------------------------------- checkpoints of other runs


def _changed(name):
    """The arguments of BASE's run, with one thing that changes the result changed."""
    data = {k: v.clone() for k, v in TRAIN.items()}
    args = {"model": make_model(), "objective": L.InfoNCE(), "train": TRAIN, "val": VAL}
    if name == "objective":
        args["objective"] = L.CCA()
    elif name == "normalize":
        args["objective"] = L.InfoNCE(normalize=False)
    elif name == "train":
        data["x2"][200, 3] += 1e-3  # one value of a row the sample of a large array might skip
        args["train"] = data
    elif name == "val":
        args["val"] = make_data(96, 2)
    elif name == "hidden":
        torch.manual_seed(0)
        args["model"] = MultimodalEncoder({"x1": MLP(6, 4, (8,)), "x2": MLP(5, 4, (16,))})
    return args


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lr": 1e-2}, "lr"),
        ({"temperature_lr": 0.1}, "temperature_lr"),
        ({"weight_decay": 0.1}, "weight_decay"),
        ({"grad_clip": 1.0}, "grad_clip"),
        ({"patience": 2}, "patience"),
        ({"min_delta": 0.5}, "min_delta"),
        ({"seed": 1}, "seed"),
        ({"batch_size": 16}, "batch_size"),
        ("objective", "objective.class"),
        ("normalize", "objective.normalize"),
        ("train", "train.x2"),
        ("val", "val.x1"),
        ("hidden", "model.encoders.x1.net.0.weight"),
    ],
)
def test_a_checkpoint_of_another_run_is_refused_naming_what_differs(tmp_path, change, field):
    path = tmp_path / "run.ckpt"
    fit(make_model(), L.InfoNCE(), TRAIN, VAL, BASE, epochs=1, checkpoint=path)
    written = path.read_bytes()
    overrides = change if isinstance(change, dict) else {}
    args = _changed(None if isinstance(change, dict) else change)
    with pytest.raises(ValueError, match="belongs to a run") as caught:
        fit(**args, config=BASE, checkpoint=path, **overrides)
    message = str(caught.value)
    assert field in message and str(path) in message and "delete" in message
    assert path.read_bytes() == written  # the other run's checkpoint is left as it was


def test_more_epochs_continue_a_finished_run_bitwise(tmp_path):
    reference_model, reference_objective = make_model(), L.cross_self(learnable=True)
    reference = fit(reference_model, reference_objective, TRAIN, VAL, BASE, epochs=5)
    path = tmp_path / "run.ckpt"
    first = fit(make_model(), L.cross_self(learnable=True), TRAIN, VAL, BASE, checkpoint=path)
    assert first.epoch == [1, 2, 3]
    model, objective = make_model(seed=7), L.cross_self(learnable=True)
    more = fit(model, objective, TRAIN, VAL, BASE, epochs=5, checkpoint=path)
    assert more.epoch == [1, 2, 3, 4, 5]
    assert more.train_loss == reference.train_loss and more.val_loss == reference.val_loss
    assert more.best_epoch == reference.best_epoch
    assert_same_weights(weights(model), weights(reference_model))
    assert_same_weights(objective.state_dict(), reference_objective.state_dict())


def test_fewer_epochs_than_the_checkpoint_holds_are_refused(tmp_path):
    path = tmp_path / "run.ckpt"
    fit(make_model(), L.InfoNCE(), TRAIN, config=BASE, checkpoint=path)
    with pytest.raises(ValueError, match="epochs=2") as caught:
        fit(make_model(), L.InfoNCE(), TRAIN, config=BASE, checkpoint=path, epochs=2)
    assert str(path) in str(caught.value)


def test_the_learning_rate_asked_for_is_used_after_resume(tmp_path):
    path = tmp_path / "run.ckpt"
    fit(make_model(), L.InfoNCE(), TRAIN, config=BASE, checkpoint=path, max_steps=4)
    state = load_checkpoint(path)
    for group in state["optimizer"]["param_groups"]:
        group["lr"] = 0.5  # as a checkpoint written before the fingerprint held lr would say
    torch.save(state, path)
    reference_model = make_model()
    fit(reference_model, L.InfoNCE(), TRAIN, config=BASE)
    model = make_model()
    fit(model, L.InfoNCE(), TRAIN, config=BASE, checkpoint=path)
    assert_same_weights(weights(model), weights(reference_model))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "foreign"])
def test_a_damaged_checkpoint_is_an_error_naming_the_file(tmp_path, damage):
    path = tmp_path / "run.ckpt"
    fit(make_model(), L.InfoNCE(), TRAIN, config=BASE, checkpoint=path, max_steps=4)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a checkpoint")
    else:
        torch.save({"weights": torch.ones(3)}, path)  # a torch file, but not fit's
    with pytest.raises(ValueError, match="checkpoint") as caught:
        fit(make_model(), L.InfoNCE(), TRAIN, config=BASE, checkpoint=path)
    assert str(path) in str(caught.value)
    with pytest.raises(ValueError, match="checkpoint") as caught:
        load_checkpoint(path)
    assert str(path) in str(caught.value)


def test_an_empty_validation_set_is_refused_before_training():
    calls = {"n": 0}

    class Counting(L.InfoNCE):
        def forward(self, model, batch):
            calls["n"] += 1
            return super().forward(model, batch)

    empty = {k: v[:0] for k, v in VAL.items()}
    with pytest.raises(ValueError, match="val.*no samples"):
        fit(make_model(), Counting(), TRAIN, empty, BASE)
    with pytest.raises(ValueError, match="val.*keys"):
        fit(make_model(), Counting(), TRAIN, {"x1": VAL["x1"]}, BASE)
    assert calls["n"] == 0


@pytest.mark.parametrize("epochs", [2.5, 2.0, "3", True, 0, -1])
def test_epochs_must_be_a_positive_integer(epochs):
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=epochs)
    with pytest.raises(ValueError, match="epochs"):
        fit(make_model(), L.InfoNCE(), TRAIN, config=BASE, epochs=epochs)


def test_numpy_integer_epochs_are_accepted():
    history = fit(make_model(), L.InfoNCE(), TRAIN, config=BASE, epochs=np.int64(1))
    assert history.epoch == [1]


def test_a_large_array_is_digested_through_a_strided_sample(tmp_path, monkeypatch):
    monkeypatch.setattr(train_module, "DIGEST_BYTES", 1024)  # TRAIN["x1"]: 6 KiB, stride 6
    path = tmp_path / "run.ckpt"
    fit(make_model(), L.InfoNCE(), TRAIN, config=BASE, checkpoint=path, max_steps=2)
    assert "rows[::6]" in load_checkpoint(path)["fingerprint"]["train.x1"]
    changed = {"x1": TRAIN["x1"].clone(), "x2": TRAIN["x2"]}
    changed["x1"][6, 0] += 1.0  # a sampled row
    with pytest.raises(ValueError, match="train.x1"):
        fit(make_model(), L.InfoNCE(), changed, config=BASE, checkpoint=path)


def _temperature_after(x1, x2, temperature_lr):
    """The InfoNCE temperature learnt from 0.1 on pairs (x1, x2) in 20 epochs of 8 steps."""
    torch.manual_seed(0)
    model = MultimodalEncoder({"x1": MLP(6, 4, (16,)), "x2": MLP(6, 4, (16,))})
    objective = L.InfoNCE()
    fit(
        model,
        objective,
        {"x1": x1, "x2": x2},
        config=BASE,
        epochs=20,
        temperature_lr=temperature_lr,
    )
    return objective.temperature


def test_the_temperature_learns_at_its_own_rate_towards_its_known_optimum():
    # Identical inputs can be aligned exactly: the loss falls as the temperature does, so its
    # optimum is the floor (0.01). Independent inputs cannot be aligned at all: the loss is
    # lowest at uniform logits, i.e. as the temperature grows. With the encoders' rate the
    # temperature hardly leaves its start (0.1) in this budget; with a rate of its own it
    # moves each way towards its optimum.
    g = torch.Generator().manual_seed(3)
    x = torch.randn(256, 6, generator=g)
    independent = torch.randn(256, 6, generator=g)
    slow = [_temperature_after(x, partner, None) for partner in (x, independent)]
    assert all(abs(t - 0.1) < 0.03 for t in slow), slow
    aligned, unrelated = (_temperature_after(x, partner, 0.05) for partner in (x, independent))
    assert aligned < 0.05 < 0.2 < unrelated, (aligned, unrelated)


def test_the_temperature_group_has_no_weight_decay_and_keeps_its_rate_after_resume(tmp_path):
    path = tmp_path / "run.ckpt"
    config = dataclasses.replace(BASE, weight_decay=0.1, temperature_lr=0.05)
    fit(make_model(), L.InfoNCE(), TRAIN, config=config, checkpoint=path, max_steps=4)
    groups = {g["name"]: g for g in load_checkpoint(path)["optimizer"]["param_groups"]}
    assert groups["temperature"]["lr"] == 0.05 and groups["temperature"]["weight_decay"] == 0
    assert groups["weights"]["lr"] == BASE.lr and groups["weights"]["weight_decay"] == 0.1
    reference_model, reference_objective = make_model(), L.InfoNCE()
    fit(reference_model, reference_objective, TRAIN, config=config)
    model, objective = make_model(), L.InfoNCE()
    fit(model, objective, TRAIN, config=config, checkpoint=path)
    assert_same_weights(weights(model), weights(reference_model))
    assert objective.temperature == reference_objective.temperature
