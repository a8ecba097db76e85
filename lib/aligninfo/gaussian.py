"""The linear-Gaussian two-modality model and its closed forms.

Latents S ~ N(0, I_ds) (shared), U1 ~ N(0, I_d1), U2 ~ N(0, I_d2) (modality-specific), and

    X_m = A_m [S; U_m] + noise_m ε_m,      Y_m = b_ms·S + b_mu·U_m + target_noise_m η_m.

Every variable is a linear map (its *loading*) of the independent standard normal sources
[S, U1, U2, ε1, ε2, η1, η2], so Cov(a, b) = L_a L_bᵀ and every quantity below is closed form:
mutual informations, R² of linear predictors, CCA, PCA, the alignment/PCA trade-off and
σ-informativeness.

Example:
    >>> m = GaussianModel.random(d_shared=3, d_unique=(3, 3), dims=(8, 8), seed=0)
    >>> r2_lost = m.r2("Y1", "X1") - m.alignment_ceiling("Y1", modality=1)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from aligninfo.linalg import (
    RTOL,
    Array,
    cca_from_cov,
    logdet_pd,
    mean_variance,
    r2_from_cov,
    top_eigenvectors,
)

NAMES = ("S", "U1", "U2", "X1", "X2", "Y1", "Y2")
_POSITIVE = 1e-9  # canonical correlations above this count as positive
Names = str | Sequence[str]


def _pair(value: Any, name: str) -> tuple[Any, Any]:
    """A scalar broadcast to a pair, or a length-2 sequence as a tuple."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be a scalar or a pair, got length {len(value)}")
        return value[0], value[1]
    return value, value


def _nonneg(value: Any, name: str) -> float:
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value}")
    return value


def _array(value: ArrayLike, ndim: int, name: str) -> Array:
    """A read-only float64 copy, checked for dimensionality and finiteness."""
    a = np.array(value, dtype=np.float64)
    if a.ndim != ndim or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be a finite {ndim}-D array, got shape {a.shape}")
    a.flags.writeable = False
    return a


def _arrays(value: Any, ndim: int, name: str) -> tuple[Array, Array]:
    """A pair of validated arrays."""
    a, b = _pair(value, name)
    return _array(a, ndim, f"{name}[0]"), _array(b, ndim, f"{name}[1]")


def _unit(rng: np.random.Generator, d: int) -> Array:
    """A uniformly random unit vector of R^d (empty for d = 0)."""
    v = rng.standard_normal(d)
    return v / np.linalg.norm(v) if d else v


