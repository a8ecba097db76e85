"""Data-parallel training on two CPU processes (gloo) against one process on the whole batch.

Each test spawns two processes that join a gloo process group on a free local port; they
write what they computed to files, which the test compares with a single-process computation.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from itertools import chain
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from aligninfo import distributed, train
from aligninfo.encoders import MLP, MLPDecoder, MultimodalEncoder
from aligninfo.losses import Objective, make_objective
from aligninfo.train import fit

WORLD = 2
BATCH = 8  # the global batch: 4 rows per process


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _entry(rank: int, port: int, job: Callable[..., None], args: tuple[Any, ...]) -> None:
    """One process: join the group as torchrun would set it up, run ``job(rank, *args)``."""
    torch.set_num_threads(1)
    env = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": str(WORLD)}
    os.environ.update(env, RANK=str(rank), LOCAL_RANK=str(rank))
    assert distributed.init_from_env("cpu") == torch.device("cpu")
    assert dist.get_backend() == "gloo" and distributed.world_size() == WORLD
    try:
        job(rank, *args)
    finally:
        distributed.shutdown(wait=False)


def _spawn(job: Callable[..., None], *args: Any) -> None:
    mp.start_processes(
        _entry, args=(_free_port(), job, args), nprocs=WORLD, join=True, start_method="fork"
    )


def _model(unused_head: bool = False) -> MultimodalEncoder:
    """Two small MLP encoders; with ``unused_head``, a decoder no objective here uses."""
    torch.manual_seed(0)
    decoders = {"x1": MLPDecoder(4, 6, hidden=(8,))} if unused_head else None
    return MultimodalEncoder(
        {"x1": MLP(6, 4, hidden=(8,)), "x2": MLP(5, 4, hidden=(8,))}, decoders=decoders
    )


def _data(n: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    s = torch.randn(n, 3, generator=g)
    x1 = torch.cat([s, torch.randn(n, 3, generator=g)], 1)
    x2 = torch.cat([s[:, :2], torch.randn(n, 3, generator=g)], 1)
    return {"x1": x1, "x2": x2}


class _TwoViews:
    """A deterministic augmentation: the first and second calls map ``x`` differently.

    SimCLR draws two views of each batch; random ones would differ between the processes and
    the single process, this one does not, so SimCLR's gathering can be compared.
    """

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return x * 0.8 + 0.1 if self.calls % 2 else x * 1.3 - 0.2


def _objective(name: str) -> Objective:
    if name == "barlow_twins":
        return make_objective(name, lambd=0.05)
    if name == "simclr":
        return make_objective(name, augment=_TwoViews())
    return make_objective(name)


def _gradients(model: MultimodalEncoder, objective: Objective) -> dict[str, torch.Tensor]:
    named = chain(model.named_parameters(), objective.named_parameters(prefix="objective"))
    return {name: p.grad.clone() for name, p in named if p.grad is not None}


OBJECTIVES = ("info_nce", "barlow_twins", "simclr", "cca")
"""Contrastive objectives across modalities (learnt temperature) and within each (SimCLR's
negatives are gathered per modality), and two of batch statistics."""


def _loss_and_gradients(rank: int, out: Path) -> None:
    """Each process: its block of the batch through the wrapped model; loss and gradients."""
    rows = slice(rank * BATCH // WORLD, (rank + 1) * BATCH // WORLD)
    for name in OBJECTIVES:
        model, objective = _model(name == "barlow_twins"), _objective(name)
        local = {k: v[rows] for k, v in _data(BATCH).items()}
        with distributed.wrap(model, objective, torch.device("cpu")) as compute_loss:
            loss = compute_loss(local)
            loss.backward()
        grads = _gradients(model, objective)
        torch.save({"loss": loss.detach(), "grads": grads}, out / f"{name}-{rank}.pt")
    x = (torch.arange(6.0).reshape(3, 2) + 10 * rank).requires_grad_()
    y = distributed.all_gather_with_grad(x)
    weights = torch.randn(y.shape, generator=torch.Generator().manual_seed(rank))
    (weights * y).sum().backward()
    torch.save({"y": y.detach(), "grad": x.grad}, out / f"gather-{rank}.pt")


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files written by :func:`_loss_and_gradients` on two processes."""
    out = tmp_path_factory.mktemp("ddp")
    _spawn(_loss_and_gradients, out)
    return out


