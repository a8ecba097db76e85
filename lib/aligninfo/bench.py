"""Benchmark of the library core on this machine: ``python -m aligninfo.bench``.

Prints

- training throughput (samples/s) of :func:`aligninfo.train.fit` and of a minimal hand-written
  PyTorch loop on the same model, data, objective and optimiser, and their ratio;
- the time of one forward + backward pass of :func:`aligninfo.losses.info_nce` at batch 4096,
  dimension 128;
- peak memory (CUDA: allocated by torch; CPU: the process's resident set).

Not a test: the figures depend on the machine. Each timing is the best (loop) or the median
(loss) of several repeats after a warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from aligninfo.encoders import MLP, MultimodalEncoder
from aligninfo.losses import InfoNCE, info_nce
from aligninfo.runtime import (
    autocast,
    peak_memory_bytes,
    reset_peak_memory,
    resolve_device,
    seed_everything,
    synchronize,
)
from aligninfo.train import fit

__all__ = ["bench_info_nce", "bench_training", "main"]

D1, D2, DIM, HIDDEN = 64, 48, 128, (256, 256)


def _model(seed: int) -> MultimodalEncoder:
    seed_everything(seed)
    return MultimodalEncoder({"x1": MLP(D1, DIM, HIDDEN), "x2": MLP(D2, DIM, HIDDEN)})


def _hand_loop(
    model: MultimodalEncoder,
    data: dict[str, torch.Tensor],
    batch_size: int,
    epochs: int,
    device: torch.device,
) -> None:
    """The minimal loop a user would write: permute, slice, forward, backward, step."""
    model.to(device).train()
    x1, x2 = data["x1"].to(device), data["x2"].to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    enc1, enc2 = model.encoders["x1"], model.encoders["x2"]
    for _ in range(epochs):
        perm = torch.randperm(len(x1), device=device)
        x1s, x2s = x1[perm], x2[perm]
        for i in range(0, len(x1) - batch_size + 1, batch_size):
            with autocast(device):
                loss = info_nce(enc1(x1s[i : i + batch_size]), enc2(x2s[i : i + batch_size]))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    synchronize(device)


def _timed(run: Callable[[], None]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def bench_training(
    device: torch.device, samples: int, batch_size: int, epochs: int, repeats: int
) -> tuple[float, float]:
    """Throughput of ``fit`` and of the hand-written loop.

    Args:
        device: Where to train.
        samples: Training samples.
        batch_size: Samples per step.
        epochs: Epochs per timed run.
        repeats: Timed runs of each, interleaved (the fastest counts).

    Returns:
        ``(fit, hand)`` in samples per second (samples actually used: full batches only).
    """
    g = torch.Generator().manual_seed(0)
    data = {
        "x1": torch.randn(samples, D1, generator=g),
        "x2": torch.randn(samples, D2, generator=g),
    }
    used = (samples // batch_size) * batch_size * epochs

    def run_fit() -> None:
        fit(
            _model(0),
            InfoNCE(),
            data,
            epochs=epochs,
            batch_size=batch_size,
            device=str(device),
            progress=False,
            log_every=10**9,
        )
        synchronize(device)

    def run_hand() -> None:
        _hand_loop(_model(0), data, batch_size, epochs, device)

    run_fit()  # warm-up
    run_hand()
    times = [(_timed(run_fit), _timed(run_hand)) for _ in range(repeats)]  # interleaved
    return used / min(t for t, _ in times), used / min(t for _, t in times)


def bench_info_nce(device: torch.device, batch: int, dim: int, repeats: int) -> float:
    """Median seconds of one InfoNCE forward + backward pass on random embeddings.

    Args:
        device: Where to compute.
        batch: Batch size.
        dim: Embedding size.
        repeats: Timed passes.

    Returns:
        Seconds.
    """
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(batch, dim, generator=g).to(device).requires_grad_()
    z2 = torch.randn(batch, dim, generator=g).to(device).requires_grad_()
    times = []
    for i in range(repeats + 2):
        synchronize(device)
        start = time.perf_counter()
        info_nce(z1, z2, 0.1).backward()
        synchronize(device)
        if i >= 2:  # two warm-up passes
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m aligninfo.bench", description=__doc__)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--samples", type=int, default=16384)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    threads = torch.get_num_threads()
    print(f"aligninfo bench: device {device}, torch {torch.__version__}, {threads} CPU threads")
    if device.type == "cuda":
        print(f"  GPU: {torch.cuda.get_device_name(device)} (bf16 autocast)")

    reset_peak_memory(device)
    fit_sps, hand_sps = bench_training(
        device, args.samples, args.batch_size, args.epochs, args.repeats
    )
    train_peak = peak_memory_bytes(device)
    print(
        f"training throughput (MLP {D1}/{D2} -> {DIM}, hidden {HIDDEN}, InfoNCE, AdamW, "
        f"batch {args.batch_size}, {args.samples} samples x {args.epochs} epochs, best of "
        f"{args.repeats}):"
    )
    print(f"  aligninfo.train.fit   {fit_sps:12,.0f} samples/s")
    print(f"  hand-written loop     {hand_sps:12,.0f} samples/s")
    print(f"  ratio fit / hand      {fit_sps / hand_sps:12.3f}")

    reset_peak_memory(device)
    seconds = bench_info_nce(device, 4096, 128, repeats=10)
    loss_peak = peak_memory_bytes(device)
    print(f"InfoNCE forward+backward, batch 4096 x dim 128: {1e3 * seconds:.1f} ms (median of 10)")
    what = "allocated by torch on the GPU" if device.type == "cuda" else "process resident set"
    print(
        f"peak memory ({what}): training {train_peak / 2**20:,.0f} MiB, "
        f"InfoNCE {loss_peak / 2**20:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
