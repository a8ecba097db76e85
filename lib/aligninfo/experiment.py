"""The protocol of the experiment chapters: pretrain each method, freeze, probe, repeat over seeds.

::

    data = Splits(train={"x1": X1, "x2": X2, "y": y}, val={...}, test={...})
    setup = Setup(make_model=lambda: MultimodalEncoder({"x1": MLP(d1, k), "x2": MLP(d2, k)}),
                  targets={"y": "regression"}, supervised={"x1": "y", "x2": "y"})
    rows = compare(["raw", "random", "info_nce", "barlow_twins"], data, setup, seeds=[0, 1, 2],
                   workers=2)
    print(markdown_table(summarize(rows, ["y/z1", "y/z2", "y/joint", "top1"])))

A *method* is the name of an objective of :data:`aligninfo.losses.OBJECTIVES` or a baseline:
``"raw"`` (the inputs themselves), ``"random"`` (an untrained encoder) or ``"supervised"``
(each encoder trained to predict its target). Every trained method gets the same encoders, data,
epochs, batch size and learning rate.

The protocol of the self-supervised papers: with ``Setup.projector`` (or a model built with
projection heads), the losses act on the projection head's output and the probes read the
backbone (views ``z1``, ``z2``, ``joint``); the projector outputs are probed as a second view
(``p1``, ``p2``), and CoMM's fused representation as the view ``fused``. Every probe chooses its
hyperparameters by inner cross-validation on the training data (:mod:`aligninfo.cvprobes`);
``Setup.probes`` adds nonlinear probes (kNN, MLP) to the linear one. ``compare(...,
workers=N)`` runs the method x seed jobs in N processes with results identical to a serial run.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from aligninfo.cvprobes import PROBE_KINDS, chosen_hyperparameters, make_probe
from aligninfo.encoders import FUSED, MultimodalEncoder, make_projector
from aligninfo.lifetime import die_with_parent
from aligninfo.losses import OBJECTIVES, CoMM, Objective, learned_temperatures, make_objective
from aligninfo.probes import retrieval_accuracy, sigma_informativeness
from aligninfo.runtime import eval_mode, resolve_device
from aligninfo.supervised import Supervised, Task
from aligninfo.train import TrainConfig, encode, fit

BASELINES = ("raw", "random", "supervised")
VIEWS = ("z1", "z2", "joint")
"""Backbone views, always probed: each modality's backbone and their concatenation."""
EXTRA_VIEWS = ("p1", "p2", "fused")
"""Views probed when present: projector outputs (models with heads) and CoMM's fusion."""


