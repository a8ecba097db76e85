"""Benchmark of the library core on this machine: ``python -m aligninfo.bench``.

Prints

- training throughput (samples/s) of :func:`aligninfo.train.fit` and of a minimal hand-written
  PyTorch loop on the same model, data, objective and optimiser, and their ratio;
- the time of one forward + backward pass of :func:`aligninfo.losses.info_nce` at batch 4096,
  dimension 128;
- peak memory (CUDA: allocated by torch; CPU: the process's resident set);
- the speed-up of :func:`aligninfo.experiment.compare` run in parallel processes
  (``workers``, default: every core) over a serial run of the same method x seed jobs, and
  whether the two give identical rows;
- the time of jobs on several data draws (chapter 7's design: a draw per seed) run in a pool per
  draw (:func:`aligninfo.experiment.compare`) and in one pool for all
  (:func:`aligninfo.experiment.run_jobs`), and whether the two give identical rows;
- the speed-up of a sweep (:func:`aligninfo.book.sweep.run_points`: points of a chapter, each
  run in the kernel of a worker process, which runs one point after another) run ``workers``
  points at a time over the same points one at a time, and whether the two give identical
  results files;
- with ``--bigearthnet``: BigEarthNet patch pairs read per second by
  :class:`aligninfo.data.bigearthnet.BigEarthNetPairs` (the six real example pairs, each read
  many times) from the GeoTIFFs, from a warm ``.npy`` cache and from a warm in-memory cache.

For these, wall time and CPU time (user + system, of this process and of every process
it waited for: workers, kernels) are both given: on a machine shared with other work the wall
time, hence the speed-up, depends on the load, the CPU time much less.

Not a test: the figures depend on the machine. Each timing is the best (loop) or the median
(loss) of several repeats after a warm-up.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import torch

from aligninfo.book.sweep import run_points
from aligninfo.encoders import MLP, MultimodalEncoder
from aligninfo.experiment import Job, Setup, Splits, compare, run_jobs
from aligninfo.losses import InfoNCE, info_nce
from aligninfo.runtime import (
    autocast,
    peak_memory_bytes,
    reset_peak_memory,
    resolve_device,
    seed_everything,
    synchronize,
)
from aligninfo.train import TrainConfig, fit

if TYPE_CHECKING:
    from aligninfo.data.bigearthnet import BigEarthNetPairs

__all__ = [
    "Timing",
    "bench_bigearthnet",
    "bench_compare",
    "bench_info_nce",
    "bench_pools",
    "bench_sweep",
    "bench_training",
    "main",
    "same_results",
]

T = TypeVar("T")

SWEEP_CHAPTER = "07_synthetic"
SWEEP_POINTS = [{"embedding_dim": 8}, {"embedding_dim": 16}]
SWEEP_FIXED = {"scale": "smoke", "extras": False, "methods": ["raw", "info_nce"]}
"""The default sweep timed: two points of chapter 7 at smoke scale, lean (what a sweep reads)."""


@dataclass(frozen=True)
class Timing:
    """Wall-clock and CPU seconds of one run.

    Attributes:
        wall: Elapsed seconds.
        cpu: User + system seconds of this process and of the child processes it waited for
            (workers, the kernels they started), during the run.
    """

    wall: float
    cpu: float


def _cpu_seconds() -> float:
    """User + system seconds so far of this process and of its waited-for descendants."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _measured(run: Callable[[], T]) -> tuple[T, Timing]:
    """``run()`` and its :class:`Timing`."""
    wall, cpu = time.perf_counter(), _cpu_seconds()
    out = run()
    return out, Timing(time.perf_counter() - wall, _cpu_seconds() - cpu)


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