@dataclass(frozen=True, eq=False, repr=False)
class GaussianModel:
    """Two modalities sharing S, each with its own U_m, and one scalar target per modality.

    Attributes:
        mixing: (A_1, A_2), A_m of shape (dim_m, d_shared + d_unique_m), acting on [S; U_m].
        noise: (noise_1, noise_2), standard deviation of the isotropic noise on X_m.
        target_shared: (b_1s, b_2s), weights of S in Y_m, each of shape (d_shared,).
        target_unique: (b_1u, b_2u), weights of U_m in Y_m, shape (d_unique_m,).
        target_noise: (t_1, t_2), standard deviation of the noise on Y_m.
    """

    mixing: tuple[Array, Array]
    noise: tuple[float, float]
    target_shared: tuple[Array, Array]
    target_unique: tuple[Array, Array]
    target_noise: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        mix = _arrays(self.mixing, 2, "mixing")
        bs = _arrays(self.target_shared, 1, "target_shared")
        if bs[0].size != bs[1].size:
            raise ValueError(
                f"target_shared must have equal lengths (d_shared), got "
                f"{bs[0].size} and {bs[1].size}"
            )
        bu = _arrays(self.target_unique, 1, "target_unique")
        for i in range(2):
            if mix[i].shape[1] != bs[i].size + bu[i].size:
                raise ValueError(
                    f"mixing[{i}] must have d_shared + d_unique = {bs[i].size} + {bu[i].size} "
                    f"columns (lengths of target_shared and target_unique), got {mix[i].shape}"
                )
        fields = {
            "mixing": mix,
            "target_shared": bs,
            "target_unique": bu,
            "noise": tuple(_nonneg(v, "noise") for v in _pair(self.noise, "noise")),
            "target_noise": tuple(
                _nonneg(v, "target_noise") for v in _pair(self.target_noise, "target_noise")
            ),
        }
        for key, value in fields.items():
            object.__setattr__(self, key, value)

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
    ) -> GaussianModel:
        """A random model with unit-variance targets.

        A_m has i.i.d. N(0, 1 / (d_shared + d_unique_m)) entries (so each coordinate of
        A_m [S; U_m] has variance about 1) and full column rank; the target directions are
        uniform on the spheres of S and U_m.

        Args:
            d_shared: Dimension of S.
            d_unique: Dimensions of U1, U2 (a scalar means both).
            dims: Dimensions of X1, X2; each >= d_shared + d_unique_m.
            noise: Standard deviations of the noise on X1, X2.
            unique_share: Share of the target's noise-free variance carried by U_m, in [0, 1].
            seed: Seed of the random draw.
            target_noise: Standard deviations t_m in [0, 1) of the noise on Y_m; then
                Var(Y_m) = 1 of which t_m² is noise.

        Returns:
            The model.
        """
        rng = np.random.default_rng(seed)
        if int(d_shared) != d_shared or d_shared < 0:
            raise ValueError(f"d_shared must be an integer >= 0, got {d_shared}")
        pairs = zip(
            _pair(d_unique, "d_unique"),
            _pair(dims, "dims"),
            _pair(unique_share, "unique_share"),
            _pair(target_noise, "target_noise"),
            strict=True,
        )
        mixing, b_s, b_u = [], [], []
        for i, (d, p, share, tn) in enumerate(pairs):
            if int(d) != d or d < 0:
                raise ValueError(f"d_unique must be integers >= 0, got {d_unique}")
            if int(p) != p or p < d_shared + d:
                raise ValueError(
                    f"dims[{i}] must be an integer >= d_shared + d_unique[{i}] = "
                    f"{d_shared + d} (full column rank), got {p}"
                )
            if not 0 <= share <= 1 or (d_shared == 0 and share < 1) or (d == 0 and share > 0):
                raise ValueError(
                    f"unique_share[{i}] must be in [0, 1] (1 if d_shared = 0, 0 if "
                    f"d_unique[{i}] = 0), got {share}"
                )
            if not 0 <= tn < 1:
                raise ValueError(f"target_noise[{i}] must be in [0, 1), got {tn}")
            k = d_shared + d
            mixing.append(rng.standard_normal((int(p), k)) / np.sqrt(max(k, 1)))
            b_s.append(np.sqrt((1 - share) * (1 - tn**2)) * _unit(rng, d_shared))
            b_u.append(np.sqrt(share * (1 - tn**2)) * _unit(rng, int(d)))
        return cls(
            (mixing[0], mixing[1]),
            _pair(noise, "noise"),
            (b_s[0], b_s[1]),
            (b_u[0], b_u[1]),
            _pair(target_noise, "target_noise"),
        )

    # ----------------------------------------------------------------------- sizes
    @property
    def d_shared(self) -> int:
        """Dimension of S."""
        return int(self.target_shared[0].size)

    @property
    def d_unique(self) -> tuple[int, int]:
        """Dimensions of U1 and U2."""
        return int(self.target_unique[0].size), int(self.target_unique[1].size)

    @property
    def dims(self) -> tuple[int, int]:
        """Dimensions of X1 and X2."""
        return int(self.mixing[0].shape[0]), int(self.mixing[1].shape[0])

    @property
    def unique_share(self) -> tuple[float, float]:
        """Share of Var(Y_m) without target noise carried by U_m: |b_mu|² / (|b_ms|² + |b_mu|²).

        With target_noise = 0 this is |b_mu|² / Var(Y_m) = R²(Y_m | U_m).
        """
        out = []
        for bs, bu in zip(self.target_shared, self.target_unique, strict=True):
            total = bs @ bs + bu @ bu
            out.append(float(bu @ bu / total) if total > 0 else float("nan"))
        return out[0], out[1]

    def __repr__(self) -> str:
        share = tuple(round(s, 4) for s in self.unique_share)
        return (
            f"GaussianModel(d_shared={self.d_shared}, d_unique={self.d_unique}, "
            f"dims={self.dims}, noise={self.noise}, unique_share={share}, "
            f"target_noise={self.target_noise})"
        )

    def with_noise(self, noise: float | tuple[float, float]) -> GaussianModel:
        """The same model with other sensor-noise standard deviations."""
        return replace(self, noise=_pair(noise, "noise"))

    def with_unique_share(self, unique_share: float | tuple[float, float]) -> GaussianModel:
        """The same model with the targets' weights moved between S and U_m.

        Keeps the target directions and each target's noise-free variance; needs both
        directions of a target to be defined (nonzero weights) unless the share is 0 or 1.
        """
        shares = _pair(unique_share, "unique_share")
        b_s, b_u = [], []
        for i, share in enumerate(shares):
            if not 0 <= share <= 1:
                raise ValueError(f"unique_share[{i}] must be in [0, 1], got {share}")
            bs, bu = self.target_shared[i], self.target_unique[i]
            total = bs @ bs + bu @ bu
            for b, part in ((bs, 1 - share), (bu, share)):
                if part > 0 and not b @ b > 0:
                    raise ValueError(
                        f"unique_share[{i}] = {share} needs a target direction "
                        "that this model has set to zero"
                    )
            b_s.append(bs * np.sqrt((1 - share) * total / (bs @ bs)) if bs @ bs > 0 else bs)
            b_u.append(bu * np.sqrt(share * total / (bu @ bu)) if bu @ bu > 0 else bu)
        return replace(self, target_shared=(b_s[0], b_s[1]), target_unique=(b_u[0], b_u[1]))

    # -------------------------------------------------------------------- loadings
    @cached_property
    def _loadings(self) -> dict[str, Array]:
        """Each variable as a matrix acting on the stacked sources, shape (dim, n_sources)."""
        (d1, d2), (p1, p2) = self.d_unique, self.dims
        sizes = {"S": self.d_shared, "U1": d1, "U2": d2, "E1": p1, "E2": p2, "N1": 1, "N2": 1}
        cuts = np.cumsum(list(sizes.values()))[:-1]
        src = dict(zip(sizes, np.split(np.eye(sum(sizes.values())), cuts), strict=True))
        out = {name: src[name] for name in ("S", "U1", "U2")}
        for i, m in enumerate(("1", "2")):
            latent = np.vstack([src["S"], src["U" + m]])
            out["X" + m] = self.mixing[i] @ latent + self.noise[i] * src["E" + m]
            y = self.target_shared[i] @ src["S"] + self.target_unique[i] @ src["U" + m]
            out["Y" + m] = y[None] + self.target_noise[i] * src["N" + m]
        return out

    def loading(self, names: Names) -> Array:
        """Loading of the named variables stacked in order, shape (total dim, n_sources)."""
        names = (names,) if isinstance(names, str) else tuple(names)
        for name in names:
            if name not in NAMES:
                raise ValueError(f"unknown variable {name!r}; expected one of {NAMES}")
        return np.vstack([self._loadings[name] for name in names])

    def sample(self, n: int, seed: int | np.random.Generator) -> dict[str, Array]:
        """Draw n i.i.d. samples of every variable.

        Args:
            n: Number of samples.
            seed: Seed or generator.

        Returns:
            Arrays "S", "U1", "U2", "X1", "X2", "Y1", "Y2", each of shape (n, dim); Y_m is (n, 1).
        """
        n_sources = self._loadings["S"].shape[1]
        z = np.random.default_rng(seed).standard_normal((int(n), n_sources))
        return {name: z @ self._loadings[name].T for name in NAMES}

    # ------------------------------------------------------------------ covariances
    def covariance(self, *names: str) -> Array:
        """Joint covariance of the named variables stacked in order, shape (dim, dim)."""
        lo = self.loading(names)
        return lo @ lo.T

    def cross_covariance(self, a: Names, b: Names) -> Array:
        """Cov(a, b), shape (dim a, dim b); a and b are names or tuples of names."""
        return self.loading(a) @ self.loading(b).T

    def _logdet(self, *blocks: Names) -> float:
        names = [n for b in blocks for n in ((b,) if isinstance(b, str) else b)]
        try:
            return logdet_pd(self.covariance(*names), f"Cov({', '.join(names)})")
        except ValueError as err:
            raise ValueError(
                f"mutual information is infinite or undefined: {err}. A noiseless "
                "variable or one that is a function of the others has no density; "
                "use noise > 0 / target_noise > 0"
            ) from err

    def mutual_information(self, a: Names, b: Names) -> float:
        """Gaussian mutual information I(a; b) in nats.

        Raises:
            ValueError: If a covariance involved is singular.
        """
        return 0.5 * (self._logdet(a) + self._logdet(b) - self._logdet(a, b))

    def conditional_mutual_information(self, a: Names, b: Names, given: Names) -> float:
        """Gaussian conditional mutual information I(a; b | given) in nats.

        Raises:
            ValueError: If a covariance involved is singular.
        """
        c = given
        return 0.5 * (
            self._logdet(a, c) + self._logdet(b, c) - self._logdet(c) - self._logdet(a, b, c)
        )

    def r2(self, target: Names, given: Names) -> float:
        """R² of the best linear predictor of target from given.

        For a multi-dimensional target, the explained share of its total variance.
        """
        lt, lg = self.loading(target), self.loading(given)
        return float(r2_from_cov(lg @ lg.T, lg @ lt.T, lt @ lt.T))

    # ------------------------------------------------------------------ projections
    def _index(self, modality: int) -> int:
        if modality not in (1, 2):
            raise ValueError(f"modality must be 1 or 2, got {modality!r}")
        return modality - 1

    def check_projection(self, w: ArrayLike, modality: int) -> Array:
        """``w`` as a float64 array of shape (k, dim_modality), k >= 1, finite.

        Raises:
            ValueError: Naming the expected shape, or an invalid modality.
        """
        dim = self.dims[self._index(modality)]
        w = np.asarray(w, dtype=np.float64)
        if w.ndim != 2 or w.shape[0] < 1 or w.shape[1] != dim or not np.all(np.isfinite(w)):
            raise ValueError(
                f"W must be a finite array of shape (k, {dim}) with k >= 1 for "
                f"modality {modality}, got shape {w.shape}"
            )
        return w

    def _projected(self, w: ArrayLike, target: Names, modality: int) -> tuple[Array, ...]:
        """(Cov(Z), Cov(Z, target), Cov(target)) for Z = W X_modality."""
        lz = self.check_projection(w, modality) @ self.loading(f"X{modality}")
        lt = self.loading(target)
        return lz @ lz.T, lz @ lt.T, lt @ lt.T

    def r2_projection(self, target: Names, w: ArrayLike, modality: int = 1) -> float:
        """R² of the best linear predictor of target from Z = W X_modality; W is (k, dim_m)."""
        return float(r2_from_cov(*self._projected(w, target, modality)))

    def regression_map(self, modality: int = 1) -> Array:
        """B with E[X_other | X_m] = B X_m, i.e. C_om C_mm⁺, shape (dim_other, dim_m)."""
        i = self._index(modality)
        x, other = f"X{i + 1}", f"X{2 - i}"
        c_mm = self.covariance(x)
        return self.cross_covariance(other, x) @ np.linalg.pinv(c_mm, rtol=RTOL, hermitian=True)

    def alignment_ceiling(self, target: Names = "Y1", modality: int = 1) -> float:
        """R²(target | E[X_other | X_m]): the most a representation aligned with X_other keeps."""
        return self.r2_projection(target, self.regression_map(modality), modality)

    def sigma_informativeness(
        self, w: ArrayLike, target: Names = "Y1", modality: int = 1, sigma: ArrayLike = 0.1
    ) -> float | Array:
        """R² of the best linear predictor of target from Z' + N(0, σ² I), Z' = W X_m / s.

        The scale s² = tr Cov(W X_m) / k makes Z' unit variance per dimension on average, so
        the result does not depend on the scale of W. At σ = 0 it equals `r2_projection`.

        Args:
            w: Projection W, shape (k, dim_m).
            target: Target name(s).
            modality: 1 or 2.
            sigma: Noise level(s) σ >= 0, scalar or shape (s,).

        Returns:
            A float for scalar sigma, else an array of shape (s,).

        Raises:
            ValueError: If the target has zero variance, or W X_m does.
        """
        sig = np.asarray(sigma, dtype=np.float64)
        if sig.ndim > 1 or np.any(sig < 0) or not np.all(np.isfinite(sig)):
            raise ValueError(f"sigma must be finite and >= 0, scalar or 1-D, got {sig}")
        c_zz, c_zt, c_tt = self._projected(w, target, modality)
        if not np.trace(np.atleast_2d(c_tt)) > 0:
            raise ValueError(f"target {target} has zero variance: its R² is undefined")
        s2 = mean_variance(c_zz, "W X (W must not annihilate X)")
        r2 = r2_from_cov(c_zz / s2, c_zt / np.sqrt(s2), c_tt, sig**2)
        return float(r2) if r2.ndim == 0 else r2

    def split_covariance(self, modality: int = 1) -> tuple[Array, Array]:
        """Split C_mm into the part predictable from the other modality and the rest.

        Returns:
            sigma_sh: Cov(E[X_m | X_other]) = C_mo C_oo⁺ C_om, shape (dim_m, dim_m).
            sigma_res: C_mm - sigma_sh = Cov(X_m - E[X_m | X_other]), shape (dim_m, dim_m).
        """
        i = self._index(modality)
        x, other = f"X{i + 1}", f"X{2 - i}"
        sh = self.regression_map(2 - i) @ self.cross_covariance(other, x)
        sh = (sh + sh.T) / 2
        return sh, self.covariance(x) - sh

    def canonical_correlations(self) -> Array:
        """Canonical correlations of (X1, X2), descending, shape (min(dim_1, dim_2),)."""
        return cca_from_cov(*self._cca_blocks())[0]

    def _cca_blocks(self) -> tuple[Array, Array, Array]:
        return self.covariance("X1"), self.cross_covariance("X1", "X2"), self.covariance("X2")

    def cca_projection(self, k: int, modality: int = 1) -> Array:
        """Top-k canonical directions: W X_m are the top-k canonical variates (unit variance).

        Returns:
            W of shape (k, dim_m), 1 <= k <= dim_m.
        """
        i = self._index(modality)
        if not 1 <= k <= self.dims[i]:
            raise ValueError(f"k must be in [1, {self.dims[i]}], got {k}")
        return cca_from_cov(*self._cca_blocks())[1 + i][:k]

    def pca_projection(self, k: int, modality: int = 1) -> Array:
        """Top-k principal directions of X_m (orthonormal rows), shape (k, dim_m)."""
        return top_eigenvectors(self.covariance(f"X{self._index(modality) + 1}"), k)

    def tradeoff_projection(self, k: int, gamma: float, modality: int = 1) -> Array:
        """Top-k eigenvectors of Σ_sh + γ Σ_res (see `split_covariance`), shape (k, dim_m).

        They maximise tr W (Σ_sh + γ Σ_res) Wᵀ over orthonormal W: γ = 0 is pure alignment
        (redundancy analysis), γ = 1 is PCA.
        """
        if not np.isfinite(gamma) or gamma < 0:
            raise ValueError(f"gamma must be finite and >= 0, got {gamma}")
        sh, res = self.split_covariance(modality)
        return top_eigenvectors(sh + gamma * res, k)

    def alignment_kept(self, w: ArrayLike, modality: int = 1) -> float:
        """Share of the variance of Z = W X_m predictable from the other modality.

        Defined as tr(W Σ_sh Wᵀ) / tr(W C_mm Wᵀ), in [0, 1]: the variance-weighted mean, over
        the directions of Z, of their R² given X_other (ρ² for a canonical variate).
        """
        w = self.check_projection(w, modality)
        sh, res = self.split_covariance(modality)
        return float(np.trace(w @ sh @ w.T) / np.trace(w @ (sh + res) @ w.T))

    # ------------------------------------------------------------ beyond linear CCA
    def _canonical(self) -> tuple[Array, Array, Array, int]:
        """(rho, A, B, d): canonical correlations and directions (rows), d of them positive."""
        rho, a, b = cca_from_cov(*self._cca_blocks())
        return rho, a, b, int(np.sum(rho > _POSITIVE))

    def pmi_cross_matrix(self) -> Array:
        """The matrix P of the cross term x1ᵀ P x2 of the pointwise mutual information.

        The PMI is log p(x1, x2) - log p(x1) - log p(x2), and P = Σᵢ ρᵢ / (1 - ρᵢ²) aᵢ bᵢᵀ over
        the canonical pairs (aᵢ, bᵢ) (rows of `cca_from_cov`'s directions). The rest of
        the PMI is a constant and one quadratic form in each of x1 and x2.

        Returns:
            P, shape (dim_1, dim_2), of rank d_shared (its columns span the aligned subspace).

        Raises:
            ValueError: If a canonical correlation is 1 (noiseless modalities: no density).
        """
        rho, a, b, d = self._canonical()
        if np.any(rho[:d] >= 1 - 1e-12):
            raise ValueError("a canonical correlation is 1: the PMI is infinite (use noise > 0)")
        return (a[:d].T * (rho[:d] / (1 - rho[:d] ** 2))) @ b[:d]

    def infonce_bilinear_loss(self, m: ArrayLike) -> float:
        """Large-batch InfoNCE of the bilinear critic f(x1, x2) = x1ᵀ M x2, up to log(batch).

        L(M) = -E f(X1, X2) + E_{X1} log E_{X2'} exp f(X1, X2'), X2' an independent copy of X2,
        which for Gaussian data is -tr(M C21) + tr(M C22 Mᵀ C11) / 2 (either direction of the
        softmax, hence also the symmetric CLIP loss).

        Args:
            m: M, shape (dim_1, dim_2); for encoders W1, W2 and temperature τ, M = W1ᵀ W2 / τ.
        """
        m = np.asarray(m, dtype=np.float64)
        if m.shape != self.dims:
            raise ValueError(f"M must have shape {self.dims}, got {m.shape}")
        c11, c12, c22 = self._cca_blocks()
        return float(-np.trace(m @ c12.T) + 0.5 * np.trace(m @ c22 @ m.T @ c11))

    def infonce_bilinear_optimum(self, k: int | None = None) -> Array:
        """Minimiser of `infonce_bilinear_loss` over M of rank <= k.

        Unconstrained (k None or k >= d_shared) it is C11⁻¹ C12 C22⁻¹ = Σᵢ ρᵢ aᵢ bᵢᵀ; of rank
        k < d_shared it keeps the top-k canonical pairs (Eckart-Young in whitened coordinates).

        Returns:
            M*, shape (dim_1, dim_2).
        """
        rho, a, b, d = self._canonical()
        keep = d if k is None else min(int(k), d)
        if keep < 0 or (k is not None and k < 1):
            raise ValueError(f"k must be None or an integer >= 1, got {k}")
        return (a[:keep].T * rho[:keep]) @ b[:keep]

    def resample_unaligned(self, x1: ArrayLike, seed: int | np.random.Generator) -> Array:
        """Redraw the canonical variates of X1 with zero canonical correlation.

        Those variates are independent of X2 and of the aligned ones (ρ > 0), so the result has
        the joint law of X1 with X2 and the same aligned variates as ``x1``; averaging f over
        redraws estimates E[f(X1) | aligned variates].

        Args:
            x1: Samples of X1, shape (n, dim_1).
            seed: Seed or generator of the redraw.

        Returns:
            Shape (n, dim_1).
        """
        x1 = np.asarray(x1, dtype=np.float64)
        if x1.ndim != 2 or x1.shape[1] != self.dims[0]:
            raise ValueError(f"x1 must have shape (n, {self.dims[0]}), got {x1.shape}")
        _, a, _, d = self._canonical()
        u = x1 @ a.T  # all canonical variates of X1, unit variance, uncorrelated
        u[:, d:] = np.random.default_rng(seed).standard_normal((len(u), a.shape[0] - d))
        out: Array = np.asarray(np.linalg.solve(a, u.T).T, dtype=np.float64)
        return out
