"""Synthetic paired modalities: the latents of the Gaussian model, mixed nonlinearly.

The latents S, U1, U2, the sensor noise, the target weights and the target noise are those of a
wrapped :class:`aligninfo.gaussian.GaussianModel`; only the maps from latents to observations
and targets change:

    X_m = mix_m([S; U_m]) + noise_m ε_m,
    Y_m = |b_ms| g(b̂_ms·S) + |b_mu| g(b̂_mu·U_m) + target_noise_m η_m   (target="nonlinear"),

with ``mix_m`` a random invertible leaky-ReLU MLP (mixing="mlp") and g(t) = (t + t² - 1) / √3,
which has mean 0 and variance 1 for t ~ N(0, 1). With mixing="linear" and target="linear",
``sample`` returns exactly what ``GaussianModel.sample`` returns for the same seed, so every
closed form of :mod:`aligninfo.gaussian` applies. In every option S, U1, U2, ε_m and η_m are
the very draws of ``GaussianModel.sample(n, seed)``, so options compare sample by sample, and
the MLP is whitened so that Cov(X_m) is the Gaussian model's A_m A_mᵀ + noise_m² I (up to the
Monte Carlo error of a reference sample): mixing changes the dependence, not the second moments
of a modality.

Example:
    >>> m = SyntheticModel.random(d_shared=3, d_unique=(3, 3), dims=(8, 8), seed=0)
    >>> data = m.sample(1000, seed=1)
    >>> data["X1"].shape, data["C12"].shape
    ((1000, 8), (1000,))
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from statistics import NormalDist

import numpy as np
from numpy.typing import DTypeLike

from aligninfo.gaussian import NAMES, GaussianModel
from aligninfo.linalg import Array

MIXINGS = ("linear", "mlp")
TARGETS = ("linear", "nonlinear")
N_REF = 100_000  # size of the fixed reference samples (whitening, nonlinear quantiles)
REF_SEED = 20250922  # seed of the reference sample of the nonlinear quantiles
BIAS = 0.5  # standard deviation of the MLP biases


def _leaky(h: Array, slope: float) -> Array:
    return np.where(h > 0, h, slope * h)


def _leaky_inverse(h: Array, slope: float) -> Array:
    return np.where(h > 0, h, h / slope)


def _orthogonal(rng: np.random.Generator, k: int) -> Array:
    """A uniformly random (Haar) orthogonal matrix, shape (k, k)."""
    q, r = np.linalg.qr(rng.standard_normal((k, k)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def _unit(rng: np.random.Generator, d: int) -> Array:
    """A uniformly random unit vector of R^d (empty for d = 0)."""
    v = rng.standard_normal(d)
    return v / np.linalg.norm(v) if d else v


def g(t: Array) -> Array:
    """The target nonlinearity (t + t² - 1) / √3: mean 0, variance 1, linear R² 1/3 on N(0, 1)."""
    return (t + t**2 - 1) / np.sqrt(3)


def _single_index(latent: Array, b: Array) -> Array:
    """|b| g(latent · b / |b|), shape (n,); zero when b = 0."""
    norm = float(np.linalg.norm(b))
    return norm * g(latent @ (b / norm)) if norm > 0 else np.zeros(latent.shape[0])


@dataclass(frozen=True, eq=False)
class InvertibleMLP:
    """The map v -> x = M (f(v) - c), f(v) = leaky(W_L ... leaky(W_1 v + a_1) ... + a_L).

    Each W_l is orthogonal and leaky ReLU (slope in (0, 1]) is a bijection, so f is invertible;
    M has full column rank, so x determines v exactly (`invert`).

    Attributes:
        weights: Orthogonal matrices W_l, each (k, k).
        biases: Biases a_l, each (k,).
        slope: Slope of leaky ReLU on the negative half-line.
        center: c, mean of f(v) for v ~ N(0, I_k), shape (k,).
        embed: M, shape (dim, k), full column rank (A L⁻¹ in `random`).
    """

    weights: tuple[Array, ...]
    biases: tuple[Array, ...]
    slope: float
    center: Array
    embed: Array

    @classmethod
    def random(
        cls, embed: Array, depth: int, slope: float, rng: np.random.Generator
    ) -> InvertibleMLP:
        """A random MLP whose output has covariance A Aᵀ for v ~ N(0, I_k).

        f(v) is whitened with the mean c and Cholesky factor L (Cov f(v) = L Lᵀ) of a reference
        sample of N_REF draws, so M = A L⁻¹ makes Cov(x) = A Aᵀ up to Monte Carlo error: the
        same second moments as the linear map v -> A v.

        Args:
            embed: A, shape (dim, k), full column rank.
            depth: Number of leaky-ReLU layers L >= 0.
            slope: Leaky-ReLU slope in (0, 1]; 1 makes the map linear.
            rng: Generator of the weights and the reference sample.

        Returns:
            The MLP.
        """
        k = embed.shape[1]
        weights = tuple(_orthogonal(rng, k) for _ in range(depth))
        biases = tuple(BIAS * rng.standard_normal((depth, k)))
        raw = cls(weights, biases, slope, np.zeros(k), np.eye(k))
        h = raw.hidden(rng.standard_normal((N_REF, k)))
        center = h.mean(axis=0)
        chol = np.linalg.cholesky((h - center).T @ (h - center) / (N_REF - 1))
        return cls(weights, biases, slope, center, embed @ np.linalg.inv(chol))

    def hidden(self, v: Array) -> Array:
        """f(v) for rows v of shape (n, k); returns (n, k)."""
        for w, a in zip(self.weights, self.biases, strict=True):
            v = _leaky(v @ w.T + a, self.slope)
        return v

    def __call__(self, v: Array) -> Array:
        """Map rows v of shape (n, k) to x = M (f(v) - c) of shape (n, dim)."""
        return (self.hidden(v) - self.center) @ self.embed.T

    def invert(self, x: Array) -> Array:
        """The v with x = M (f(v) - c), exact for x in the range of the map; (n, dim) -> (n, k)."""
        h = np.linalg.lstsq(self.embed, np.asarray(x, dtype=np.float64).T, rcond=None)[0].T
        h = h + self.center
        for w, a in zip(reversed(self.weights), reversed(self.biases), strict=True):
            h = (_leaky_inverse(h, self.slope) - a) @ w
        return h


def _source_slices(gaussian: GaussianModel) -> dict[str, slice]:
    """Columns of each source in the draws of `GaussianModel.sample` (its source order)."""
    (d1, d2), (p1, p2) = gaussian.d_unique, gaussian.dims
    sizes = {"S": gaussian.d_shared, "U1": d1, "U2": d2, "E1": p1, "E2": p2, "N1": 1, "N2": 1}
    ends = np.cumsum(list(sizes.values()))
    return {
        name: slice(int(e - s), int(e)) for (name, s), e in zip(sizes.items(), ends, strict=True)
    }


@dataclass(frozen=True, eq=False, repr=False)
class SyntheticModel:
    """Paired modalities from the latents of a Gaussian model, with regression and class targets.

    Attributes:
        gaussian: Latents, linear mixing A_m, noise, target weights (b_ms, b_mu), target noise.
        mixers: The invertible MLPs of X1, X2 (their embeddings are built on A_m), or None
            for linear mixing X_m = A_m [S; U_m] + noise.
        target: "linear" (Y_m as in `gaussian`) or "nonlinear" (see the module docstring).
        n_classes: Number of classes of C1, C2 (quantile bins of Y1, Y2), >= 2.
        synergy: Unit directions (c_1, c_2) in U1, U2 of the synergy target, shapes (d_unique_m,).
    """

    gaussian: GaussianModel
    mixers: tuple[InvertibleMLP, InvertibleMLP] | None
    target: str
    n_classes: int
    synergy: tuple[Array, Array]

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {self.target!r}")
        if int(self.n_classes) != self.n_classes or self.n_classes < 2:
            raise ValueError(f"n_classes must be an integer >= 2, got {self.n_classes}")

    @classmethod
    def random(
        cls,
        d_shared: int = 3,
        d_unique: int | tuple[int, int] = (3, 3),
        dims: int | tuple[int, int] = (8, 8),
        noise: float | tuple[float, float] = (0.3, 0.3),
        unique_share: float | tuple[float, float] = (0.7, 0.5),
        seed: int = 0,
        target_noise: float | tuple[float, float] = (0.0, 0.0),
        mixing: str = "mlp",
        depth: int = 2,
        slope: float = 0.2,
        target: str = "linear",
        n_classes: int = 2,
    ) -> SyntheticModel:
        """A random model; its Gaussian part is ``GaussianModel.random`` with the same arguments.

        Args:
            d_shared: Dimension of S.
            d_unique: Dimensions of U1, U2 (a scalar means both).
            dims: Dimensions of X1, X2; each >= d_shared + d_unique_m.
            noise: Standard deviations of the noise on X1, X2.
            unique_share: Share of each target's noise-free variance carried by U_m, in [0, 1].
            seed: Seed of the random draw (the MLPs and synergy directions use a derived seed).
            target_noise: Standard deviations in [0, 1) of the noise on Y1, Y2 (Var(Y_m) = 1).
            mixing: "mlp" (invertible leaky-ReLU MLP) or "linear" (the Gaussian model's A_m).
            depth: Number of leaky-ReLU layers of each MLP, >= 0.
            slope: Leaky-ReLU slope in (0, 1]; smaller is more nonlinear, 1 is linear.
            target: "linear" or "nonlinear" regression targets.
            n_classes: Number of equiprobable classes of C1, C2.

        Returns:
            The model.
        """
        if mixing not in MIXINGS:
            raise ValueError(f"mixing must be one of {MIXINGS}, got {mixing!r}")
        if int(depth) != depth or depth < 0:
            raise ValueError(f"depth must be an integer >= 0, got {depth}")
        if not 0 < slope <= 1:
            raise ValueError(f"slope must be in (0, 1], got {slope}")
        gauss = GaussianModel.random(
            d_shared, d_unique, dims, noise, unique_share, seed, target_noise
        )
        rng = np.random.default_rng([seed, 1])
        c1, c2 = (_unit(rng, d) for d in gauss.d_unique)
        mixers = None
        if mixing == "mlp":
            m1, m2 = (InvertibleMLP.random(a, int(depth), float(slope), rng) for a in gauss.mixing)
            mixers = (m1, m2)
        return cls(gauss, mixers, target, n_classes, (c1, c2))

    def __repr__(self) -> str:
        mixing = (
            "linear"
            if self.mixers is None
            else (f"mlp(depth={len(self.mixers[0].weights)}, slope={self.mixers[0].slope})")
        )
        return (
            f"SyntheticModel({self.gaussian!r}, mixing={mixing}, target={self.target!r}, "
            f"n_classes={self.n_classes})"
        )

    # ------------------------------------------------------------------- sampling
    def sample(
        self, n: int, seed: int | np.random.Generator, dtype: DTypeLike = np.float64
    ) -> dict[str, Array]:
        """Draw n i.i.d. samples.

        Args:
            n: Number of samples.
            seed: Seed or generator; the same draws as ``GaussianModel.sample(n, seed)``.
            dtype: Floating dtype of the real-valued arrays (classes are int64).

        Returns:
            "S" (n, d_shared), "U1" (n, d_unique_1), "U2" (n, d_unique_2): the latents.
            "X1" (n, dim_1), "X2" (n, dim_2): the observed modalities.
            "Y1", "Y2" (n, 1): regression targets, variance 1 (for the `random` models).
            "C1", "C2" (n,): class of Y_m in 0..n_classes-1, bins between its quantiles
                (`thresholds`); for two classes, whether Y_m is above its median.
            "Y12" (n, 1): synergy target (c_1·U1)(c_2·U2), variance 1, mean-independent of X1
                alone and of X2 alone (zero if a modality has no unique latent).
            "C12" (n,): 1 where c_1·U1 and c_2·U2 have the same sign, else 0: a fair coin
                independent of either modality alone, predictable from both.
        """
        out = {name: a.astype(dtype) for name, a in self._real(n, seed).items()}
        for i, m in enumerate(("1", "2")):
            out["C" + m] = np.searchsorted(self.thresholds[i], out["Y" + m][:, 0]).astype(np.int64)
        out["C12"] = (out["Y12"][:, 0] > 0).astype(np.int64)
        return out

    def _real(self, n: int, seed: int | np.random.Generator) -> dict[str, Array]:
        """The real-valued arrays of `sample`, float64."""
        gauss = self.gaussian
        cols = _source_slices(gauss)
        z = np.random.default_rng(seed).standard_normal((int(n), cols["N2"].stop))
        linear = ["S", "U1", "U2"] + ["X1", "X2"] * (self.mixers is None)
        linear += ["Y1", "Y2"] * (self.target == "linear")
        # z @ Lᵀ exactly as GaussianModel.sample computes it
        out = {name: z @ gauss.loading(name).T for name in linear}
        for i, m in enumerate(("1", "2")):
            if self.mixers is not None:
                latent = np.hstack([out["S"], out["U" + m]])
                out["X" + m] = self.mixers[i](latent) + gauss.noise[i] * z[:, cols["E" + m]]
            if self.target == "nonlinear":
                y = _single_index(out["S"], gauss.target_shared[i]) + _single_index(
                    out["U" + m], gauss.target_unique[i]
                )
                out["Y" + m] = y[:, None] + gauss.target_noise[i] * z[:, cols["N" + m]]
        out["Y12"] = (out["U1"] @ self.synergy[0] * (out["U2"] @ self.synergy[1]))[:, None]
        return {name: out[name] for name in (*NAMES, "Y12")}

    @cached_property
    def thresholds(self) -> tuple[Array, Array]:
        """Class boundaries of Y1, Y2: their k / n_classes quantiles, shapes (n_classes - 1,).

        Exact normal quantiles for linear targets (0 for two classes); for nonlinear targets,
        quantiles of a fixed reference sample of N_REF draws.
        """
        probs = np.arange(1, self.n_classes) / self.n_classes
        if self.target == "linear":
            std = [float(np.sqrt(self.gaussian.covariance(y)[0, 0])) for y in ("Y1", "Y2")]
            z = np.array([NormalDist().inv_cdf(float(p)) for p in probs], dtype=np.float64)
            return np.multiply(z, std[0]), np.multiply(z, std[1])
        ref = self._real(N_REF, REF_SEED)
        q1, q2 = (np.asarray(np.quantile(ref[y], probs), dtype=np.float64) for y in ("Y1", "Y2"))
        return q1, q2

    # ------------------------------------------------------------------ inversion
    def invert(self, x: Array, modality: int = 1) -> Array:
        """The latents [S, U_m] of noise-free observations X_m.

        Args:
            x: Observations of modality m, shape (n, dim_m).
            modality: 1 or 2.

        Returns:
            Array of shape (n, d_shared + d_unique_m); exact when noise_m = 0.
        """
        if modality not in (1, 2):
            raise ValueError(f"modality must be 1 or 2, got {modality!r}")
        if self.mixers is not None:
            return self.mixers[modality - 1].invert(x)
        a = self.gaussian.mixing[modality - 1]
        v = np.linalg.lstsq(a, np.asarray(x, dtype=np.float64).T, rcond=None)[0].T
        return np.asarray(v, dtype=np.float64)
