"""The protocol of the experiment chapters: pretrain each method, freeze, probe, repeat over seeds.

::

    data = Splits(train={"x1": X1, "x2": X2, "y": y}, val={...}, test={...})
    setup = Setup(make_model=lambda: MultimodalEncoder({"x1": MLP(d1, k), "x2": MLP(d2, k)}),
                  targets={"y": "regression"}, supervised={"x1": "y", "x2": "y"})
    rows = compare(["raw", "random", "info_nce", "barlow_twins"], data, setup, seeds=[0, 1, 2])
    print(markdown_table(summarize(rows, ["y/z1", "y/z2", "y/joint", "top1"])))

A *method* is the name of an objective of :data:`aligninfo.losses.OBJECTIVES` or a baseline:
``"raw"`` (the inputs themselves), ``"random"`` (an untrained encoder) or ``"supervised"``
(each encoder trained to predict its target). Every trained method gets the same encoders, data,
epochs, batch size and learning rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from aligninfo.encoders import MultimodalEncoder
from aligninfo.losses import OBJECTIVES, Objective, make_objective
from aligninfo.probes import LogisticProbe, RidgeProbe, retrieval_accuracy, sigma_informativeness
from aligninfo.train import encode, fit

Task = Literal["regression", "classification"]
BASELINES = ("raw", "random", "supervised")
VIEWS = ("z1", "z2", "joint")


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
        epochs: Passes over the training split.
        batch_size: Samples per step.
        lr: AdamW learning rate.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        sigmas: Noise levels of the σ-informativeness curves.
        logistic_c: Fixed inverse regularisation of the classification probes (None:
            chosen by cross-validation, slower).
    """

    make_model: Callable[[], MultimodalEncoder]
    targets: Mapping[str, Task]
    supervised: Mapping[str, str] = field(default_factory=dict)
    objective_kwargs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    epochs: int = 20
    batch_size: int = 256
    lr: float = 1e-3
    device: str = "auto"
    sigmas: Sequence[float] = (0.0, 0.1, 0.3, 1.0, 3.0)
    logistic_c: float | None = None


class Supervised(Objective):
    """Each modality's encoder predicts its own target through a linear head (the baseline).

    Args:
        heads: ``{modality key: (target key, task, number of outputs)}``.
        dim: Embedding size of the encoders.
    """

    def __init__(self, heads: Mapping[str, tuple[str, Task, int]], dim: int) -> None:
        super().__init__()
        self.spec = dict(heads)
        self.heads = nn.ModuleDict({k: nn.Linear(dim, n) for k, (_, _, n) in self.spec.items()})

    def forward(self, model: MultimodalEncoder, batch: Mapping[str, Tensor]) -> Tensor:
        """Mean over modalities of the MSE (regression) or cross-entropy (classification)."""
        losses = []
        for key, (target, task, _) in self.spec.items():
            out = self.heads[key](model.encode(key, batch[key])).float()
            y = batch[target]
            if task == "classification":
                losses.append(F.cross_entropy(out, y.long()))
            else:
                losses.append(F.mse_loss(out, y.float().reshape(out.shape)))
        return torch.stack(losses).mean()


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


def representations(method: str, data: Splits, setup: Setup, seed: int) -> dict[str, Any]:
    """Pretrain ``method`` with ``seed`` and return the frozen features of every split.

    Returns:
        ``{"z1": {split: (n, k)}, "z2": {...}, "model": the encoders (None for raw),
        "history": History | None, "seconds": float}``.
    """
    start = time.perf_counter()
    splits = {"train": data.train, "val": data.val, "test": data.test}
    if method == "raw":
        z = {v: {s: _flat(d["x" + v[1]]) for s, d in splits.items()} for v in ("z1", "z2")}
        return {**z, "model": None, "history": None, "seconds": time.perf_counter() - start}
    torch.manual_seed(seed)
    model = setup.make_model()
    history = None
    if method != "random":
        dim = _embedding_dim(model, data)
        objective = make_method(method, data, setup, dim)
        history = fit(model, objective, _inputs(data.train, method, setup),
                      val=_inputs(data.val, method, setup), epochs=setup.epochs,
                      batch_size=setup.batch_size, lr=setup.lr, seed=seed, device=setup.device,
                      progress=False)
    z = {v: {s: encode(model, d["x" + v[1]], "x" + v[1]) for s, d in splits.items()}
         for v in ("z1", "z2")}
    return {**z, "model": model, "history": history, "seconds": time.perf_counter() - start}