@dataclass(frozen=True)
class Splits:
    """Paired samples: per split, ``"x1"``, ``"x2"`` inputs ``(n, *shape)`` and named targets.

    Regression targets are ``(n,)`` or ``(n, 1)`` floats, classes ``(n,)`` integers from 0.
    """

    train: Mapping[str, np.ndarray]
    val: Mapping[str, np.ndarray]
    test: Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Setup:
    """How every method is trained and evaluated.

    Attributes:
        make_model: Builds fresh encoders (called after seeding, once per method and seed).
        targets: Task of each target to probe, by key of the splits.
        supervised: For the supervised baseline, the target each modality's encoder predicts.
        objective_kwargs: Hyperparameters per objective name, e.g. ``{"info_nce": {...}}``.
        train: How every job trains (:class:`aligninfo.train.TrainConfig`: epochs, batch size,
            learning rates, device); each job's seed replaces ``train.seed``, and no job shows
            a progress bar.
        sigmas: Noise levels of the σ-informativeness curves (empty: no curves, which saves
            an eigendecomposition of each view's features per target).
        logistic_c: Fixed inverse regularisation of the classification probes (None, the
            default: chosen by inner cross-validation on the training data).
        projector: ``(out_dim, hidden)`` of the projection heads (:func:`make_projector`)
            attached to every modality (and to the fusion head) of a model built without
            any; None: the model as ``make_model`` builds it.
        probes: Probe families of :func:`evaluate`, among ``"linear"``, ``"knn"``, ``"mlp"``;
            the linear one is always run.
        probe_seed: Seed of the probes' inner folds and initialisation.
        metrics: Extra metrics of a job, ``metrics(rep, data) -> {name: value}`` from the
            output of :func:`representations` (frozen features of every view) and the splits;
            computed where the job runs (in a worker process too) and merged into its row of
            :func:`compare`. None: only :func:`evaluate`.
        probe_groups: Key of the splits holding each sample's group (e.g. its site): the
            probes then choose their hyperparameters on inner folds that keep every group on
            one side (:func:`aligninfo.cvprobes.make_probe` with ``grouped=True``: ridge,
            logistic, kNN and the MLP's early-stopping split). None: inner folds over samples.
        keep_predictions: Also return every probe's test predictions (``.../pred`` metrics of
            :func:`evaluate`), e.g. for a bootstrap over held-out groups.
        target_views: The views each target is probed from, by target (a target not listed:
            every view). Each probe of a view of ``k`` features costs about ``k**2`` per sample
            (ridge's leave-one-out selection): probing only the views a study reads saves most
            of the evaluation at large ``k``. None: every target from every view.
    """

    make_model: Callable[[], MultimodalEncoder]
    targets: Mapping[str, Task]
    supervised: Mapping[str, str] = field(default_factory=dict)
    objective_kwargs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=20))
    sigmas: Sequence[float] = (0.0, 0.1, 0.3, 1.0, 3.0)
    logistic_c: float | None = None
    projector: tuple[int, int | None] | None = None
    probes: Sequence[str] = ("linear",)
    probe_seed: int = 0
    metrics: Callable[[Mapping[str, Any], Splits], Mapping[str, Any]] | None = None
    probe_groups: str | None = None
    keep_predictions: bool = False
    target_views: Mapping[str, Sequence[str]] | None = None

    def __post_init__(self) -> None:
        unknown = set(self.probes) - set(PROBE_KINDS)
        if unknown:
            raise ValueError(f"unknown probes {sorted(unknown)}; choose from {PROBE_KINDS}")
        for target, views in (self.target_views or {}).items():
            bad = set(views) - {*VIEWS, *EXTRA_VIEWS}
            if target not in self.targets or bad or isinstance(views, str):
                raise ValueError(
                    f"target_views: {target!r} must be a target and list views among "
                    f"{[*VIEWS, *EXTRA_VIEWS]}; got {views!r}"
                )
        if self.projector is not None and self.projector[0] < 1:
            raise ValueError(f"projector output size must be positive, got {self.projector}")


def make_method(method: str, data: Splits, setup: Setup, dim: int) -> Objective:
    """The objective that pretrains ``method`` (not for ``"raw"`` or ``"random"``)."""
    if method == "supervised":
        if not setup.supervised:
            raise ValueError("the supervised baseline needs Setup.supervised")
        heads = {}
        for key, target in setup.supervised.items():
            task = setup.targets[target]
            outputs = int(data.train[target].max()) + 1 if task == "classification" else 1
            heads[key] = (target, task, outputs)
        return Supervised(heads, dim)
    if method not in OBJECTIVES:
        known = ", ".join([*BASELINES, *OBJECTIVES])
        raise ValueError(f"unknown method {method!r}; choose from {known}")
    return make_objective(method, **setup.objective_kwargs.get(method, {}))


def attach_projectors(
    model: MultimodalEncoder, data: Splits, out_dim: int, hidden: int | None = None
) -> MultimodalEncoder:
    """Give every modality (and the fusion head, if any) a projection head, in place.

    The backbone sizes are read from a forward pass on two training samples (in eval mode).

    Args:
        model: Encoders without projection heads.
        data: The splits (their training inputs give the backbone sizes).
        out_dim: Output size of each head.
        hidden: Hidden width of each head (None: ``max(in, out)``).

    Returns:
        The same model.
    """
    for key in model.keys:
        model.set_projector(key, make_projector(_embedding_dim(model, data, key), out_dim, hidden))
    if model.fusion is not None:
        with torch.no_grad(), eval_mode(model):
            h = {
                k: model.encode(k, torch.as_tensor(np.asarray(data.train[k][:2], dtype=np.float32)))
                for k in model.keys
            }
            fused_dim = int(model.fuse(h).shape[1])
        model.set_projector(FUSED, make_projector(fused_dim, out_dim, hidden))
    return model


