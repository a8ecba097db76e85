"""Alignment objectives: pure loss functions on embeddings, and the objectives the loop trains.

Two layers, one loss per place:

1. **Pure functions** on ``(batch, dim)`` tensors returning a scalar: :func:`info_nce`,
   :func:`cca`, :func:`barlow_twins`, :func:`vicreg`, :func:`decur`, :func:`nt_xent`,
   :func:`reconstruction`, :func:`comm`, :func:`cross_prediction`. They validate their inputs
   (``ValueError`` naming the problem: shape mismatch, batch of one, NaN or Inf, non-positive
   temperature), compute in float32 even under autocast, and know nothing about models.

2. **Objectives**, small ``nn.Module`` s with one calling convention, so one training loop
   serves them all::

       objective = OBJECTIVES[name](**hyperparameters)     # or make_objective(name, ...)
       loss = objective(model, batch)                       # scalar tensor

   where ``model`` is an :class:`aligninfo.encoders.MultimodalEncoder` (``encode(key, x)``,
   ``embed(key, x)``, ``project(key, h)``, ``decode(key, h)``, ``fuse({key: h or None})``) and
   ``batch`` a mapping from modality key (``"x1"``, ``"x2"``) to a ``(batch, *in_shape)``
   tensor; other keys (``"y"``) are ignored. An objective embeds what it needs (clean inputs,
   augmented views, masked modalities) and applies the pure functions. Objectives with state
   (a learnable temperature) hold it as parameters, which the training loop optimises and
   checkpoints with the model's.

Where the losses act: every self-supervised objective computes its loss on the *projected*
embedding ``model.embed(key, x)`` (the projection head above the backbone, the identity when
the model has none), as SimCLR, Barlow Twins, VICReg, DeCUR and CoMM do; reconstruction decodes
from the backbone ``model.encode(key, x)``; CoMM contrasts ``model.project(FUSED, fused)``;
cross-prediction reads the projected embedding of one modality and predicts the other's raw
input. Probes read the backbone by default (:mod:`aligninfo.experiment`).

Under a process group of several processes (``torchrun``, :mod:`aligninfo.distributed`), an
objective in training mode gathers the embeddings its loss compares from every process, with
gradients, so that negatives and batch statistics span the global batch; per-sample terms
(reconstruction) stay local. Without such a group nothing changes.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ParamSpec

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aligninfo import distributed
from aligninfo.augment import Augment, default_augment
from aligninfo.encoders import FUSED, MultimodalEncoder

__all__ = [
    "OBJECTIVES",
    "CCA",
    "BarlowTwins",
    "CoMM",
    "CrossPrediction",
    "DeCUR",
    "InfoNCE",
    "LearnableTemperature",
    "Objective",
    "Reconstruction",
    "SimCLR",
    "VICReg",
    "WeightedSum",
    "barlow_twins",
    "cca",
    "comm",
    "cross_prediction",
    "cross_recon",
    "cross_self",
    "decur",
    "finite_checks",
    "info_nce",
    "learned_temperatures",
    "make_objective",
    "nt_xent",
    "reconstruction",
    "vicreg",
]

P = ParamSpec("P")
_CHECK_FINITE = True


# --------------------------------------------------------------------------- validation


@contextlib.contextmanager
def finite_checks(enabled: bool) -> Iterator[None]:
    """Switch the NaN / Inf checks of the loss functions on or off within a block.

    Each check reads a value back from the device; on CUDA that synchronises every step, so the
    training loop turns them off there and checks the loss value itself when it logs.

    Args:
        enabled: Whether the checks run.

    Yields:
        Nothing.
    """
    global _CHECK_FINITE
    previous, _CHECK_FINITE = _CHECK_FINITE, enabled
    try:
        yield
    finally:
        _CHECK_FINITE = previous


def _check_finite(**tensors: Tensor) -> None:
    """Raise ``ValueError`` naming the first tensor with a NaN or an infinite entry.

    A finite sum proves finite entries (a NaN makes the sum NaN, an infinity makes it infinite
    or NaN), so one reduction per tensor and one read-back settle the usual case; only a sum
    that is not finite (a bad entry, or finite entries whose sum overflows) is looked at
    entry by entry.
    """
    if not _CHECK_FINITE or math.isfinite(sum(float(t.detach().sum()) for t in tensors.values())):
        return
    for name, t in tensors.items():
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} contains NaN or Inf")


def _check_pair(z1: Tensor, z2: Tensor, min_batch: int = 2) -> None:
    if z1.dim() != 2 or z2.dim() != 2:
        raise ValueError(
            f"expected (batch, dim) embeddings, got shapes {tuple(z1.shape)} and {tuple(z2.shape)}"
        )
    if z1.shape != z2.shape:
        raise ValueError(f"shape mismatch: {tuple(z1.shape)} vs {tuple(z2.shape)}")
    if z1.shape[0] < min_batch:
        raise ValueError(f"batch of {z1.shape[0]}: the loss needs at least {min_batch} samples")
    if z1.shape[1] < 1:
        raise ValueError("embeddings have dimension 0")
    _check_finite(z1=z1, z2=z2)


def _check_temperature(temperature: float | Tensor) -> None:
    if isinstance(temperature, Tensor):
        if not _CHECK_FINITE:
            return
        if temperature.numel() == 1:  # a learnt temperature: one read-back, compared here
            ok = 0 < temperature.item() < math.inf
        else:
            ok = bool((temperature > 0).all() & torch.isfinite(temperature).all())
        if not ok:
            raise ValueError("temperature must be positive and finite")
    elif not 0 < temperature < math.inf:  # also rejects NaN
        raise ValueError(f"temperature must be positive and finite, got {temperature}")


def _full_precision(fn: Callable[P, Tensor]) -> Callable[P, Tensor]:
    """Run ``fn`` with autocast disabled (its inputs are cast to float32 inside)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Tensor:
        active = [d for d in ("cuda", "cpu") if torch.is_autocast_enabled(d)]
        with contextlib.ExitStack() as stack:
            for device_type in active:
                stack.enter_context(torch.autocast(device_type, enabled=False))
            return fn(*args, **kwargs)

    return wrapper