@pytest.mark.parametrize("name", OBJECTIVES)
def test_two_processes_give_the_loss_and_gradients_of_the_whole_batch(
    two_processes: Path, name: str
) -> None:
    model, objective = _model(name == "barlow_twins"), _objective(name)
    loss = objective(model, _data(BATCH))
    loss.backward()
    expected = _gradients(model, objective)
    assert any(k.startswith("objective.") for k in expected) == (name == "info_nce")
    for rank in range(WORLD):
        got = torch.load(two_processes / f"{name}-{rank}.pt")
        torch.testing.assert_close(got["loss"], loss.detach(), rtol=1e-5, atol=1e-6)
        assert got["grads"].keys() == expected.keys()
        for key, grad in expected.items():
            torch.testing.assert_close(got["grads"][key], grad, rtol=1e-4, atol=1e-6)


def test_one_process_alone_differs_from_the_whole_batch() -> None:
    """The comparison above has teeth: a block's own loss is not the whole batch's."""
    model, objective = _model(), _objective("info_nce")
    whole = objective(model, _data(BATCH))
    block = objective(model, {k: v[: BATCH // WORLD] for k, v in _data(BATCH).items()})
    assert abs(float(whole.detach()) - float(block.detach())) > 1e-3


def test_gather_concatenates_and_sends_each_process_the_sum_of_its_rows_gradients(
    two_processes: Path,
) -> None:
    xs = [torch.arange(6.0).reshape(3, 2) + 10 * r for r in range(WORLD)]
    weights = [torch.randn(6, 2, generator=torch.Generator().manual_seed(r)) for r in range(WORLD)]
    for rank in range(WORLD):
        got = torch.load(two_processes / f"gather-{rank}.pt")
        torch.testing.assert_close(got["y"], torch.cat(xs))
        rows = slice(3 * rank, 3 * rank + 3)
        torch.testing.assert_close(got["grad"], sum(w[rows] for w in weights))


def test_without_a_group_nothing_is_gathered_or_sharded() -> None:
    x = torch.randn(4, 2)
    assert distributed.gather(True, x)[0] is x
    assert distributed.all_gather_with_grad(x) is x
    order = torch.randperm(10)
    assert distributed.shard(order, 4) is order
    assert distributed.world_size() == 1 and distributed.is_main()


# --------------------------------------------------------------------------- fit and resume

N, EPOCHS = 32, 2  # 4 global batches of 8 an epoch


def _fit(checkpoint: Path | None, epochs: int) -> dict[str, Any]:
    model, objective = _model(), make_objective("info_nce")
    history = fit(
        model,
        objective,
        _data(N),
        epochs=epochs,
        batch_size=BATCH,
        lr=0.05,
        device="cpu",
        progress=False,
        checkpoint=checkpoint,
    )
    return {
        "model": model.state_dict(),
        "objective": objective.state_dict(),
        "history": history.as_dict(),
    }


def _fit_on_two(rank: int, checkpoint: Path, epochs: int, out: Path) -> None:
    """Each process: continue the checkpointed run; record which process wrote it."""
    saved: list[int] = []
    write = train._save

    def recording(path: Path, state: dict[str, Any]) -> None:
        saved.append(rank)
        write(path, state)

    train._save = recording
    try:
        result = _fit(checkpoint, epochs)
    finally:
        train._save = write
    torch.save({**result, "saved": saved}, out / f"fit-{rank}.pt")


def _assert_same_run(got: dict[str, Any], expected: dict[str, Any]) -> None:
    for part in ("model", "objective"):
        for key, value in expected[part].items():
            torch.testing.assert_close(got[part][key], value, rtol=1e-4, atol=1e-5)
    for key in ("epoch", "steps"):
        assert got["history"][key] == expected["history"][key]
    assert got["history"]["train_loss"] == pytest.approx(expected["history"]["train_loss"], 1e-4)


def test_fit_resumes_across_a_change_in_the_number_of_processes(tmp_path: Path) -> None:
    """One process, then two, then one again: the run of one process throughout."""
    whole = _fit(None, EPOCHS + 1)
    first = _fit(None, 1)
    assert not torch.allclose(first["model"]["encoders.x1.net.0.weight"],
                              whole["model"]["encoders.x1.net.0.weight"])  # fmt: skip
    ckpt = tmp_path / "run.ckpt"
    _fit(ckpt, 1)  # epoch 1 on one process
    _spawn(_fit_on_two, ckpt, EPOCHS, tmp_path)  # epoch 2 on two
    results = [torch.load(tmp_path / f"fit-{r}.pt") for r in range(WORLD)]
    assert [r["saved"] for r in results] == [[0, 0], []]  # only rank 0 writes
    two = _fit(None, EPOCHS)
    for result in results:
        _assert_same_run(result, two)
    _assert_same_run(_fit(ckpt, EPOCHS + 1), whole)  # epoch 3 on one process again


def test_shard_gives_each_rank_its_block_of_every_global_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order = torch.randperm(23, generator=torch.Generator().manual_seed(0))
    monkeypatch.setattr(distributed, "world_size", lambda: WORLD)
    shares = []
    for r in range(WORLD):
        monkeypatch.setattr(distributed, "rank", lambda r=r: r)
        shares.append(distributed.shard(order, BATCH))
    local = BATCH // WORLD
    for i in range(len(order) // BATCH):  # global batch i = the ranks' batches i, in rank order
        blocks = [share[i * local : (i + 1) * local] for share in shares]
        assert torch.equal(torch.cat(blocks), order[i * BATCH : (i + 1) * BATCH])
    assert sum(len(s) for s in shares) == len(order) // BATCH * BATCH
    with pytest.raises(ValueError, match="multiple of the 2 processes"):
        distributed.check_batch_size(BATCH + 1)


def test_batchnorm_becomes_sync_batchnorm_sharing_its_tensors_and_comes_back() -> None:
    """The CUDA-only conversion of :func:`distributed.wrap` (its module surgery, on CPU)."""
    model = _model()
    model.set_projector("x1", torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4)))
    original = model.projectors["x1"][1]
    keys = list(model.state_dict())
    restore = distributed._sync_batchnorm(model)
    converted = model.projectors["x1"][1]
    assert isinstance(converted, torch.nn.SyncBatchNorm) and len(restore) == 1
    assert converted.weight is original.weight
    assert converted.running_mean is original.running_mean
    assert list(model.state_dict()) == keys
    for parent, name, module in restore:
        setattr(parent, name, module)
    assert model.projectors["x1"][1] is original


def test_seed_step_depends_on_seed_step_and_rank_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(distributed, "world_size", lambda: WORLD)

    def draw(seed: int, step: int, rank: int) -> torch.Tensor:
        monkeypatch.setattr(distributed, "rank", lambda: rank)
        torch.manual_seed(123)  # whatever state the generator was in
        distributed.seed_step(seed, step)
        return torch.rand(3)

    assert torch.equal(draw(0, 5, 1), draw(0, 5, 1))
    assert not torch.equal(draw(0, 5, 0), draw(0, 5, 1))
    assert not torch.equal(draw(0, 5, 0), draw(0, 6, 0))
    draw(train.SEED_LIMIT - 1, 10**9, 1)  # the largest seeds fit torch's 64-bit seed