def representations(method: str, data: Splits, setup: Setup, seed: int) -> dict[str, Any]:
    """Pretrain ``method`` with ``seed`` and return the frozen features of every split.

    Returns:
        ``{"z1": {split: (n, k)}, "z2": {...}}`` backbone features; ``"p1"``, ``"p2"``
        projector outputs (only for modalities with a projection head); ``"fused"`` CoMM's
        fused representation (only for methods that train the fusion head); ``"model"`` (None
        for raw), ``"history"`` (None for raw and random), ``"temperatures"`` (learnt ones,
        :func:`aligninfo.losses.learned_temperatures`), ``"seconds"``.
    """
    start = time.perf_counter()
    splits = {"train": data.train, "val": data.val, "test": data.test}
    if method == "raw":
        z = {v: {s: _flat(d["x" + v[1]]) for s, d in splits.items()} for v in ("z1", "z2")}
        return {
            **z,
            "model": None,
            "history": None,
            "temperatures": {},
            "seconds": time.perf_counter() - start,
        }
    torch.manual_seed(seed)
    model = setup.make_model()
    if setup.projector is not None and len(model.projectors) == 0:
        attach_projectors(model, data, *setup.projector)
    history, temperatures, fused = None, {}, False
    if method != "random":
        objective = make_method(method, data, setup, _embedding_dim(model, data))
        history = fit(
            model,
            objective,
            _inputs(data.train, method, setup),
            val=_inputs(data.val, method, setup),
            config=replace(setup.train, seed=seed, progress=False),
        )
        temperatures = learned_temperatures(objective)
        fused = any(isinstance(m, CoMM) for m in objective.modules())
    views: dict[str, dict[str, np.ndarray]] = {v: {} for v in ("z1", "z2")}
    for split, d in splits.items():
        for view, array in encode_views(model, d, fused=fused).items():
            views.setdefault(view, {})[split] = array
    return {
        **views,
        "model": model,
        "history": history,
        "temperatures": temperatures,
        "seconds": time.perf_counter() - start,
    }


def encode_views(
    model: MultimodalEncoder,
    split: Mapping[str, np.ndarray],
    fused: bool = False,
    batch_size: int = 4096,
) -> dict[str, np.ndarray]:
    """Frozen features of one split: backbone, projector outputs and (optionally) fusion.

    Args:
        model: A trained model with encoders ``"x1"``, ``"x2"``.
        split: ``"x1"``, ``"x2"`` inputs ``(n, *shape)``.
        fused: Also return the fused representation (needs a fusion head).
        batch_size: Samples per forward pass.

    Returns:
        ``"z1"``, ``"z2"`` ``(n, k)`` backbone features (:func:`aligninfo.train.encode`);
        ``"p1"``, ``"p2"`` ``(n, out)`` projector outputs for the modalities with a head;
        ``"fused"`` ``(n, fused_dim)`` when ``fused``.
    """
    out = {"z" + key[1]: encode(model, split[key], key, batch_size) for key in ("x1", "x2")}
    heads = [key for key in ("x1", "x2") if key in model.projectors]
    if not heads and not fused:
        return out
    device = next(model.parameters()).device
    n = len(out["z1"])
    parts: dict[str, list[np.ndarray]] = {
        **{"p" + k[1]: [] for k in heads},
        **({"fused": []} if fused else {}),
    }
    with eval_mode(model), torch.no_grad():
        for i in range(0, n, batch_size):
            h = {
                k: torch.as_tensor(out["z" + k[1]][i : i + batch_size]).to(device)
                for k in ("x1", "x2")
            }
            for k in heads:
                parts["p" + k[1]].append(model.project(k, h[k]).float().cpu().numpy())
            if fused:
                parts["fused"].append(model.fuse(h).float().cpu().numpy())
    return {**out, **{v: np.concatenate(p) for v, p in parts.items()}}