def evaluate(z: Mapping[str, Mapping[str, np.ndarray]], data: Splits, setup: Setup,
             ) -> dict[str, Any]:
    """Probe frozen features: each target from ``z1``, ``z2`` and both, retrieval, σ-curves.

    Probes fit on train + validation and score on test: R² for regression, accuracy for
    classes. σ-informativeness curves (regression targets) use the same convention as
    :meth:`aligninfo.gaussian.GaussianModel.sigma_informativeness`.

    Returns:
        Flat metrics: ``"<target>/<view>"`` scores; for classes also
        ``"<target>/<view>/balanced"`` (mean per-class accuracy) and
        ``"<target>/<view>/per_class"`` arrays; ``"top1"``, ``"top5"`` (z1 queries, z2 keys, on
        the test split; only when both have the same size); ``"sigma/<target>/<view>"`` arrays
        over ``setup.sigmas``.
    """
    feats = {v: _fit_test(z[v]) for v in ("z1", "z2")}
    (f1, t1), (f2, t2) = feats["z1"], feats["z2"]
    feats["joint"] = (np.hstack([f1, f2]), np.hstack([t1, t2]))
    targets = {t: (np.concatenate([data.train[t], data.val[t]]), data.test[t])
               for t in setup.targets}
    out: dict[str, Any] = {}
    for target, task in setup.targets.items():
        y_fit, y_test = targets[target]
        for view, (f_fit, f_test) in feats.items():
            name = f"{target}/{view}"
            if task == "classification":
                probe = LogisticProbe(c=setup.logistic_c).fit(f_fit, y_fit)
                out[name] = probe.score(f_test, y_test)
                out[name + "/per_class"] = per_class_accuracy(y_test, probe.predict(f_test))
                out[name + "/balanced"] = float(out[name + "/per_class"].mean())
            else:
                out[name] = RidgeProbe().fit(f_fit, y_fit).score(f_test, y_test)
                out[f"sigma/{name}"] = sigma_informativeness(
                    f_fit, y_fit, setup.sigmas, f_test, y_test)
    if feats["z1"][1].shape == feats["z2"][1].shape:
        top = retrieval_accuracy(feats["z1"][1], feats["z2"][1], ks=(1, 5))
        out["top1"], out["top5"] = top[1], top[5]
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


def compare(methods: Iterable[str], data: Splits, setup: Setup, seeds: Sequence[int],
            progress: bool = True) -> list[dict[str, Any]]:
    """Pretrain and evaluate every method with every seed.

    Returns:
        One row per (method, seed): ``method``, ``seed``, ``seconds``, ``history`` and the
        metrics of :func:`evaluate`. ``"raw"`` is deterministic and run once.
    """
    jobs = [(m, s) for m in methods for s in (seeds[:1] if m == "raw" else seeds)]
    rows = []
    for method, seed in tqdm(jobs, desc="methods x seeds", disable=not progress):
        rep = representations(method, data, setup, seed)
        rows.append({"method": method, "seed": seed, "seconds": rep["seconds"],
                     "history": rep["history"], **evaluate(rep, data, setup)})
    return rows


def summarize(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str],
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


def markdown_table(summary: Sequence[Mapping[str, Any]], digits: int = 3,
                   labels: Mapping[str, str] | None = None) -> str:
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
                cells.append(f"{mean:.{digits}f} ± {sd:.{digits}f}" if entry["n"] > 1
                             else f"{mean:.{digits}f}")
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


def _embedding_dim(model: MultimodalEncoder, data: Splits) -> int:
    """Output size of the first encoder, from a forward pass on two training samples."""
    key = model.keys[0]
    with torch.no_grad():
        x = torch.as_tensor(np.asarray(data.train[key][:2], dtype=np.float32))
        return int(model.encode(key, x).shape[1])