# --------------------------------------------------------------------------- helpers


def _standardize(z: Tensor, eps: float) -> Tensor:
    """Centre each column and scale it to unit (biased) variance. ``(n, d) -> (n, d)``."""
    centred = z - z.mean(dim=0)
    return centred / torch.sqrt(centred.pow(2).mean(dim=0) + eps)


def _cross_correlation(z1: Tensor, z2: Tensor, eps: float) -> Tensor:
    """Cross-correlation matrix of the columns of ``z1`` and ``z2``. ``(n, d) x2 -> (d, d)``."""
    return _standardize(z1, eps).T @ _standardize(z2, eps) / z1.shape[0]


def _covariance(a: Tensor, b: Tensor) -> Tensor:
    """Unbiased cross-covariance of the columns. ``(n, d) x2 -> (d, d)``."""
    return (a - a.mean(dim=0)).T @ (b - b.mean(dim=0)) / (a.shape[0] - 1)


def _off_diagonal_sq(c: Tensor) -> Tensor:
    """Sum of the squared off-diagonal entries of a square matrix."""
    return c.pow(2).sum() - torch.diagonal(c).pow(2).sum()


def _scaled(similarities: Tensor, temperature: float | Tensor) -> Tensor:
    """``similarities / temperature``, dividing in place when the temperature is a number.

    A fixed temperature needs nothing saved for the backward pass, so the quotient can
    overwrite the freshly computed similarities; a tensor temperature (learnt) divides out of
    place, as autograd needs the similarities for its gradient. The values are the same.
    """
    if isinstance(temperature, Tensor):
        return similarities / temperature
    return similarities.div_(temperature)


# --------------------------------------------------------------------------- pure losses