def evaluate(z: Mapping[str, Any], data: Splits, setup: Setup) -> dict[str, Any]:
    """Probe frozen features: each target from every view, retrieval, σ-curves.

    Views: ``z1``, ``z2`` (backbones) and ``joint`` (both), plus ``p1``, ``p2`` (projector
    outputs) and ``fused`` (CoMM) when ``z`` has them (:func:`representations`);
    ``setup.target_views`` limits the views a target is probed from. Probes fit on train +
    validation and score on test: R² for regression, accuracy for classes. Each probe chooses
    its hyperparameters by inner cross-validation on the fitting data only
    (:func:`aligninfo.cvprobes.make_probe`), for raw inputs as for learned features.
    σ-informativeness curves (regression targets) use the convention of
    :meth:`aligninfo.gaussian.GaussianModel.sigma_informativeness`.

    Returns:
        Flat metrics. Linear probe: ``"<target>/<view>"`` scores and the chosen penalty
        ``"<target>/<view>/alpha"`` (ridge) or ``"<target>/<view>/C"`` (logistic); for classes
        also ``"<target>/<view>/balanced"`` (mean per-class accuracy) and
        ``"<target>/<view>/per_class"`` arrays. Nonlinear probes of ``setup.probes``:
        ``"<target>/<view>/knn"`` with ``"<target>/<view>/knn_k"``, ``"<target>/<view>/mlp"``.
        ``"sigma/<target>/<view>"`` arrays over ``setup.sigmas``. With
        ``setup.keep_predictions``, ``"<target>/<view>/pred"`` (linear) and
        ``"<target>/<view>/<kind>/pred"`` test predictions. Retrieval on the test split
        (z1 queries, z2 keys; only when both have the same size): ``"top1"``, ``"top5"`` on
        the backbones, ``"top1/p"``, ``"top5/p"`` on the projector outputs.
    """
    feats = {v: _fit_test(z[v]) for v in ("z1", "z2")}
    (f1, t1), (f2, t2) = feats["z1"], feats["z2"]
    feats["joint"] = (np.hstack([f1, f2]), np.hstack([t1, t2]))
    feats.update({v: _fit_test(z[v]) for v in EXTRA_VIEWS if v in z})
    out: dict[str, Any] = {}
    groups = (
        None
        if setup.probe_groups is None
        else np.concatenate([data.train[setup.probe_groups], data.val[setup.probe_groups]])
    )
    for target, task in setup.targets.items():
        y_fit = np.concatenate([data.train[target], data.val[target]])
        wanted = (setup.target_views or {}).get(target)
        for view, (f_fit, f_test) in feats.items():
            if wanted is not None and view not in wanted:
                continue
            out.update(
                _probe_view(
                    f"{target}/{view}",
                    task,
                    (f_fit, y_fit),
                    (f_test, data.test[target]),
                    setup,
                    groups,
                )
            )
    for suffix, (q, k) in (("", ("z1", "z2")), ("/p", ("p1", "p2"))):
        if q in feats and k in feats and feats[q][1].shape == feats[k][1].shape:
            top = retrieval_accuracy(feats[q][1], feats[k][1], ks=(1, 5))
            out["top1" + suffix], out["top5" + suffix] = top[1], top[5]
    return out


