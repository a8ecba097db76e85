"""`fit` trains bit for bit as the plain loop it stands for, for every objective.

The plain loop below is the training written as simply as it can be (one permutation per
epoch, slices, loss, zero_grad, backward, AdamW step). The loop of :func:`aligninfo.train.fit`
may save time per step (checks, copies, allocations), never change a bit of the result: this
test pins that, for every objective of :data:`aligninfo.losses.OBJECTIVES`.
"""

import pytest
import torch

from aligninfo import losses as L
from aligninfo.encoders import FUSED, MLP, Fusion, MLPDecoder, MultimodalEncoder, make_projector
from aligninfo.runtime import seed_everything
from aligninfo.train import TrainConfig, fit

N, BATCH, EPOCHS, SEED = 96, 32, 2, 3
CONFIG = TrainConfig(
    epochs=EPOCHS,
    batch_size=BATCH,
    lr=3e-3,
    temperature_lr=0.05,
    weight_decay=1e-2,
    seed=SEED,
    progress=False,
    device="cpu",
)
KWARGS = {"decur": {"n_common": 2}}


def make_data():
    g = torch.Generator().manual_seed(0)
    s = torch.randn(N, 2, generator=g)
    x1 = torch.cat([s, torch.randn(N, 2, generator=g)], 1) @ torch.randn(4, 6, generator=g)
    x2 = torch.cat([s, torch.randn(N, 2, generator=g)], 1) @ torch.randn(4, 5, generator=g)
    return {"x1": x1, "x2": x2}


def make_model():
    """Backbones, projection heads (the fused one too), decoders and a fusion head."""
    torch.manual_seed(0)
    k, h = 4, 8
    model = MultimodalEncoder(
        {"x1": MLP(6, k, (h,)), "x2": MLP(5, k, (h,))},
        decoders={"x1": MLPDecoder(k, 6, (h,)), "x2": MLPDecoder(k, 5, (h,))},
        fusion=Fusion({"x1": k, "x2": k}, k, (h,)),
    )
    for key in ("x1", "x2", FUSED):
        model.set_projector(key, make_projector(k, k, h))
    return model


def plain_fit(model, objective, data):
    """The training of `fit` for arrays on CPU without validation, written plainly."""
    seed_everything(CONFIG.seed)
    model.train()
    objective.train()
    params = list({id(p): p for m in (model, objective) for p in m.parameters()}.values())
    learnt = {
        id(p)
        for m in objective.modules()
        if isinstance(m, L.LearnableTemperature)
        for p in m.parameters()
    }
    groups = [
        {"params": [p for p in params if id(p) not in learnt], "lr": CONFIG.lr},
        {
            "params": [p for p in params if id(p) in learnt],
            "lr": CONFIG.temperature_lr,
            "weight_decay": 0.0,
        },
    ]
    optimizer = torch.optim.AdamW(
        [g for g in groups if g["params"]], weight_decay=CONFIG.weight_decay, foreach=True
    )
    losses = []
    for epoch in range(EPOCHS):
        order = torch.randperm(
            N, generator=torch.Generator().manual_seed(CONFIG.seed * 1_000_003 + epoch)
        )
        shuffled = {k: t[order] for k, t in data.items()}
        total = torch.zeros(())
        for i in range(N // BATCH):
            loss = objective(
                model, {k: t[i * BATCH : (i + 1) * BATCH] for k, t in shuffled.items()}
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.detach()
        losses.append(float(total) / (N // BATCH))
    return losses


@pytest.mark.parametrize("name", sorted(L.OBJECTIVES))
def test_fit_equals_the_plain_loop_bit_for_bit(name):
    data = make_data()
    runs = []
    for train in (plain_fit, lambda m, o, d: fit(m, o, d, config=CONFIG).train_loss):
        model, objective = make_model(), L.make_objective(name, **KWARGS.get(name, {}))
        losses = train(model, objective, data)
        state = {**model.state_dict(), **objective.state_dict()}
        runs.append((losses, state))
    (plain_losses, plain_state), (fit_losses, fit_state) = runs
    assert fit_losses == plain_losses
    assert plain_state.keys() == fit_state.keys()
    for key, value in plain_state.items():
        assert torch.equal(fit_state[key], value), key
