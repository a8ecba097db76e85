"""The optimal alignment strength of a mixed objective, in closed form.

Chapter 6's mixed objective over frames ``W`` (``k x p``, orthonormal rows) is

    maximise  a(W) + λ b(W) = tr W (Σ_sh + λ Σ_res) Wᵀ,

alignment (the shared variance ``a``) plus ``λ`` times specificity (the residual variance ``b``,
what the other modality does not predict); its maximisers are the trade-off family
(:func:`aligninfo.frontier.tradeoff_frontier`), from the frame of largest alignment at
``λ_min = -α*/(1-α*)`` through redundancy analysis (0) and PCA (1). For a task ``Y`` the best
strength is ``λ* = argmax_λ R²(Y | W_λ X)``; a small ``λ*`` is strong alignment.

For ``k = 1`` the best one-dimensional feature is the regression direction ``w* = C⁻¹ c``
(``c = Cov(X, Y)``). It lies on the family exactly when it is a top eigenvector of ``M_λ`` for
some ``λ >= λ_min``, and then (:func:`optimal_strength`)

    λ* = - gᵀh / hᵀh,      g = P⊥ Σ_sh w*,  h = P⊥ Σ_res w*,   P⊥ = I - w* w*ᵀ / ‖w*‖²,

the one ``λ`` for which ``P⊥ M_λ w* = g + λ h = 0``; the family then loses nothing for ``Y``:
``R²(Y | W_λ* X) = R²(Y | X)``. In the book's model with ``d_s = d_u = 1`` and isotropic
sensor noise, ``w*``, ``Σ_sh`` and ``Σ_res`` act in the plane spanned by the mixing columns of
X1, where ``g`` and ``h`` are parallel, so the condition holds whenever ``w*`` is the top
eigenvector there. Beyond that model (two unique latents, say) ``g`` and ``h`` are generically
not parallel, ``w*`` is on no frame of the family, and λ* has no closed form here: it is found
by a search along the family (:func:`family_r2`). :func:`train_frame` trains an orthonormal
linear encoder on sample estimates of the same objective (the specificity term through
:func:`aligninfo.losses.cross_prediction`: the variance of ``W X_1`` that X2 does not predict).

Example:
    >>> m = GaussianModel.random(d_shared=1, d_unique=(1, 1), dims=(4, 4), seed=0)
    >>> optimal_strength(m).strength
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn
from torch.nn.utils.parametrizations import orthogonal

from aligninfo.frontier import max_alignment_frame, tradeoff_frontier
from aligninfo.gaussian import GaussianModel
from aligninfo.linalg import Array, top_eigenvectors
from aligninfo.losses import cross_prediction

__all__ = [
    "StrengthOptimum",
    "best_direction",
    "family_r2",
    "lambda_min",
    "optimal_strength",
    "train_frame",
]


def lambda_min(model: GaussianModel, k: int = 1, modality: int = 1) -> float:
    """``-α*/(1-α*)``: the strength of the frame of largest alignment kept (chapter 6)."""
    sh, res = model.split_covariance(modality)
    _, alpha = max_alignment_frame(sh, res, k)
    return -alpha / (1 - alpha)


def family_r2(
    model: GaussianModel,
    k: int,
    strengths: ArrayLike,
    target: str = "Y1",
    modality: int = 1,
) -> Array:
    """R² of the target from the family's frame at each strength λ, shape (g,).

    Args:
        model: The Gaussian model.
        k: Embedding size.
        strengths: ``(g,)`` values of λ (below ``λ_min`` the top eigenvectors leave the family).
        target: Target name.
        modality: The encoded modality.

    Returns:
        ``R²(target | W_λ X_m)`` for each λ.
    """
    sh, res = model.split_covariance(modality)
    frames = tradeoff_frontier(sh, res, k, strengths).frames
    return np.array([model.r2_projection(target, w, modality) for w in frames])


def best_direction(model: GaussianModel, target: str = "Y1", modality: int = 1) -> Array:
    """The regression direction ``w* = C_mm⁻¹ Cov(X_m, Y)`` as a unit row, shape (1, dim_m)."""
    c = model.covariance(f"X{modality}")
    w = np.linalg.solve(c, model.cross_covariance(f"X{modality}", target)[:, 0])
    norm = np.linalg.norm(w)
    if not norm > 0:
        raise ValueError(f"X{modality} carries no information on {target}")
    return (w / norm)[None, :]


@dataclass(frozen=True)
class StrengthOptimum:
    """The best strength λ* of the mixed objective for a task, at k = 1.

    Attributes:
        strength: λ*: the closed form when ``on_family``; otherwise the better end of the family,
            ``lambda_min`` or ``inf`` (the top principal direction of Σ_res), which is the best
            of the family when it is a plane curve (``d_s = d_u = 1``, isotropic noise).
        on_family: Whether ``w*`` is the family's frame at λ* (``g + λ* h = 0``, ``w*`` the top
            eigenvector of ``M_λ*``, ``λ* >= λ_min``).
        residual: ``‖g + λ h‖ / max(‖g‖, ‖h‖)`` at the closed-form λ; 0 when ``w*`` is an
            eigenvector of ``M_λ`` there.
        r2: ``R²(Y | X_m)``, the best any one-dimensional feature does.
        r2_family: What the family's frame at λ* reaches (``r2`` when ``on_family``).
        lambda_min: The strength of largest alignment.
    """

    strength: float
    on_family: bool
    residual: float
    r2: float
    r2_family: float
    lambda_min: float


def optimal_strength(
    model: GaussianModel, target: str = "Y1", modality: int = 1, tol: float = 1e-8
) -> StrengthOptimum:
    """λ* = -gᵀh / hᵀh for k = 1 (see the module docstring), with the checks that make it so.

    Args:
        model: The Gaussian model.
        target: Target name (scalar).
        modality: The encoded modality.
        tol: Relative tolerance of the eigenvector and top-eigenvalue checks.

    Returns:
        The :class:`StrengthOptimum`.
    """
    w = best_direction(model, target, modality)[0]
    sh, res = model.split_covariance(modality)
    perp = np.eye(w.size) - np.outer(w, w)
    g, h = perp @ sh @ w, perp @ res @ w
    w_min, alpha = max_alignment_frame(sh, res, 1)
    lam_min = -alpha / (1 - alpha)
    r2 = model.r2(target, f"X{modality}")
    scale = max(float(np.linalg.norm(g)), float(np.linalg.norm(h)), 1e-300)
    lam, residual, on = float("nan"), float("nan"), False
    if float(h @ h) > (tol * scale) ** 2:
        lam = -float(g @ h) / float(h @ h)
        residual = float(np.linalg.norm(g + lam * h)) / scale
        m = sh + lam * res
        top = float(np.linalg.eigvalsh(m)[-1])
        is_top = float(w @ m @ w) >= top - tol * max(abs(top), float(np.linalg.norm(m)))
        on = residual <= 1e-6 and is_top and lam >= lam_min - tol
    if on:
        return StrengthOptimum(lam, True, residual, r2, r2, lam_min)
    ends = {
        lam_min: model.r2_projection(target, w_min, modality),
        float("inf"): model.r2_projection(target, top_eigenvectors(res, 1), modality),
    }
    best = max(ends, key=lambda key: ends[key])
    return StrengthOptimum(best, False, residual, r2, ends[best], lam_min)


class _Frame(nn.Module):
    """A bias-free linear map ``R^p -> R^k`` with orthonormal rows (a frame)."""

    def __init__(self, p: int, k: int) -> None:
        super().__init__()
        self.linear: nn.Module = orthogonal(nn.Linear(p, k, bias=False), orthogonal_map="cayley")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, p) -> (n, k)``."""
        out: torch.Tensor = self.linear(x)
        return out