def _probe_view(
    name: str,
    task: Task,
    fit_data: tuple[np.ndarray, np.ndarray],
    test_data: tuple[np.ndarray, np.ndarray],
    setup: Setup,
    groups: np.ndarray | None = None,
) -> dict[str, Any]:
    """Every probe family of ``setup`` on one (target, view); metric names of :func:`evaluate`.

    ``groups`` (``(n_fit,)``, or None) group the probes' inner folds.
    """
    (f_fit, y_fit), (f_test, y_test) = fit_data, test_data
    out: dict[str, Any] = {}
    for kind in ("linear", *[p for p in setup.probes if p != "linear"]):
        probe = make_probe(
            kind, task, setup.probe_seed, setup.logistic_c, grouped=groups is not None
        )
        probe = probe.fit(f_fit, y_fit) if groups is None else probe.fit(f_fit, y_fit, groups)
        score = probe.score(f_test, y_test)
        if setup.keep_predictions:
            suffix = "" if kind == "linear" else f"/{kind}"
            out[f"{name}{suffix}/pred"] = np.asarray(probe.predict(f_test))
        chosen = chosen_hyperparameters(probe)
        if kind == "linear":
            out[name] = score
            out.update({f"{name}/{h}": v for h, v in chosen.items()})
            if task == "classification":
                out[name + "/per_class"] = per_class_accuracy(y_test, probe.predict(f_test))
                out[name + "/balanced"] = float(out[name + "/per_class"].mean())
            elif len(setup.sigmas):
                out[f"sigma/{name}"] = sigma_informativeness(
                    f_fit, y_fit, setup.sigmas, f_test, y_test
                )
        else:
            out[f"{name}/{kind}"] = score
            if kind == "knn":
                out[f"{name}/knn_k"] = chosen["k"]
    return out


def per_class_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Accuracy on each class present in ``y_true`` (recall), ``(n_classes,)``, by class index.

    Classes absent from ``y_true`` get NaN.
    """
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    n_classes = int(max(y_true.max(), y_pred.max())) + 1
    hits = np.bincount(y_true[y_true == y_pred], minlength=n_classes).astype(float)
    counts = np.bincount(y_true, minlength=n_classes).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, hits / counts, np.nan)


def run_job(method: str, seed: int, data: Splits, setup: Setup) -> dict[str, Any]:
    """Pretrain and evaluate one (method, seed): one row of :func:`compare`.

    Returns:
        ``method``, ``seed``, ``seconds``, ``history``, ``temperature`` (the learnt InfoNCE
        temperature at the end of training; NaN when none is learnt), ``temperatures`` (all
        learnt ones by module path), the metrics of :func:`evaluate` and those of
        ``setup.metrics``.
    """
    rep = representations(method, data, setup, seed)
    temps = rep["temperatures"]
    extra = dict(setup.metrics(rep, data)) if setup.metrics is not None else {}
    return {
        "method": method,
        "seed": seed,
        "seconds": rep["seconds"],
        "history": rep["history"],
        "temperature": next(iter(temps.values()), float("nan")),
        "temperatures": temps,
        **evaluate(rep, data, setup),
        **extra,
    }


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch and the BLAS / OpenMP libraries on one thread within the block (restored)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(previous)


@dataclass(frozen=True)
class Job:
    """One pretraining and evaluation: a row of :func:`run_jobs`.

    Attributes:
        method: A method (see the module docstring).
        seed: Seed of its initial weights and batches.
        data: The splits it trains and is probed on.
        setup: How it is trained and evaluated.
    """

    method: str
    seed: int
    data: Splits
    setup: Setup


def run_jobs(jobs: Iterable[Job], workers: int = 1, progress: bool = False) -> list[dict[str, Any]]:
    """Run jobs that may differ in data and setup, serially or in one pool of processes.

    The pool of :func:`compare` for a whole study: every data draw of every seed, and a
    control experiment, go to the same ``workers`` processes, so that none waits for the
    slowest job of another draw, and the workers start once. Each job runs on one thread
    (torch and BLAS) and is seeded, so the rows are identical (bit for bit) whatever
    ``workers`` is and however the jobs are shared out. Where processes can be forked
    (Linux), the jobs reach the workers without pickling; elsewhere they must be picklable.
    Parallel jobs run on the CPU only.

    Args:
        jobs: The jobs; put the longest first, since the pool hands them out in this order.
        workers: Processes (1: in this process).
        progress: Show a progress bar over the jobs.

    Returns:
        One row per job, in the order of ``jobs``: see :func:`run_job`.

    Raises:
        ValueError: On an unknown method, ``workers < 1``, or ``workers > 1`` with a job
            whose device is not the CPU; before any job runs.
    """
    todo = list(jobs)
    if workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers}")
    for job in todo:  # fail before starting anything
        if job.method not in (*BASELINES, *OBJECTIVES):
            make_method(job.method, job.data, job.setup, 1)
        if workers > 1 and resolve_device(job.setup.train.device).type != "cpu":
            raise ValueError(
                "workers > 1 runs CPU jobs in forked processes; with a GPU "
                f"(device={job.setup.train.device!r}) use workers=1 or device='cpu'"
            )
    return parallel_map(_JobRunner(todo), range(len(todo)), workers, progress)


@dataclass(frozen=True)
class _JobRunner:
    """``run_jobs``'s job by index: the jobs reach forked workers once, not with each call."""

    jobs: list[Job]

    def __call__(self, index: int) -> dict[str, Any]:
        job = self.jobs[index]
        return run_job(job.method, job.seed, job.data, job.setup)