def _compare_data(samples: int, seed: int = 0) -> Splits:
    """Two views of shared and private Gaussian latents, with a target on view 1."""
    rng = np.random.default_rng(seed)
    mix1, mix2 = rng.standard_normal((8, 32)), rng.standard_normal((8, 24))

    def part(n: int) -> dict[str, np.ndarray]:
        s, u1, u2 = (rng.standard_normal((n, 4)) for _ in range(3))
        x1 = np.hstack([s, u1]) @ mix1 + 0.1 * rng.standard_normal((n, 32))
        x2 = np.hstack([s, u2]) @ mix2 + 0.1 * rng.standard_normal((n, 24))
        y = s[:, 0] + u1[:, 0]
        return {"x1": x1.astype(np.float32), "x2": x2.astype(np.float32), "y": y}

    return Splits(part(samples), part(samples // 4), part(samples // 2))


def _same_rows(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    """Every metric equal (NaN equal to NaN), timings and histories aside."""
    for ra, rb in zip(a, b, strict=True):
        for key, va in ra.items():
            if key in ("seconds", "history"):
                continue
            if isinstance(va, float | np.ndarray):
                if not np.array_equal(va, rb[key], equal_nan=True):
                    return False
            elif va != rb[key]:
                return False
    return True


def _make_compare_model() -> MultimodalEncoder:
    return MultimodalEncoder({"x1": MLP(32, 16, (64,)), "x2": MLP(24, 16, (64,))})


def _compare_setup(epochs: int) -> Setup:
    """Small MLP encoders with heads, probed for the target on view 1, on the CPU."""
    return Setup(
        make_model=_make_compare_model,
        targets={"y": "regression"},
        train=TrainConfig(epochs=epochs, batch_size=128, device="cpu"),
        sigmas=(0.0,),
        projector=(16, 64),
    )


def bench_compare(
    workers: int, samples: int, epochs: int, seeds: int
) -> tuple[Timing, Timing, bool]:
    """Time of :func:`aligninfo.experiment.compare`: serial and with ``workers``.

    Four objectives x ``seeds`` seeds on small MLP encoders and Gaussian data, on CPU.

    Args:
        workers: Processes of the parallel run.
        samples: Training samples.
        epochs: Training epochs of each job.
        seeds: Seeds per objective.

    Returns:
        ``(serial, parallel, whether the rows are identical)``.
    """
    data, setup = _compare_data(samples), _compare_setup(epochs)
    methods, seed_list = ["info_nce", "barlow_twins", "vicreg", "simclr"], list(range(seeds))
    serial, serial_time = _measured(
        lambda: compare(methods, data, setup, seed_list, progress=False)
    )
    parallel, parallel_time = _measured(
        lambda: compare(methods, data, setup, seed_list, progress=False, workers=workers)
    )
    return serial_time, parallel_time, _same_rows(serial, parallel)


def bench_pools(workers: int, samples: int, epochs: int, draws: int) -> tuple[Timing, Timing, bool]:
    """Time of one pool per data draw (:func:`compare`) against one for all (:func:`run_jobs`).

    Chapter 7's way: every seed trains on a data draw of its own, four objectives and the raw
    inputs per draw. Run draw by draw, each :func:`aligninfo.experiment.compare` starts a pool
    and waits for its slowest job; :func:`aligninfo.experiment.run_jobs` runs every job of
    every draw in one pool.

    Args:
        workers: Processes of both runs.
        samples: Training samples of each draw.
        epochs: Training epochs of each job.
        draws: Data draws (one seed each).

    Returns:
        ``(a pool per draw, one pool, whether the rows are identical)``.
    """
    setup = _compare_setup(epochs)
    data = [_compare_data(samples, seed=d) for d in range(draws)]
    methods = ["raw", "info_nce", "barlow_twins", "vicreg", "simclr"]
    per_draw, per_draw_time = _measured(
        lambda: [
            row
            for d in range(draws)
            for row in compare(methods, data[d], setup, [d], progress=False, workers=workers)
        ]
    )
    jobs = [Job(m, d, data[d], setup) for d in range(draws) for m in methods]
    pooled, pooled_time = _measured(lambda: run_jobs(jobs, workers))
    return per_draw_time, pooled_time, _same_rows(per_draw, pooled)


def same_results(a: Any, b: Any) -> bool:
    """Whether two results (JSON values) are equal, every ``"seconds"`` entry aside."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        keys = {k for k in a if k != "seconds"}
        return keys == {k for k in b if k != "seconds"} and all(
            same_results(a[k], b[k]) for k in keys
        )
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_results(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b or (a != a and b != b))  # NaN equals NaN


def bench_sweep(
    workers: int,
    chapter: str = SWEEP_CHAPTER,
    points: Sequence[Mapping[str, Any]] = tuple(SWEEP_POINTS),
    fixed: Mapping[str, Any] | None = None,
) -> tuple[Timing, Timing, bool]:
    """Time of a sweep run one point at a time and ``workers`` points at a time.

    Each run computes every point afresh, in a temporary results folder of its own.

    Args:
        workers: Points run at once in the parallel run.
        chapter: The chapter swept.
        points: Its points (see :func:`aligninfo.book.sweep.run_points`).
        fixed: Parameters of every point (default: :data:`SWEEP_FIXED` for the default chapter).

    Returns:
        ``(serial, parallel, whether every point computed identical results)``.

    Raises:
        RuntimeError: If a point fails.
    """
    fixed = dict(SWEEP_FIXED if fixed is None and chapter == SWEEP_CHAPTER else fixed or {})
    with tempfile.TemporaryDirectory(prefix="aligninfo-bench-") as folder:
        runs = []
        for name, count in (("serial", 1), ("parallel", workers)):
            out = Path(folder, name)
            done, timing = _measured(
                functools.partial(run_points, chapter, points, fixed, count, out)
            )
            failed = [p for p in done if p.status != "computed"]
            if failed:
                raise RuntimeError(
                    f"sweep point {failed[0].values} {failed[0].status}: {failed[0].error}"
                )
            runs.append((done, timing))
    (serial, serial_time), (parallel, parallel_time) = runs
    same = all(same_results(a.results, b.results) for a, b in zip(serial, parallel, strict=True))
    return serial_time, parallel_time, same


BIGEARTHNET_PASSES = 20
"""Passes over the six BigEarthNet example pairs in each timed read."""


def bench_bigearthnet(passes: int = BIGEARTHNET_PASSES) -> dict[str, tuple[int, Timing]]:
    """Time reading BigEarthNet pairs without a cache and from warm caches.

    The example pairs are extracted into a temporary folder; each way of reading is warmed up by
    one pass (which fills its cache), then timed over ``passes`` passes in this process.

    Args:
        passes: Timed passes over the pairs.

    Returns:
        ``{way: (pairs read, timing)}`` for ``"GeoTIFF (no cache)"``, ``".npy cache (warm)"``
        and ``"memory cache (warm)"``.

    Raises:
        aligninfo.data.bigearthnet.PackageMissingError: Without ``bigearthnet-common``.
    """
    from aligninfo.data import bigearthnet  # rasterio and the package: the optional data extra

    out = {}
    with tempfile.TemporaryDirectory(prefix="aligninfo-bench-ben-") as folder:
        roots = bigearthnet.example_roots(Path(folder, "examples"))
        ways: dict[str, dict[str, Any]] = {
            "GeoTIFF (no cache)": {},
            ".npy cache (warm)": {"cache_dir": Path(folder, "decoded")},
            "memory cache (warm)": {"memory_items": 6},
        }
        for way, options in ways.items():
            data = bigearthnet.BigEarthNetPairs(roots["s2"], roots["s1"], **options)
            _read_pairs(data, 1)  # warm-up: fills the cache
            count, timing = _measured(functools.partial(_read_pairs, data, passes))
            out[way] = (count, timing)
    return out


def _read_pairs(data: BigEarthNetPairs, passes: int) -> int:
    """Read every item of ``data`` ``passes`` times; return how many were read."""
    for _ in range(passes):
        for i in range(len(data)):
            data[i]
    return passes * len(data)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m aligninfo.bench", description=__doc__)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--samples", type=int, default=16384)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes of the parallel compare (default: every core)",
    )
    parser.add_argument("--compare-samples", type=int, default=2000)
    parser.add_argument("--compare-epochs", type=int, default=5)
    parser.add_argument("--compare-seeds", type=int, default=2)
    parser.add_argument("--compare-draws", type=int, default=4)
    parser.add_argument(
        "--skip-compare", action="store_true", help="do not time the parallel compare"
    )
    parser.add_argument("--skip-sweep", action="store_true", help="do not time the parallel sweep")
    parser.add_argument(
        "--skip-training",
        action="store_true",
        help="do not time the training loop and InfoNCE (only the parallel runs)",
    )
    parser.add_argument(
        "--bigearthnet",
        action="store_true",
        help="also time BigEarthNet pairs read per second, with and without the caches "
        "(needs the 'data' extra)",
    )
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    threads = torch.get_num_threads()
    print(f"aligninfo bench: device {device}, torch {torch.__version__}, {threads} CPU threads")
    if device.type == "cuda":
        print(f"  GPU: {torch.cuda.get_device_name(device)} (bf16 autocast)")

    if not args.skip_training:
        _print_core(device, args)
    if not args.skip_compare:
        serial, parallel, same = bench_compare(
            args.workers, args.compare_samples, args.compare_epochs, args.compare_seeds
        )
        print(
            f"experiment.compare (4 objectives x {args.compare_seeds} seeds, "
            f"{args.compare_samples} samples x {args.compare_epochs} epochs, CPU, one thread "
            "a job):"
        )
        _print_speedup(serial, parallel, args.workers, f"identical rows: {same}")
    if not args.skip_compare:
        per_draw, pooled, same = bench_pools(
            args.workers, args.compare_samples, args.compare_epochs, args.compare_draws
        )
        print(
            f"{args.compare_draws} data draws x (raw + 4 objectives), a pool per draw "
            "(experiment.compare) against one pool (experiment.run_jobs):"
        )
        _print_speedup(
            per_draw,
            pooled,
            args.workers,
            f"identical rows: {same}",
            ("a pool per draw", "one pool"),
        )
    if not args.skip_sweep:
        serial, parallel, same = bench_sweep(args.workers)
        print(
            f"sweep.run_points ({len(SWEEP_POINTS)} points of {SWEEP_CHAPTER}, "
            f"{', '.join(f'{k}={v}' for k, v in SWEEP_FIXED.items())}; a kernel per worker):"
        )
        _print_speedup(serial, parallel, args.workers, f"identical results: {same}")
    if args.bigearthnet:
        _print_bigearthnet()


def _print_bigearthnet() -> None:
    """Time and print BigEarthNet pairs read per second."""
    print(
        f"BigEarthNet pairs read (S2 12 x 120 x 120 + S1 2 x 120 x 120, six example pairs x "
        f"{BIGEARTHNET_PASSES} passes, one process):"
    )
    for way, (count, timing) in bench_bigearthnet().items():
        print(
            f"  {way:22}{count / timing.wall:10,.0f} pairs/s wall {count / timing.cpu:10,.0f} "
            "pairs/CPU s"
        )


def _print_core(device: torch.device, args: argparse.Namespace) -> None:
    """Time and print the training loop, InfoNCE and their peak memory."""
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


def _print_speedup(
    serial: Timing,
    parallel: Timing,
    workers: int,
    same: str,
    names: tuple[str, str] | None = None,
) -> None:
    first, second = names or ("serial", f"{workers} workers")
    print(f"  {first:22}{serial.wall:12.2f} s wall {serial.cpu:10.2f} s CPU")
    print(f"  {second:22}{parallel.wall:12.2f} s wall {parallel.cpu:10.2f} s CPU")
    print(f"  speed-up              {serial.wall / parallel.wall:12.2f}x   {same}")


if __name__ == "__main__":
    main()