@_full_precision
def info_nce(
    z1: Tensor, z2: Tensor, temperature: float | Tensor = 0.1, normalize: bool = True
) -> Tensor:
    """Symmetric InfoNCE (the CLIP loss) between paired embeddings of two modalities.

    Logits ``s_ij = <z1_i, z2_j> / temperature`` (cosine similarities when ``normalize``); the
    loss is the mean of the cross-entropies of both directions, each averaged over the batch,
    with the pair ``(i, i)`` as the positive. It lies in ``[0, ...)`` and equals ``log(batch)``
    when all similarities are equal; ``log(batch) - loss`` lower-bounds the mutual information.

    References: van den Oord et al. 2018 (CPC, arXiv:1807.03748); Radford et al. 2021 (CLIP,
    arXiv:2103.00020).

    Args:
        z1: ``(batch, dim)`` embeddings of modality 1.
        z2: ``(batch, dim)`` embeddings of modality 2, row ``i`` paired with ``z1[i]``.
        temperature: Positive float, or a positive 0-dim tensor (learnable temperature).
        normalize: L2-normalise the embeddings first (cosine similarity); else dot product.

    Returns:
        Scalar loss.
    """
    _check_pair(z1, z2)
    _check_temperature(temperature)
    z1, z2 = z1.float(), z2.float()
    if normalize:
        z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    logits = _scaled(z1 @ z2.T, temperature)
    labels = torch.arange(z1.shape[0], device=z1.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


@_full_precision
def nt_xent(
    za: Tensor, zb: Tensor, temperature: float | Tensor = 0.5, normalize: bool = True
) -> Tensor:
    """NT-Xent, the SimCLR loss, between two augmented views of the same samples.

    The ``2 * batch`` embeddings are pooled; each one's positive is the other view of its sample,
    its negatives the ``2 * batch - 2`` other embeddings. Mean cross-entropy over all of them.

    Reference: Chen et al. 2020, "A simple framework for contrastive learning of visual
    representations" (SimCLR), ICML (arXiv:2002.05709).

    Args:
        za: ``(batch, dim)`` embeddings of view a.
        zb: ``(batch, dim)`` embeddings of view b, row ``i`` the other view of ``za[i]``.
        temperature: Positive float or 0-dim tensor.
        normalize: L2-normalise first (cosine similarity).

    Returns:
        Scalar loss.
    """
    _check_pair(za, zb)
    _check_temperature(temperature)
    z = torch.cat([za.float(), zb.float()])
    if normalize:
        z = F.normalize(z, dim=1)
    n = za.shape[0]
    logits = _scaled(z @ z.T, temperature)
    # Excluding the self-pairs writes the 2n diagonal entries in place, not a masked copy of
    # the (2n, 2n) logits (in either pass): the same values and gradients, a quarter less time.
    logits.fill_diagonal_(-math.inf)
    index = torch.arange(n, device=z.device)
    return F.cross_entropy(logits, torch.cat([index + n, index]))


@_full_precision
def cca(z1: Tensor, z2: Tensor, penalty: float = 1.0) -> Tensor:
    """Soft linear CCA: maximise the cross-covariance under a whitening penalty.

    ``loss = -tr(C12) / d + penalty * (||C11 - I||_F^2 + ||C22 - I||_F^2) / d`` with ``C`` the
    unbiased (cross-)covariances of the embeddings. Under the exact constraint ``C11 = C22 = I``
    the minimum is minus the mean of the top ``d`` canonical correlations (Hotelling 1936); the
    penalty relaxes the constraint (cf. the soft decorrelation of Chang et al. 2018, CVPR,
    arXiv:1707.09669), so
    at the optimum a pair of canonical variates with correlation ``rho`` has variance
    ``1 + rho / (4 penalty)`` rather than 1. ``-1`` for identical whitened embeddings.

    Args:
        z1: ``(batch, dim)`` embeddings of modality 1.
        z2: ``(batch, dim)`` embeddings of modality 2.
        penalty: Weight of the whitening penalty, > 0.

    Returns:
        Scalar loss.
    """
    _check_pair(z1, z2)
    if not penalty > 0:
        raise ValueError(f"penalty must be positive, got {penalty}")
    z1, z2 = z1.float(), z2.float()
    d = z1.shape[1]
    eye = torch.eye(d, device=z1.device)
    whitening = (_covariance(z1, z1) - eye).pow(2).sum() + (_covariance(z2, z2) - eye).pow(2).sum()
    return (-torch.trace(_covariance(z1, z2)) + penalty * whitening) / d


@_full_precision
def barlow_twins(z1: Tensor, z2: Tensor, lambd: float = 5e-3, eps: float = 1e-5) -> Tensor:
    """Barlow Twins across modalities: cross-correlation matrix pushed to the identity.

    ``C = std(z1)^T std(z2) / batch`` (columns standardised over the batch);
    ``loss = sum_i (1 - C_ii)^2 + lambd * sum_{i != j} C_ij^2``. Zero for identical embeddings
    with uncorrelated columns.

    Reference: Zbontar et al. 2021, "Barlow Twins: self-supervised learning via redundancy
    reduction", ICML (arXiv:2103.03230).

    Args:
        z1: ``(batch, dim)``.
        z2: ``(batch, dim)``.
        lambd: Weight of the redundancy (off-diagonal) term, >= 0.
        eps: Added to the variances before standardising.

    Returns:
        Scalar loss.
    """
    _check_pair(z1, z2)
    c = _cross_correlation(z1.float(), z2.float(), eps)
    return (1 - torch.diagonal(c)).pow(2).sum() + lambd * _off_diagonal_sq(c)


@_full_precision
def vicreg(
    z1: Tensor,
    z2: Tensor,
    sim_weight: float = 25.0,
    var_weight: float = 25.0,
    cov_weight: float = 1.0,
    gamma: float = 1.0,
    eps: float = 1e-4,
) -> Tensor:
    """VICReg: invariance + variance + covariance regularisation, here across modalities.

    ``sim_weight * mean((z1 - z2)^2)``
    ``+ var_weight * (v(z1) + v(z2)) / 2`` with ``v(z) = mean_j relu(gamma - sqrt(Var z_j + eps))``
    ``+ cov_weight * (c(z1) + c(z2))`` with ``c(z)`` the sum of squared off-diagonal entries of
    the unbiased covariance of ``z`` divided by ``dim``.

    Reference: Bardes, Ponce, LeCun 2022, "VICReg: variance-invariance-covariance
    regularization for self-supervised learning", ICLR (arXiv:2105.04906).

    Args:
        z1: ``(batch, dim)``.
        z2: ``(batch, dim)``.
        sim_weight: Weight of the invariance term.
        var_weight: Weight of the variance hinge.
        cov_weight: Weight of the covariance term.
        gamma: Target standard deviation of each dimension.
        eps: Added to the variances under the square root.

    Returns:
        Scalar loss.
    """
    _check_pair(z1, z2)
    z1, z2 = z1.float(), z2.float()
    d = z1.shape[1]

    def variance(z: Tensor) -> Tensor:
        return F.relu(gamma - torch.sqrt(z.var(dim=0) + eps)).mean()

    def covariance(z: Tensor) -> Tensor:
        return _off_diagonal_sq(_covariance(z, z)) / d

    return (
        sim_weight * F.mse_loss(z1, z2)
        + var_weight * (variance(z1) + variance(z2)) / 2
        + cov_weight * (covariance(z1) + covariance(z2))
    )


@_full_precision
def decur(z1: Tensor, z2: Tensor, n_common: int, lambd: float = 5e-3, eps: float = 1e-5) -> Tensor:
    """DeCUR's cross-modal term: a common block aligned, a unique block decorrelated.

    With ``C`` the cross-correlation matrix of :func:`barlow_twins`, the first ``n_common``
    dimensions are the common block ``Cc = C[:k, :k]`` and the rest the unique block
    ``Cu = C[k:, k:]``; ``L_c = sum (1 - diag Cc)^2 + lambd * offdiag(Cc)^2`` and
    ``L_u = sum diag(Cu)^2 + lambd * offdiag(Cu)^2``, and the term is their mean
    ``(L_c + L_u) / 2``, the weight DeCUR gives it next to its two intra-modal Barlow Twins
    terms (:class:`DeCUR`), which keep the unique block informative. With every dimension
    common it is half the cross-modal Barlow Twins loss.

    Reference: Wang, Albrecht, Braham, Liu, Zhu 2024, "Decoupling common and unique
    representations for multimodal self-supervised learning" (DeCUR), ECCV
    (arXiv:2309.05300).

    Args:
        z1: ``(batch, dim)``.
        z2: ``(batch, dim)``.
        n_common: Size of the common block, ``0 <= n_common <= dim``.
        lambd: Weight of the off-diagonal terms.
        eps: Added to the variances before standardising.

    Returns:
        Scalar loss.
    """
    _check_pair(z1, z2)
    if not 0 <= n_common <= z1.shape[1]:
        raise ValueError(f"n_common must be in [0, {z1.shape[1]}], got {n_common}")
    c = _cross_correlation(z1.float(), z2.float(), eps)
    common, unique = c[:n_common, :n_common], c[n_common:, n_common:]
    loss_common = (1 - torch.diagonal(common)).pow(2).sum() + lambd * _off_diagonal_sq(common)
    loss_unique = torch.diagonal(unique).pow(2).sum() + lambd * _off_diagonal_sq(unique)
    return (loss_common + loss_unique) / 2


@_full_precision
def reconstruction(x_hat: Tensor, x: Tensor) -> Tensor:
    """Mean squared reconstruction error (autoencoder term).

    Args:
        x_hat: ``(batch, *shape)`` reconstruction.
        x: ``(batch, *shape)`` target.

    Returns:
        Scalar: the mean over all entries of ``(x_hat - x)^2``.
    """
    if x_hat.shape != x.shape:
        raise ValueError(f"shape mismatch: {tuple(x_hat.shape)} vs {tuple(x.shape)}")
    if x.dim() < 2 or x.shape[0] < 1:
        raise ValueError(f"expected (batch, ...) with batch >= 1, got {tuple(x.shape)}")
    _check_finite(x_hat=x_hat, x=x)
    return F.mse_loss(x_hat.float(), x.float())


@_full_precision
def cross_prediction(z: Tensor, target: Tensor, ridge: float = 1e-4) -> Tensor:
    """Cross-modal prediction: what the best linear readout of ``z`` misses of ``target``.

    Both are centred over the batch; ``B`` is the least-squares map from ``z`` to ``target``
    (solved in the batch, ridge ``ridge * tr(Czz) / dim`` on its normal equations, so the
    decoder is profiled out and its gradient flows to the encoder), and the loss is the mean
    over the target's columns of the residual variance ``mean((target - z B)^2)``. Minimised
    over linear encoders of size k it is reduced-rank regression of the target on the encoded
    modality (Izenman 1975), the "cross-prediction" of Kamai et al. 2026 (arXiv:2606.11190).
    It is invariant under any invertible linear map of ``z`` (up to the ridge), and 0 when the
    target is a linear function of ``z``.

    Args:
        z: ``(batch, dim)`` embedding of the source modality.
        target: ``(batch, *shape)`` the other modality (flattened to ``(batch, p)``).
        ridge: Relative ridge, >= 0.

    Returns:
        Scalar loss.
    """
    if z.dim() != 2 or target.dim() < 2 or target.shape[0] != z.shape[0]:
        raise ValueError(
            f"expected (batch, dim) and (batch, ...) with one batch size, got shapes "
            f"{tuple(z.shape)} and {tuple(target.shape)}"
        )
    if z.shape[0] < 2:
        raise ValueError(f"batch of {z.shape[0]}: the loss needs at least 2 samples")
    if not 0 <= ridge < math.inf:
        raise ValueError(f"ridge must be finite and >= 0, got {ridge}")
    _check_finite(z=z, target=target)
    zc = z.float() - z.float().mean(dim=0)
    flat = target.float().reshape(target.shape[0], -1)
    tc = flat - flat.mean(dim=0)
    n, d = zc.shape
    czz, czt = zc.T @ zc / n, zc.T @ tc / n
    shift = ridge * torch.trace(czz) / d + torch.finfo(czz.dtype).tiny
    b = torch.linalg.solve(czz + shift * torch.eye(d, device=z.device), czt)
    return (tc - zc @ b).pow(2).mean()


def comm(
    za: Tensor,
    zb: Tensor,
    unimodal_a: Sequence[Tensor],
    unimodal_b: Sequence[Tensor],
    temperature: float | Tensor = 0.1,
) -> Tensor:
    """CoMM's objective: NT-Xent between multimodal and unimodal fused embeddings, averaged.

    ``za``, ``zb`` are the (projected) fused embeddings of two augmented views of all
    modalities; ``unimodal_a[i]``, ``unimodal_b[i]`` those of the same two views with every
    modality but ``i`` masked. Each of the ``M + 1`` terms (one per modality, and the
    multimodal one) is ``(nt_xent(u_a, zb) + nt_xent(u_b, za)) / 2`` (for the multimodal term
    ``u = z``), and the loss is their mean. :func:`nt_xent` takes its negatives within and
    across the two views, as CoMM's NT-Xent does.

    Reference: Dufumier, Castillo-Navetty, Thiran, Hartmann 2025, "What to align in multimodal
    contrastive learning?" (CoMM), ICLR (arXiv:2409.07402).

    Args:
        za: ``(batch, dim)`` fused embedding of view a.
        zb: ``(batch, dim)`` fused embedding of view b.
        unimodal_a: ``(batch, dim)`` per modality: view a, the other modalities masked.
        unimodal_b: ``(batch, dim)`` per modality: view b, the other modalities masked.
        temperature: Positive float or 0-dim tensor.

    Returns:
        Scalar loss.
    """
    if len(unimodal_a) != len(unimodal_b):
        raise ValueError(
            f"unimodal_a and unimodal_b must have one entry per modality each, got "
            f"{len(unimodal_a)} and {len(unimodal_b)}"
        )
    pairs = [*zip(unimodal_a, unimodal_b, strict=True), (za, zb)]
    terms = [(nt_xent(ua, zb, temperature) + nt_xent(ub, za, temperature)) / 2 for ua, ub in pairs]
    return torch.stack(terms).mean()


# --------------------------------------------------------------------------- objectives

Batch = Mapping[str, Tensor]
AugmentSpec = Augment | Mapping[str, Augment] | None


class LearnableTemperature(nn.Module):
    """A temperature learned through its log inverse, as in CLIP, floored at ``minimum``.

    Args:
        init: Initial temperature, > 0.
        minimum: Smallest temperature reachable (CLIP: 0.01).
    """

    def __init__(self, init: float = 0.07, minimum: float = 0.01) -> None:
        super().__init__()
        if not 0 < minimum <= init:
            raise ValueError(f"need 0 < minimum <= init, got init={init}, minimum={minimum}")
        self.log_inverse = nn.Parameter(torch.tensor(-math.log(init)))
        self.max_log_inverse = -math.log(minimum)

    def forward(self) -> Tensor:
        """Return the current temperature, a 0-dim tensor."""
        return torch.exp(-self.log_inverse.clamp(max=self.max_log_inverse))


class Objective(nn.Module):
    """Base class: ``objective(model, batch) -> scalar loss`` (see the module docstring)."""

    def forward(self, model: MultimodalEncoder, batch: Batch) -> Tensor:
        """Compute the loss of ``model`` on ``batch``.

        Args:
            model: The encoders (and decoders / fusion head) being trained.
            batch: ``(batch, *in_shape)`` tensor per modality key.

        Returns:
            Scalar loss.
        """
        raise NotImplementedError


class _CrossModal(Objective):
    """An objective on the embeddings of the two modalities ``keys`` of clean inputs."""

    def __init__(self, keys: tuple[str, str] = ("x1", "x2")) -> None:
        super().__init__()
        self.keys = keys

    def embed(self, model: MultimodalEncoder, batch: Batch) -> tuple[Tensor, Tensor]:
        """Projected embeddings ``(batch, dim)`` of the two modalities (where the loss acts).

        In training mode under a process group of several processes they are gathered over
        the global batch (:func:`aligninfo.distributed.gather`), so that negatives and batch
        statistics span every process.
        """
        k1, k2 = self.keys
        z1, z2 = distributed.gather(
            self.training, model.embed(k1, batch[k1]), model.embed(k2, batch[k2])
        )
        return z1, z2


def _augmenter(augment: AugmentSpec, key: str) -> Augment:
    if augment is None:
        return default_augment()
    if isinstance(augment, Mapping):
        return augment[key]
    return augment


DEFAULT_TEMPERATURE = 0.1
"""Initial temperature of a learnable InfoNCE temperature, and the fixed one of CoMM."""


def _learnable(temperature: float | None, learnable: bool | None) -> tuple[float, bool]:
    """Resolve the temperature arguments: learnable unless a temperature is given alone."""
    if learnable is None:
        learnable = temperature is None
    return (DEFAULT_TEMPERATURE if temperature is None else temperature), learnable


class InfoNCE(_CrossModal):
    """Cross-modal symmetric InfoNCE / CLIP (:func:`info_nce`), temperature learnt by default.

    The temperature is learnt (:class:`LearnableTemperature`, from 0.1, as CLIP does) unless a
    temperature is given without ``learnable``: ``InfoNCE()`` learns it,
    ``InfoNCE(temperature=0.2)`` keeps 0.2 fixed, ``InfoNCE(0.2, learnable=True)`` learns it
    from 0.2. :attr:`temperature` is its current value (:func:`learned_temperatures` collects
    the learnt ones of an objective after training).

    Args:
        temperature: Fixed temperature, or the initial one when learnt (None: 0.1).
        normalize: Cosine (True) or dot-product (False) similarity.
        learnable: Learn the temperature (None: learn it unless ``temperature`` is given).
        keys: The two modality keys.
    """

    def __init__(
        self,
        temperature: float | None = None,
        normalize: bool = True,
        learnable: bool | None = None,
        keys: tuple[str, str] = ("x1", "x2"),
    ) -> None:
        super().__init__(keys)
        init, learn = _learnable(temperature, learnable)
        _check_temperature(init)
        self.normalize, self.fixed_temperature = normalize, init
        self.learnable_temperature = LearnableTemperature(init, min(0.01, init)) if learn else None

    @property
    def temperature(self) -> float:
        """The current temperature (the learnt value when it is learnt)."""
        if self.learnable_temperature is None:
            return self.fixed_temperature
        return float(self.learnable_temperature().detach())

    def forward(self, model: MultimodalEncoder, batch: Batch) -> Tensor:
        """See :meth:`Objective.forward`."""
        t = self.learnable_temperature
        return info_nce(
            *self.embed(model, batch), self.fixed_temperature if t is None else t(), self.normalize
        )


class CCA(_CrossModal):
    """Soft linear CCA across modalities (:func:`cca`).

    Args:
        penalty: Weight of the whitening penalty.
        keys: The two modality keys.
    """

    def __init__(self, penalty: float = 1.0, keys: tuple[str, str] = ("x1", "x2")) -> None:
        super().__init__(keys)
        self.penalty = penalty

    def forward(self, model: MultimodalEncoder, batch: Batch) -> Tensor:
        """See :meth:`Objective.forward`."""
        return cca(*self.embed(model, batch), self.penalty)


class BarlowTwins(_CrossModal):
    """Barlow Twins across modalities (:func:`barlow_twins`).

    Args:
        lambd: Weight of the off-diagonal term.
        keys: The two modality keys.
    """

    def __init__(self, lambd: float = 5e-3, keys: tuple[str, str] = ("x1", "x2")) -> None:
        super().__init__(keys)
        self.lambd = lambd

    def forward(self, model: MultimodalEncoder, batch: Batch) -> Tensor:
        """See :meth:`Objective.forward`."""
        return barlow_twins(*self.embed(model, batch), self.lambd)


class VICReg(_CrossModal):
    """VICReg across modalities (:func:`vicreg`).

    Args:
        sim_weight: Invariance weight.
        var_weight: Variance weight.
        cov_weight: Covariance weight.
        keys: The two modality keys.
    """

    def __init__(
        self,
        sim_weight: float = 25.0,
        var_weight: float = 25.0,
        cov_weight: float = 1.0,
        keys: tuple[str, str] = ("x1", "x2"),
    ) -> None:
        super().__init__(keys)
        self.weights = (sim_weight, var_weight, cov_weight)

    def forward(self, model: MultimodalEncoder, batch: Batch) -> Tensor:
        """See :meth:`Objective.forward`."""
        return vicreg(*self.embed(model, batch), *self.weights)


class DeCUR(_CrossModal):
    """DeCUR: cross-modal common/unique split plus intra-modal Barlow Twins on augmented views.

    ``decur(g1(a1), g2(a2), n_common) + intra_weight * sum_m barlow_twins(gm(am), gm(bm))`` with
    ``am``, ``bm`` two augmentations of modality ``m`` and ``gm`` its projected embedding
    (``model.embed``). With ``intra_weight = 1`` this is DeCUR's loss: the two intra-modal
    terms plus the mean of the common and unique cross-modal terms (:func:`decur`), the
    cross-modal term on the first view of each modality.

    Args:
        n_common: Size of the common block of the embedding (the first ``n_common`` dims).
        lambd: Off-diagonal weight in every term.
        intra_weight: Weight of the intra-modal terms.
        augment: One augmentation for both modalities, one per key, or None for
            :func:`aligninfo.augment.default_augment`.
        keys: The two modality keys.
    """

    def __init__(
        self,
        n_common: int,
        lambd: float = 5e-3,
        intra_weight: float = 1.0,
        augment: AugmentSpec = None,
        keys: tuple[str, str] = ("x1", "x2"),
    ) -> None:
        super().__init__(keys)
        self.n_common, self.lambd, self.intra_weight = n_common, lambd, intra_weight
        self.augment = {k: _augmenter(augment, k) for k in keys}

    def forward(self, model: MultimodalEncoder, batch: Batch) -> Tensor:
        """See :meth:`Objective.forward`."""
        views = {
            k: (model.embed(k, aug(batch[k])), model.embed(k, aug(batch[k])))
            for k, aug in self.augment.items()
        }
        gathered = {k: distributed.gather(self.training, *pair) for k, pair in views.items()}
        k1, k2 = self.keys
        intra = sum(barlow_twins(za, zb, self.lambd) for za, zb in gathered.values())
        cross = decur(gathered[k1][0], gathered[k2][0], self.n_common, self.lambd)
        return cross + self.intra_weight * intra


class SimCLR(Objective):
    """Intra-modal SimCLR on each modality, averaged (the unimodal SSL baseline).

    Args:
        temperature: NT-Xent temperature.
        augment: One augmentation, one per key, or None for the default.
        keys: Modalities to train (default: all of the model's).
    """

    def __init__(
        self,
        temperature: float = 0.5,
        augment: AugmentSpec = None,
        keys: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        _check_temperature(temperature)
        self.temperature, self.augment_spec, self.keys = temperature, augment, keys

    def forward(self, model: MultimodalEncoder, batch: Batch) -> Tensor:
        """See :meth:`Objective.forward`."""
        losses = []
        for k in self.keys or model.keys:
            aug = _augmenter(self.augment_spec, k)
            za, zb = model.embed(k, aug(batch[k])), model.embed(k, aug(batch[k]))
            za, zb = distributed.gather(self.training, za, zb)  # negatives: the global batch
            losses.append(nt_xent(za, zb, self.temperature))
        return torch.stack(losses).mean()


class Reconstruction(Objective):
    """Autoencoding of each modality through its backbone representation, averaged.

    The decoder reads ``model.encode`` (the backbone), not the projection head.

    Args:
        keys: Modalities to reconstruct (default: all of the model's).
    """

    def __init__(self, keys: Sequence[str] | None = None) -> None:
        super().__init__()
        self.keys = keys

    def forward(self, model: MultimodalEncoder, batch: Batch) -> Tensor:
        """See :meth:`Objective.forward`."""
        losses = [
            reconstruction(model.decode(k, model.encode(k, batch[k])), batch[k])
            for k in self.keys or model.keys
        ]
        return torch.stack(losses).mean()


class CoMM(Objective):
    """CoMM: contrast fused embeddings of augmented multimodal and unimodal views (:func:`comm`).

    Needs a model with a fusion head; the loss acts on ``model.project(FUSED, fused)`` (give
    the model a projector under :data:`aligninfo.encoders.FUSED`, as CoMM does), and CoMM's
    probes read the fused representation ``model.fuse({key: model.encode(key, x)})``. Each of
    the two augmented views of a batch gives one multimodal embedding (all modalities) and one
    unimodal embedding per modality (the others masked by the fusion head's learned
    placeholders).

    Args:
        temperature: NT-Xent temperature (CoMM: 0.1, fixed).
        augment: One augmentation, one per key, or None for the default.
    """

    def __init__(
        self, temperature: float = DEFAULT_TEMPERATURE, augment: AugmentSpec = None
    ) -> None:
        super().__init__()
        _check_temperature(temperature)
        self.temperature, self.augment_spec = temperature, augment

    def forward(self, model: MultimodalEncoder, batch: Batch) -> Tensor:
        """See :meth:`Objective.forward`."""
        keys = model.keys

        def view() -> tuple[Tensor, list[Tensor]]:
            h = {k: model.encode(k, _augmenter(self.augment_spec, k)(batch[k])) for k in keys}
            fused = model.project(FUSED, model.fuse(h))
            unimodal = [
                model.project(FUSED, model.fuse({j: h[k] if j == k else None for j in keys}))
                for k in keys
            ]
            return fused, unimodal

        (za, ua), (zb, ub) = view(), view()
        za, zb, *unimodal = distributed.gather(self.training, za, zb, *ua, *ub)
        m = len(ua)
        return comm(za, zb, unimodal[:m], unimodal[m:], self.temperature)


class CrossPrediction(Objective):
    """Cross-modal prediction (:func:`cross_prediction`): one embedding predicts the other input.

    The embedding ``model.embed(source, x_source)`` predicts the raw ``target`` modality through
    the least-squares readout solved in each batch (no decoder to train). With linear encoders
    its optimum is reduced-rank regression (:func:`aligninfo.nuisance.cross_prediction_projection`).
    ``symmetric`` averages both directions.

    Args:
        source: Key of the encoded modality.
        target: Key of the predicted modality.
        ridge: Relative ridge of the readout.
        symmetric: Also predict ``source`` from ``target``'s embedding, and average.
    """

    def __init__(
        self,
        source: str = "x1",
        target: str = "x2",
        ridge: float = 1e-4,
        symmetric: bool = False,
    ) -> None:
        super().__init__()
        if source == target:
            raise ValueError(f"source and target must differ, got {source!r} twice")
        if not 0 <= ridge < math.inf:
            raise ValueError(f"ridge must be finite and >= 0, got {ridge}")
        self.source, self.target, self.ridge, self.symmetric = source, target, ridge, symmetric

    def forward(self, model: MultimodalEncoder, batch: Batch) -> Tensor:
        """See :meth:`Objective.forward`."""
        pairs = [(self.source, self.target)]
        if self.symmetric:
            pairs.append((self.target, self.source))
        losses = []
        for s, t in pairs:
            z, target = distributed.gather(self.training, model.embed(s, batch[s]), batch[t])
            losses.append(cross_prediction(z, target, self.ridge))
        return torch.stack(losses).mean()


class WeightedSum(Objective):
    """Weighted sum of objectives, e.g. alignment plus an intra-modal or reconstruction term.

    Args:
        terms: ``(weight, objective)`` pairs.
    """

    def __init__(self, terms: Sequence[tuple[float, Objective]]) -> None:
        super().__init__()
        if not terms:
            raise ValueError("WeightedSum needs at least one term")
        self.weights = [float(w) for w, _ in terms]
        self.terms = nn.ModuleList([o for _, o in terms])

    def forward(self, model: MultimodalEncoder, batch: Batch) -> Tensor:
        """See :meth:`Objective.forward`."""
        losses = [w * term(model, batch) for w, term in zip(self.weights, self.terms, strict=True)]
        return torch.stack(losses).sum()


def cross_self(
    temperature: float | None = None,
    self_weight: float = 1.0,
    self_temperature: float = 0.5,
    augment: AugmentSpec = None,
    learnable: bool | None = None,
) -> WeightedSum:
    """Cross + self: cross-modal InfoNCE plus ``self_weight`` times intra-modal SimCLR.

    Args:
        temperature: Cross-modal InfoNCE temperature (see :class:`InfoNCE`: learnt from 0.1
            when neither it nor ``learnable`` is given).
        self_weight: Weight of the SimCLR term.
        self_temperature: SimCLR temperature.
        augment: Augmentation(s) for the SimCLR views.
        learnable: Learn the cross-modal temperature (None: unless ``temperature`` is given).

    Returns:
        The objective.
    """
    return WeightedSum(
        [
            (1.0, InfoNCE(temperature, learnable=learnable)),
            (self_weight, SimCLR(self_temperature, augment)),
        ]
    )


def cross_recon(
    temperature: float | None = None, recon_weight: float = 1.0, learnable: bool | None = None
) -> WeightedSum:
    """Cross-modal InfoNCE plus ``recon_weight`` times reconstruction of each modality.

    InfoNCE acts on the projected embeddings, the decoders read the backbone.

    Args:
        temperature: InfoNCE temperature (see :class:`InfoNCE`).
        recon_weight: Weight of the reconstruction term.
        learnable: Learn the temperature (None: unless ``temperature`` is given).

    Returns:
        The objective (the model needs decoders).
    """
    return WeightedSum(
        [(1.0, InfoNCE(temperature, learnable=learnable)), (recon_weight, Reconstruction())]
    )


OBJECTIVES: dict[str, Callable[..., Objective]] = {
    "info_nce": InfoNCE,
    "cca": CCA,
    "barlow_twins": BarlowTwins,
    "vicreg": VICReg,
    "decur": DeCUR,
    "simclr": SimCLR,
    "reconstruction": Reconstruction,
    "cross_self": cross_self,
    "cross_recon": cross_recon,
    "comm": CoMM,
    "cross_prediction": CrossPrediction,
}
"""Objective constructors by name; ``OBJECTIVES[name](**hyperparameters)(model, batch)``."""


def learned_temperatures(objective: nn.Module) -> dict[str, float]:
    """Current values of the learnt temperatures inside an objective (e.g. after training).

    Args:
        objective: An objective, possibly a :class:`WeightedSum` of several.

    Returns:
        ``{module path: temperature}`` for each :class:`LearnableTemperature` (the path of the
        temperature module, e.g. ``"learnable_temperature"`` or
        ``"terms.0.learnable_temperature"``); empty when none is learnt.
    """
    return {
        name: float(module().detach())
        for name, module in objective.named_modules()
        if isinstance(module, LearnableTemperature)
    }


def make_objective(name: str, **kwargs: Any) -> Objective:
    """Build a registered objective by name.

    Args:
        name: A key of :data:`OBJECTIVES`.
        **kwargs: Its hyperparameters.

    Returns:
        The objective.

    Raises:
        ValueError: If the name is unknown.
    """
    if name not in OBJECTIVES:
        raise ValueError(f"unknown objective {name!r}; choose from {sorted(OBJECTIVES)}")
    return OBJECTIVES[name](**kwargs)