def compare(
    methods: Iterable[str],
    data: Splits,
    setup: Setup,
    seeds: Sequence[int],
    progress: bool = True,
    workers: int = 1,
) -> list[dict[str, Any]]:
    """Pretrain and evaluate every method with every seed, serially or in parallel processes.

    Every job runs on one thread (torch and BLAS), in this process (``workers=1``) or in one of
    ``workers`` processes; the jobs are independent and seeded, so the rows are identical
    (bit for bit) whatever ``workers`` is. Where processes can be forked (Linux), ``data``
    and ``setup`` reach the workers without pickling (a ``make_model`` closure works);
    elsewhere they must be picklable. Call from a ``if __name__ == "__main__":`` guard in
    scripts on platforms without fork. Parallel jobs run on the CPU only (a forked process
    cannot use a GPU its parent has initialised). :func:`run_jobs` runs jobs on several
    data draws or setups in one pool.

    Args:
        methods: Methods (see the module docstring).
        data: The splits.
        setup: Training and evaluation settings.
        seeds: Seeds of the trained methods.
        progress: Show a progress bar over the jobs.
        workers: Processes (1: in this process).

    Returns:
        One row per (method, seed), in the order methods x seeds: see :func:`run_job`.
        ``"raw"`` is deterministic and run once.
    """
    jobs = [Job(m, s, data, setup) for m in methods for s in (seeds[:1] if m == "raw" else seeds)]
    return run_jobs(jobs, workers, progress)


_MAPPED: dict[str, Callable[[Any], Any]] = {}


def _init_map(function: Callable[[Any], Any], parent: int) -> None:
    die_with_parent(parent)
    torch.set_num_threads(1)
    threadpool_limits(limits=1)
    _MAPPED["function"] = function


def _mapped_job(item: Any) -> Any:
    return _MAPPED["function"](item)


