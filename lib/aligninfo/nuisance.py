"""Nuisance shared by the two modalities, and cross-modal prediction against alignment.

The book's model (:class:`aligninfo.gaussian.GaussianModel`) gains a latent ``N ~ N(0, I_dn)``
that both sensors see and no target loads on:

    X_m = A_m^s S + B_m N + A_m^u U_m + noise_m ε_m,      Y_m = b_ms·S + b_mu·U_m (+ noise).

It is the book's model with the shared latent ``C = [S; N]`` and the target weights of ``N`` set
to zero, so :class:`NuisanceModel` composes a :class:`GaussianModel` built that way and every
closed form of that class applies unchanged. With ``Q_m = Cov(E[C | X_m])``, the posterior
information of modality m about the common latent (a ``dc x dc`` matrix, ``dc = ds + dn``),

- the squared canonical correlations of (X1, X2) are the eigenvalues of ``Q_1 Q_2``;
- the squared singular values of cross-modal prediction (reduced-rank regression of X2 on X1,
  :func:`cross_prediction_projection`) are the eigenvalues of ``Q_1^{1/2} G_2 Q_1^{1/2}`` with
  ``G_2 = A_2^{c⊤} A_2^c`` the Gram matrix of X2's loadings on ``C``.

When the model is *separable* (:meth:`NuisanceModel.is_separable`: ``Q_1``, ``Q_2`` and ``G_2``
block-diagonal in (S, N)), both spectra split into a signal part and a nuisance part, and a
method of size k keeps the signal exactly when every signal value ranks in its top k
(:func:`recovery`). Kamai et al. 2026 (arXiv:2606.11190) is the separable special case built by
:func:`spiked_model`, whose four regimes (both / alignment only / prediction only / neither)
follow from the same condition.

Example:
    >>> m = NuisanceModel.random(d_signal=1, d_nuisance=1, nuisance_scale=2.0, seed=0)
    >>> recovery(m, k=1)  # which of alignment and cross-prediction keeps the signal
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from aligninfo.gaussian import GaussianModel
from aligninfo.linalg import RTOL, Array, r2_from_cov, sqrtm_psd

__all__ = [
    "NuisanceModel",
    "Recovery",
    "REGIMES",
    "add_nuisance",
    "cross_prediction_error",
    "cross_prediction_map",
    "cross_prediction_projection",
    "cross_prediction_values",
    "recovery",
    "signal_kept",
    "spiked_model",
]

REGIMES = ("both", "alignment only", "prediction only", "neither")
"""The four regimes of Kamai et al.: which of alignment and cross-prediction keeps the signal."""


def _sorted_roots(values: np.ndarray) -> Array:
    """Square roots of non-negative eigenvalues, descending (tiny negatives clipped)."""
    roots = np.sqrt(np.clip(np.asarray(values, dtype=np.float64), 0.0, None))
    return np.asarray(np.sort(roots)[::-1], dtype=np.float64)


@dataclass(frozen=True)
class NuisanceModel:
    """The book's model with a nuisance latent that both modalities see and no target uses.

    Attributes:
        model: The :class:`GaussianModel` whose shared latent is ``[S; N]`` (signal first) and
            whose target weights on ``N`` are zero.
        d_nuisance: Dimension of ``N``, the last ``d_nuisance`` coordinates of the shared latent.
    """

    model: GaussianModel
    d_nuisance: int

    def __post_init__(self) -> None:
        dn = self.d_nuisance
        if isinstance(dn, bool) or int(dn) != dn or not 0 <= dn <= self.model.d_shared:
            raise ValueError(
                f"d_nuisance must be an integer in [0, {self.model.d_shared}], got {dn!r}"
            )
        for i, b in enumerate(self.model.target_shared):
            if dn and np.any(b[b.size - dn :] != 0):
                raise ValueError(f"target {i + 1} loads on the nuisance: its weights must be 0")

    @classmethod
    def random(
        cls,
        d_signal: int = 2,
        d_nuisance: int = 2,
        d_unique: int | tuple[int, int] = (2, 2),
        dims: int | tuple[int, int] = (8, 8),
        noise: float | tuple[float, float] = (0.3, 0.3),
        unique_share: float | tuple[float, float] = (0.5, 0.5),
        nuisance_scale: float = 1.0,
        seed: int = 0,
    ) -> NuisanceModel:
        """A random book model (:meth:`GaussianModel.random`) plus random nuisance loadings.

        ``B_m`` has i.i.d. ``N(0, nuisance_scale² / (d_signal + d_unique_m))`` entries, so
        ``nuisance_scale = 1`` gives the nuisance the variance per latent of the signal.

        Args:
            d_signal: Dimension of S.
            d_nuisance: Dimension of N.
            d_unique: Dimensions of U1, U2.
            dims: Dimensions of X1, X2 (each >= d_signal + d_unique_m).
            noise: Sensor noise standard deviations.
            unique_share: Share of each target carried by U_m.
            nuisance_scale: Scale of the nuisance loadings, >= 0.
            seed: Seed of the draw.

        Returns:
            The model.
        """
        if not np.isfinite(nuisance_scale) or nuisance_scale < 0:
            raise ValueError(f"nuisance_scale must be finite and >= 0, got {nuisance_scale}")
        base = GaussianModel.random(
            d_shared=d_signal,
            d_unique=d_unique,
            dims=dims,
            noise=noise,
            unique_share=unique_share,
            seed=seed,
        )
        rng = np.random.default_rng([seed, 1])
        loads = []
        for i in range(2):
            p, k = base.dims[i], base.mixing[i].shape[1]
            loads.append(rng.standard_normal((p, d_nuisance)) * nuisance_scale / np.sqrt(k))
        return add_nuisance(base, (loads[0], loads[1]))

    # ------------------------------------------------------------------ sizes and blocks
    @property
    def d_signal(self) -> int:
        """Dimension of S, the part of the shared latent the targets may load on."""
        return self.model.d_shared - self.d_nuisance

    def _blocks(self) -> tuple[slice, slice]:
        return slice(0, self.d_signal), slice(self.d_signal, self.model.d_shared)

    def shared_loading(self, modality: int) -> Array:
        """``A_m^c = [A_m^s, B_m]``, the loading of X_m on ``C = [S; N]``, (dim_m, dc)."""
        return self.model.cross_covariance(f"X{modality}", "S")

    def posterior_information(self, modality: int) -> Array:
        """``Q_m = Cov(E[C | X_m]) = A_m^{c⊤} C_mm⁻¹ A_m^c``, (dc, dc), eigenvalues in [0, 1]."""
        a = self.shared_loading(modality)
        c = self.model.covariance(f"X{modality}")
        q = a.T @ np.linalg.pinv(c, rtol=RTOL, hermitian=True) @ a
        return (q + q.T) / 2

    def is_separable(self, tol: float = 1e-9) -> bool:
        """Whether ``Q_1``, ``Q_2`` and ``G_2 = A_2^{c⊤} A_2^c`` are block-diagonal in (S, N).

        Then the posteriors of signal and nuisance are uncorrelated given either modality, and
        the canonical correlations and the cross-prediction values split into a signal and a
        nuisance part (:meth:`split_spectra`).
        """
        s, n = self._blocks()
        g2 = self.shared_loading(2).T @ self.shared_loading(2)
        mats = (self.posterior_information(1), self.posterior_information(2), g2)
        return all(
            np.abs(m[s, n]).max(initial=0.0) <= tol * max(1.0, np.abs(m).max()) for m in mats
        )

    def split_spectra(self) -> dict[str, Array]:
        """Canonical correlations and cross-prediction values of the signal and the nuisance.

        For a separable model (checked), ``rho_signal`` are the square roots of the eigenvalues
        of ``Q_1^s Q_2^s`` and ``rho_nuisance`` of ``Q_1^n Q_2^n``; ``tau_signal`` of
        ``(Q_1^s)^{1/2} G_2^s (Q_1^s)^{1/2}`` and ``xi_nuisance`` of the nuisance blocks. All
        descending. Their union is the full spectrum of each method.

        Raises:
            ValueError: If the model is not separable.
        """
        if not self.is_separable():
            raise ValueError(
                "the model is not separable: signal and nuisance mix (see is_separable)"
            )
        out: dict[str, Array] = {}
        q1, q2 = self.posterior_information(1), self.posterior_information(2)
        a2 = self.shared_loading(2)
        g2 = a2.T @ a2
        for name, b in zip(("signal", "nuisance"), self._blocks(), strict=True):
            root = sqrtm_psd(q1[b, b])
            out[f"rho_{name}"] = _sorted_roots(np.linalg.eigvalsh(root @ q2[b, b] @ root))
            key = "tau_signal" if name == "signal" else "xi_nuisance"
            out[key] = _sorted_roots(np.linalg.eigvalsh(root @ g2[b, b] @ root))
        return out


def add_nuisance(base: GaussianModel, loadings: tuple[ArrayLike, ArrayLike]) -> NuisanceModel:
    """The base model with a nuisance ``N`` seen by both modalities through ``B_1``, ``B_2``.

    Args:
        base: The book's model (its shared latent becomes the signal S).
        loadings: ``(B_1, B_2)``, shapes ``(dim_1, dn)`` and ``(dim_2, dn)``.

    Returns:
        The :class:`NuisanceModel`; its targets are those of ``base``.
    """
    b = [np.asarray(x, dtype=np.float64) for x in loadings]
    if len(b) != 2 or any(x.ndim != 2 for x in b) or b[0].shape[1] != b[1].shape[1]:
        raise ValueError("loadings must be two 2-D arrays with the same number of columns")
    for i in range(2):
        if b[i].shape[0] != base.dims[i] or not np.all(np.isfinite(b[i])):
            raise ValueError(f"loadings[{i}] must be finite with {base.dims[i]} rows")
    ds, dn = base.d_shared, b[0].shape[1]
    mixing = tuple(
        np.hstack([a[:, :ds], bm, a[:, ds:]]) for a, bm in zip(base.mixing, b, strict=True)
    )
    shared = tuple(np.concatenate([bs, np.zeros(dn)]) for bs in base.target_shared)
    model = GaussianModel(
        (mixing[0], mixing[1]),
        base.noise,
        (shared[0], shared[1]),
        base.target_unique,
        base.target_noise,
    )
    return NuisanceModel(model, dn)


def spiked_model(
    kappas: ArrayLike,
    gamma_x_s: ArrayLike,
    gamma_y_s: ArrayLike,
    gamma_x_n: ArrayLike,
    gamma_y_n: ArrayLike,
    etas: ArrayLike,
    seed: int = 0,
) -> NuisanceModel:
    """Kamai et al.'s spiked covariance model as a :class:`NuisanceModel`.

    In random orthogonal bases ``Q_x``, ``Q_y`` of ``R^d`` their modalities are
    ``X = Q_x [s + n_x^s; n_x^n]``, ``Y = Q_y [s + n_y^s; n_y^n]`` with ``s ~ N(0, diag κ²)``,
    independent noises of variances ``γ_x^s``, ``γ_y^s`` on the k signal coordinates, and on the
    ``d - k`` nuisance coordinates noises of variances ``γ_x^n``, ``γ_y^n`` correlated across
    modalities with covariances ``η``. Here: ``S`` standard with loadings ``Q κ`` on both;
    ``N_j`` with loadings ``a_j``, ``b_j`` (``a_j b_j = η_j``, ``a_j² = η_j (γ_x^n/γ_y^n)^{1/2}``);
    their coordinate noises as the modality-specific latents ``U_m`` (diagonal, d of them); the
    book's isotropic sensor noise 0. The targets are ``Σ_i S_i / √k`` (unit variance, S the
    standardised signal): their task is to recover the signal subspace, with no
    modality-specific target information.

    Args:
        kappas: ``(k,)`` signal strengths κ > 0.
        gamma_x_s: ``(k,)`` noise variances of X on the signal coordinates, > 0.
        gamma_y_s: ``(k,)`` the same for Y (modality 2).
        gamma_x_n: ``(d-k,)`` noise variances of X on the nuisance coordinates, > 0.
        gamma_y_n: ``(d-k,)`` the same for Y.
        etas: ``(d-k,)`` cross-covariances, ``0 <= η <= (γ_x^n γ_y^n)^{1/2}``.
        seed: Seed of the orthogonal bases.

    Returns:
        The model (modality 1 is their X, modality 2 their Y).
    """
    kap, gxs, gys = (
        np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (kappas, gamma_x_s, gamma_y_s)
    )
    gxn, gyn, eta = (
        np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (gamma_x_n, gamma_y_n, etas)
    )
    k, dn = kap.size, gxn.size
    if gxs.size != k or gys.size != k or gyn.size != dn or eta.size != dn:
        raise ValueError("kappas, gamma_x_s, gamma_y_s have length k; the others d - k")
    if (
        np.any(kap <= 0)
        or np.any(gxs <= 0)
        or np.any(gys <= 0)
        or np.any(gxn <= 0)
        or np.any(gyn <= 0)
    ):
        raise ValueError("kappas and every noise variance must be > 0")
    if np.any(eta < 0) or np.any(eta > np.sqrt(gxn * gyn) * (1 + 1e-12)):
        raise ValueError("etas must lie in [0, sqrt(gamma_x_n * gamma_y_n)]")
    d = k + dn
    rng = np.random.default_rng(seed)
    qs = [np.linalg.qr(rng.standard_normal((d, d)))[0] for _ in range(2)]
    a = np.sqrt(eta * np.sqrt(gxn / gyn))
    b = np.divide(eta, a, out=np.zeros_like(eta), where=a > 0)
    mixing = []
    for q, load, g_s, g_n in ((qs[0], a, gxs, gxn), (qs[1], b, gys, gyn)):
        shared = q @ np.vstack([np.diag(kap), np.zeros((dn, k))])
        nuis = q @ np.vstack([np.zeros((k, dn)), np.diag(load)])
        own = q @ np.diag(np.sqrt(np.concatenate([g_s, (g_n - load**2).clip(0.0, None)])))
        mixing.append(np.hstack([shared, nuis, own]))
    target = np.concatenate([np.full(k, 1 / np.sqrt(k)), np.zeros(dn)])
    model = GaussianModel(
        (mixing[0], mixing[1]), (0.0, 0.0), (target, target), (np.zeros(d), np.zeros(d))
    )
    return NuisanceModel(model, dn)


# ------------------------------------------------------------------------ cross-prediction
def _whitened_cross(model: GaussianModel) -> tuple[Array, Array]:
    """``C_11^{-1/2}`` (pseudo-inverse root) and ``C_11^{-1/2} C_12``."""
    c11, c12 = model.covariance("X1"), model.cross_covariance("X1", "X2")
    root_inv = np.asarray(np.linalg.pinv(sqrtm_psd(c11), rtol=RTOL, hermitian=True), np.float64)
    return root_inv, root_inv @ c12


def cross_prediction_values(model: GaussianModel) -> Array:
    """Singular values of ``C_11^{-1/2} C_12``, descending, shape (min(dim_1, dim_2),).

    Their squares are the eigenvalues of ``C_21 C_11⁻¹ C_12 = Cov(E[X_2 | X_1])``: the variance
    of X2 that each direction of cross-prediction from X1 explains.
    """
    return np.asarray(np.linalg.svd(_whitened_cross(model)[1], compute_uv=False), np.float64)


def cross_prediction_projection(model: GaussianModel, k: int) -> Array:
    """Encoder of X1 in rank-k reduced-rank regression of X2 on X1 (cross-prediction).

    The minimiser of ``E‖X_2 - B X_1‖²`` over ``B`` of rank <= k is ``B = D W`` with
    ``W = U_kᵀ C_11^{-1/2}``, ``U_k`` the top-k left singular vectors of ``C_11^{-1/2} C_12``
    (Izenman 1975), and ``D = C_21 Wᵀ`` (``W C_11 Wᵀ = I``). Any invertible map of ``W X_1`` is
    as good; this one has uncorrelated, unit-variance features.

    Args:
        model: The Gaussian model.
        k: Rank, ``1 <= k <= dim_1``.

    Returns:
        ``W``, shape (k, dim_1).
    """
    p1 = model.dims[0]
    if isinstance(k, bool) or int(k) != k or not 1 <= k <= p1:
        raise ValueError(f"k must be an integer in [1, {p1}], got {k!r}")
    root_inv, whitened = _whitened_cross(model)
    u, _, _ = np.linalg.svd(whitened)
    return u[:, :k].T @ root_inv


def cross_prediction_map(model: GaussianModel, k: int) -> Array:
    """The rank-k reduced-rank regression ``B`` with ``E[X_2 | W X_1] = B X_1``, (dim_2, dim_1)."""
    w = cross_prediction_projection(model, k)
    return model.cross_covariance("X2", "X1") @ w.T @ w


def cross_prediction_error(model: GaussianModel, w: ArrayLike) -> float:
    """``E‖X_2 - E[X_2 | W X_1]‖²``: the population cross-prediction loss of the features W X_1.

    ``tr C_22 - tr C_2z C_zz⁺ C_z2`` with ``z = W X_1``: what
    :func:`aligninfo.losses.cross_prediction` estimates, times dim_2, on large batches.
    """
    w = model.check_projection(w, 1)
    lz, lx = w @ model.loading("X1"), model.loading("X2")
    c22 = lx @ lx.T
    explained = r2_from_cov(lz @ lz.T, lz @ lx.T, c22)
    return float(np.trace(c22) * (1 - explained))


# ---------------------------------------------------------------------------- recovery
def signal_kept(nm: NuisanceModel, w: ArrayLike) -> float:
    """Share of what X1 knows of the signal that ``W X_1`` keeps.

    ``R²(S | W X_1) / R²(S | X_1)`` (R² of the vector S: explained share of its total
    variance), in [0, 1]; 1 when the features span ``E[S | X_1]``.
    """
    w = nm.model.check_projection(w, 1)
    ls = nm.model.loading("S")[: nm.d_signal]
    lz, lx = w @ nm.model.loading("X1"), nm.model.loading("X1")
    c_ss = ls @ ls.T
    full = float(r2_from_cov(lx @ lx.T, lx @ ls.T, c_ss))
    if not full > 0:
        raise ValueError("X1 carries no information on the signal")
    return float(r2_from_cov(lz @ lz.T, lz @ ls.T, c_ss)) / full


@dataclass(frozen=True)
class Recovery:
    """Which of alignment (CCA) and cross-prediction (RRR of X2 on X1) of size k keep the signal.

    Attributes:
        k: Size of both representations.
        alignment_kept: :func:`signal_kept` of the top-k canonical directions of X1.
        prediction_kept: :func:`signal_kept` of the rank-k cross-prediction encoder.
        alignment_recovers: ``alignment_kept`` is 1 (to 1e-6).
        prediction_recovers: ``prediction_kept`` is 1 (to 1e-6).
        regime: One of :data:`REGIMES`.
        delta_alignment: For a separable model and ``k >= d_signal``, the smallest signal
            canonical correlation over the ``(k - d_signal + 1)``-th largest nuisance one
            (inf when there is none); > 1 exactly when alignment recovers. Else NaN.
        delta_prediction: The same ratio for the cross-prediction values.
    """

    k: int
    alignment_kept: float
    prediction_kept: float
    alignment_recovers: bool
    prediction_recovers: bool
    regime: str
    delta_alignment: float
    delta_prediction: float


def _ratio(signal: Array, nuisance: Array, rank: int) -> float:
    """min(signal) / the rank-th largest nuisance value (1-based); inf if there is none."""
    if rank > nuisance.size or nuisance[rank - 1] <= 0:
        return float("inf")
    return float(signal.min() / nuisance[rank - 1])


def recovery(nm: NuisanceModel, k: int | None = None, tol: float = 1e-6) -> Recovery:
    """Whether alignment and cross-prediction of size k keep the signal, and the regime.

    Args:
        nm: The model.
        k: Size of the representations (None: ``d_signal``).
        tol: A share kept above ``1 - tol`` counts as recovered.

    Returns:
        The :class:`Recovery`.
    """
    k = nm.d_signal if k is None else k
    a = signal_kept(nm, nm.model.cca_projection(k, 1))
    p = signal_kept(nm, cross_prediction_projection(nm.model, k))
    ra, rp = a > 1 - tol, p > 1 - tol
    regime = REGIMES[2 * (not ra) + (not rp)]
    da = dp = float("nan")
    if k >= nm.d_signal and nm.is_separable():
        sp = nm.split_spectra()
        rank = k - nm.d_signal + 1
        da = _ratio(sp["rho_signal"], sp["rho_nuisance"], rank)
        dp = _ratio(sp["tau_signal"], sp["xi_nuisance"], rank)
    return Recovery(int(k), a, p, bool(ra), bool(rp), regime, da, dp)