def train_frame(
    x1: ArrayLike,
    x2: ArrayLike,
    k: int,
    strength: float,
    steps: int = 100,
    lr: float = 0.2,
    seed: int = 0,
) -> Array:
    """Train a frame ``W`` on samples by gradient ascent of ``a(W) + λ b(W)``.

    The loss is ``-(tr Cov(Z) - (1 - λ) k · cross_prediction(X2, Z))`` with ``Z = W X1``: the
    total variance kept minus ``1 - λ`` times the variance of ``Z`` that the least-squares
    readout from X2 misses (``b``), i.e. ``-(a + λ b)`` estimated in the full batch. Adam on an
    orthogonal parametrisation, from a seeded random frame.

    Args:
        x1: ``(n, p1)`` samples of the encoded modality.
        x2: ``(n, p2)`` paired samples of the other modality.
        k: Frame size.
        strength: λ.
        steps: Full-batch Adam steps.
        lr: Learning rate.
        seed: Seed of the initial frame.

    Returns:
        The trained frame, ``(k, p1)`` float64.
    """
    a = torch.as_tensor(np.asarray(x1), dtype=torch.float32)
    b = torch.as_tensor(np.asarray(x2), dtype=torch.float32)
    if a.dim() != 2 or b.dim() != 2 or a.shape[0] != b.shape[0]:
        raise ValueError(f"x1, x2 must be (n, p) arrays of one length, got {a.shape}, {b.shape}")
    if not 1 <= k <= a.shape[1] or steps < 1:
        raise ValueError(f"need 1 <= k <= {a.shape[1]} and steps >= 1, got k={k}, steps={steps}")
    torch.manual_seed(seed)
    frame = _Frame(a.shape[1], k)
    opt = torch.optim.Adam(frame.parameters(), lr=lr)
    a = a - a.mean(0)
    for _ in range(steps):
        opt.zero_grad()
        z = frame(a)
        total = z.pow(2).mean(0).sum()
        loss = -(total - (1 - strength) * k * cross_prediction(b, z, ridge=0.0))
        loss.backward()
        opt.step()
    with torch.no_grad():
        w = frame(torch.eye(a.shape[1])).T  # the rows of W
    return np.asarray(w.double().numpy(), dtype=np.float64)