def parallel_map(
    function: Callable[[Any], Any], items: Iterable[Any], workers: int = 1, progress: bool = False
) -> list[Any]:
    """``[function(item) for item in items]``, in this process or in ``workers`` processes.

    The process pool of :func:`compare` for any job: every call runs on one thread (torch and
    BLAS), so seeded jobs give the same results (bit for bit) whatever ``workers`` is. Where
    processes can be forked (Linux), ``function`` reaches the workers without pickling (a
    closure works); the items and results are pickled. CPU only, as in :func:`compare`. The
    workers end with this process, even when it is killed
    (:func:`aligninfo.lifetime.die_with_parent`).

    Args:
        function: The job, called once per item.
        items: Its arguments (picklable when ``workers > 1``).
        workers: Processes (1: in this process).
        progress: Show a progress bar over the jobs.

    Returns:
        The results, in the order of ``items``.
    """
    if workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers}")
    jobs = list(items)
    bar = tqdm(total=len(jobs), desc="jobs", disable=not progress)
    if workers == 1 or len(jobs) < 2:
        out = []
        with one_thread(), bar:
            for item in jobs:
                out.append(function(item))
                bar.update()
        return out
    methods_available = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods_available else "spawn")
    if context.get_start_method() == "fork":
        # torch's optimisers import torch._dynamo on their first step (~1.5 s of CPU): once
        # here, and every forked worker inherits it, instead of once in each worker
        import torch._dynamo  # noqa: F401
    with (
        ProcessPoolExecutor(
            min(workers, len(jobs)),
            mp_context=context,
            initializer=_init_map,
            initargs=(function, os.getpid()),
        ) as pool,
        bar,
    ):
        futures = [pool.submit(_mapped_job, item) for item in jobs]
        for future in futures:
            future.add_done_callback(lambda _: bar.update())
        return [future.result() for future in futures]


def summarize(
    rows: Sequence[Mapping[str, Any]],
    metrics: Sequence[str],
) -> list[dict[str, Any]]:
    """Mean and standard deviation over seeds of each scalar metric, per method (in order).

    Returns:
        ``[{"method": m, "n": runs, metric: (mean, sd), ...}]``; sd is 0 for one run, and a
        metric that no run of a method has is ``(nan, nan)``.
    """
    methods = list(dict.fromkeys(r["method"] for r in rows))
    table = []
    for method in methods:
        group = [r for r in rows if r["method"] == method]
        entry: dict[str, Any] = {"method": method, "n": len(group)}
        for metric in metrics:
            values = np.array([r[metric] for r in group if metric in r], dtype=float)
            if len(values) == 0:
                entry[metric] = (float("nan"), float("nan"))
            else:
                sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
                entry[metric] = (float(values.mean()), sd)
        table.append(entry)
    return table


def markdown_table(
    summary: Sequence[Mapping[str, Any]], digits: int = 3, labels: Mapping[str, str] | None = None
) -> str:
    """Format :func:`summarize` output as a Markdown table of ``mean ± sd`` (``–``: no value)."""
    metrics = [k for k in summary[0] if k not in ("method", "n")]
    labels = dict(labels or {})
    head = ["method", "runs", *[labels.get(m, m) for m in metrics]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for entry in summary:
        cells = [entry["method"], str(entry["n"])]
        for m in metrics:
            mean, sd = entry[m]
            if np.isnan(mean):
                cells.append("–")
            else:
                cells.append(
                    f"{mean:.{digits}f} ± {sd:.{digits}f}"
                    if entry["n"] > 1
                    else f"{mean:.{digits}f}"
                )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _flat(x: np.ndarray) -> np.ndarray:
    """``(n, *shape)`` inputs as ``(n, features)`` float32."""
    return np.asarray(x, dtype=np.float32).reshape(len(x), -1)


def _fit_test(z: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Features to fit probes on (train + validation) and to score them on (test)."""
    return np.concatenate([z["train"], z["val"]]), z["test"]


def _inputs(split: Mapping[str, np.ndarray], method: str, setup: Setup) -> dict[str, Any]:
    """What the training loop sees: both modalities, plus the targets for the supervised one."""
    keys = ["x1", "x2"] + (list(set(setup.supervised.values())) if method == "supervised" else [])
    return {k: split[k] for k in keys}


def _embedding_dim(model: MultimodalEncoder, data: Splits, key: str | None = None) -> int:
    """Backbone output size of ``key`` (default: the first encoder), from two training samples.

    Runs in eval mode, so BatchNorm running statistics are not touched.
    """
    key = model.keys[0] if key is None else key
    with torch.no_grad(), eval_mode(model):
        x = torch.as_tensor(np.asarray(data.train[key][:2], dtype=np.float32))
        return int(model.encode(key, x).shape[1])
