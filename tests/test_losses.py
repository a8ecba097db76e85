"""Losses against independent NumPy references, known values and invalid inputs."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.special import logsumexp

from aligninfo import losses as L
from aligninfo.encoders import FUSED, MLP, Fusion, MLPDecoder, MultimodalEncoder, make_projector

# ----------------------------------------------------------------- NumPy references


def ref_info_nce(z1, z2, t, normalize=True):
    if normalize:
        z1 = z1 / np.linalg.norm(z1, axis=1, keepdims=True)
        z2 = z2 / np.linalg.norm(z2, axis=1, keepdims=True)
    s = z1 @ z2.T / t
    one_to_two = np.mean(logsumexp(s, axis=1) - np.diag(s))
    two_to_one = np.mean(logsumexp(s, axis=0) - np.diag(s))
    return (one_to_two + two_to_one) / 2


def ref_nt_xent(a, b, t):
    z = np.vstack([a, b])
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    n2 = len(z)
    total = 0.0
    for i in range(n2):
        others = [j for j in range(n2) if j != i]
        sims = np.array([z[i] @ z[j] / t for j in others])
        positive = z[i] @ z[(i + n2 // 2) % n2] / t
        total += logsumexp(sims) - positive
    return total / n2


def ref_corr(z1, z2, eps):
    def standardise(z):
        c = z - z.mean(0)
        return c / np.sqrt(np.mean(c**2, 0) + eps)

    return standardise(z1).T @ standardise(z2) / len(z1)


def ref_barlow(z1, z2, lambd, eps=1e-5):
    c = ref_corr(z1, z2, eps)
    d = len(c)
    on = sum((1 - c[i, i]) ** 2 for i in range(d))
    off = sum(c[i, j] ** 2 for i in range(d) for j in range(d) if i != j)
    return on + lambd * off


def ref_decur(z1, z2, k, lambd, eps=1e-5):
    """DeCUR's cross-modal term: (L_common + L_unique) / 2, as in the original."""
    c = ref_corr(z1, z2, eps)
    d = len(c)
    common = unique = 0.0
    for i in range(d):
        for j in range(d):
            if (i < k) != (j < k):
                continue  # across the blocks: not in the loss
            if i == j:
                term = (1 - c[i, i]) ** 2 if i < k else c[i, i] ** 2
            else:
                term = lambd * c[i, j] ** 2
            if i < k:
                common += term
            else:
                unique += term
    return (common + unique) / 2


def ref_comm(za, zb, ua, ub, t):
    """CoMM: mean over the unimodal and multimodal terms of the two-sided NT-Xent."""
    pairs = [*zip(ua, ub, strict=True), (za, zb)]
    return np.mean([(ref_nt_xent(a, zb, t) + ref_nt_xent(b, za, t)) / 2 for a, b in pairs])


def ref_vicreg(z1, z2, sw=25.0, vw=25.0, cw=1.0, gamma=1.0, eps=1e-4):
    d = z1.shape[1]

    def var(z):
        return np.mean(np.maximum(0, gamma - np.sqrt(np.var(z, axis=0, ddof=1) + eps)))

    def cov(z):
        c = np.cov(z, rowvar=False)
        return (np.sum(c**2) - np.sum(np.diag(c) ** 2)) / d

    inv = np.mean((z1 - z2) ** 2)
    return sw * inv + vw * (var(z1) + var(z2)) / 2 + cw * (cov(z1) + cov(z2))


def ref_cca(z1, z2, penalty):
    d = z1.shape[1]
    full = np.cov(np.hstack([z1, z2]), rowvar=False)
    c11, c22, c12 = full[:d, :d], full[d:, d:], full[:d, d:]
    eye = np.eye(d)
    return (-np.trace(c12) + penalty * (np.sum((c11 - eye) ** 2) + np.sum((c22 - eye) ** 2))) / d


def pair(n=16, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal((n, d))


def t(a):
    return torch.tensor(a, dtype=torch.float32)


def whitened(n, d, seed=0):
    """n x d columns that are centred, orthogonal and of unit (biased) variance."""
    a = np.random.default_rng(seed).standard_normal((n, d))
    q, _ = np.linalg.qr(a - a.mean(0))
    return q * np.sqrt(n)


# ----------------------------------------------------------------- against the references


@pytest.mark.parametrize("temperature", [0.07, 0.5, 2.0])
@pytest.mark.parametrize("normalize", [True, False])
def test_info_nce_matches_reference(temperature, normalize):
    z1, z2 = pair(seed=1)
    got = L.info_nce(t(z1), t(z2), temperature, normalize).item()
    assert got == pytest.approx(ref_info_nce(z1, z2, temperature, normalize), rel=1e-4)


def test_nt_xent_matches_reference():
    a, b = pair(n=10, seed=2)
    assert L.nt_xent(t(a), t(b), 0.3).item() == pytest.approx(ref_nt_xent(a, b, 0.3), rel=1e-4)


def test_barlow_twins_matches_reference():
    z1, z2 = pair(seed=3)
    got = L.barlow_twins(t(z1), t(z2), lambd=0.1).item()
    assert got == pytest.approx(ref_barlow(z1, z2, 0.1), rel=1e-4)


def test_vicreg_matches_reference():
    z1, z2 = pair(seed=4)
    z1 *= 0.5  # below unit standard deviation: the variance hinge is active
    assert L.vicreg(t(z1), t(z2)).item() == pytest.approx(ref_vicreg(z1, z2), rel=1e-4)


@pytest.mark.parametrize("n_common", [0, 2, 6])
def test_decur_matches_reference(n_common):
    z1, z2 = pair(seed=5)
    got = L.decur(t(z1), t(z2), n_common, lambd=0.2).item()
    assert got == pytest.approx(ref_decur(z1, z2, n_common, 0.2), rel=1e-4)


def test_decur_with_everything_common_is_half_barlow_twins():
    z1, z2 = pair(seed=6)  # the original's weight: (L_c + L_u) / 2, with L_u = 0 here
    expected = L.barlow_twins(t(z1), t(z2)).item() / 2
    assert L.decur(t(z1), t(z2), 6).item() == pytest.approx(expected)


def test_cca_matches_reference():
    z1, z2 = pair(seed=7)
    assert L.cca(t(z1), t(z2), 0.3).item() == pytest.approx(ref_cca(z1, z2, 0.3), rel=1e-4)


def test_reconstruction_matches_reference():
    rng = np.random.default_rng(8)
    x, x_hat = rng.standard_normal((5, 2, 3)), rng.standard_normal((5, 2, 3))
    got = L.reconstruction(t(x_hat), t(x)).item()
    assert got == pytest.approx(np.mean((x - x_hat) ** 2), rel=1e-5)


def test_comm_matches_reference():
    rng = np.random.default_rng(9)
    za, zb, u1a, u2a, u1b, u2b = (rng.standard_normal((8, 4)) for _ in range(6))
    expected = ref_comm(za, zb, [u1a, u2a], [u1b, u2b], 0.2)
    got = L.comm(t(za), t(zb), [t(u1a), t(u2a)], [t(u1b), t(u2b)], 0.2).item()
    assert got == pytest.approx(expected, rel=1e-4)
    with pytest.raises(ValueError, match="one entry per modality"):
        L.comm(t(za), t(zb), [t(u1a)], [t(u1b), t(u2b)])


def test_comm_multimodal_term_alone_is_nt_xent():
    za, zb = pair(n=8, d=4, seed=10)
    assert L.comm(t(za), t(zb), [], [], 0.3).item() == pytest.approx(
        ref_nt_xent(za, zb, 0.3), rel=1e-4
    )


# ----------------------------------------------------------------- known values


def test_info_nce_is_symmetric_and_nonnegative():
    for seed in range(5):
        z1, z2 = t(pair(seed=seed)[0]), t(pair(seed=seed)[1])
        assert L.info_nce(z1, z2).item() == pytest.approx(L.info_nce(z2, z1).item(), rel=1e-6)
        assert L.info_nce(z1, z2).item() >= 0


@pytest.mark.parametrize("n", [2, 7, 64])
def test_info_nce_equals_log_batch_when_uninformative(n):
    z = torch.ones(n, 3)  # every similarity equal: the log(batch) bound of InfoNCE
    assert L.info_nce(z, z).item() == pytest.approx(math.log(n), rel=1e-6)


def test_info_nce_of_perfectly_aligned_orthogonal_pairs():
    n, temperature = 5, 0.25
    z = torch.eye(n)  # cosine 1 with the partner, 0 with the others
    expected = math.log(1 + (n - 1) * math.exp(-1 / temperature))
    assert L.info_nce(z, z, temperature).item() == pytest.approx(expected, rel=1e-5)
    assert L.info_nce(z, z, temperature).item() < math.log(n)


def test_nt_xent_of_identical_orthogonal_views():
    n, temperature = 4, 0.5
    z = torch.eye(n)
    expected = math.log(math.exp(2.0) + 2 * (n - 1)) - 2.0  # positive 1/T = 2, negatives 0
    assert L.nt_xent(z, z, temperature).item() == pytest.approx(expected, rel=1e-5)


def test_barlow_twins_and_vicreg_vanish_on_identical_whitened_embeddings():
    z = t(whitened(32, 4))
    assert L.barlow_twins(z, z).item() == pytest.approx(0, abs=1e-4)
    assert L.vicreg(2 * z, 2 * z).item() == pytest.approx(0, abs=1e-4)  # std 2 > gamma


def test_decur_vanishes_for_shared_common_and_independent_unique_dims():
    q = whitened(32, 3)
    z1, z2 = t(q[:, [0, 1]]), t(q[:, [0, 2]])
    assert L.decur(z1, z2, n_common=1).item() == pytest.approx(0, abs=1e-4)
    assert L.decur(z1, z2, n_common=2).item() == pytest.approx(0.5, abs=1e-3)  # (1 + 0) / 2


def test_cca_known_values():
    q = whitened(40, 3) * math.sqrt(39 / 40)  # unit *unbiased* variance
    z = t(q)
    assert L.cca(z, z).item() == pytest.approx(-1, abs=1e-5)
    assert L.cca(z, -z).item() == pytest.approx(1, abs=1e-5)


def test_losses_compute_in_float32_under_autocast():
    z1, z2 = (t(a) for a in pair(n=32, d=16, seed=11))
    exact = L.info_nce(z1, z2).item()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = L.info_nce(z1.bfloat16(), z2.bfloat16())
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(exact, rel=2e-2)


def test_learnable_temperature_receives_gradient():
    temp = L.LearnableTemperature(0.2)
    z1, z2 = (t(a).requires_grad_() for a in pair(seed=12))
    assert temp().item() == pytest.approx(0.2, rel=1e-6)
    L.info_nce(z1, z2, temp()).backward()
    assert temp.log_inverse.grad is not None and temp.log_inverse.grad.abs() > 0
    assert z1.grad is not None and torch.isfinite(z1.grad).all()


# ----------------------------------------------------------------- invalid inputs

PAIR_LOSSES = [L.info_nce, L.nt_xent, L.cca, L.barlow_twins, L.vicreg]


@pytest.mark.parametrize("loss", PAIR_LOSSES + [lambda a, b: L.decur(a, b, 1)])
def test_invalid_inputs_raise(loss):
    z = torch.randn(4, 3)
    with pytest.raises(ValueError, match="shape mismatch"):
        loss(z, torch.randn(4, 2))
    with pytest.raises(ValueError, match="batch of 1"):
        loss(z[:1], z[:1])
    with pytest.raises(ValueError, match=r"\(batch, dim\)"):
        loss(z[0], z[0])
    for bad in (math.nan, math.inf):
        z_bad = z.clone()
        z_bad[1, 2] = bad
        with pytest.raises(ValueError, match="NaN or Inf"):
            loss(z_bad, z)


@pytest.mark.parametrize("temperature", [0.0, -1.0, math.nan, math.inf])
def test_invalid_temperature_raises(temperature):
    z = torch.randn(4, 3)
    for loss in (L.info_nce, L.nt_xent):
        with pytest.raises(ValueError, match="temperature"):
            loss(z, z, temperature)
    with pytest.raises(ValueError, match="temperature"):
        L.InfoNCE(temperature)


def test_finite_checks_name_the_bad_tensor_and_accept_entries_whose_sum_overflows():
    ok = torch.randn(4, 3)
    for bad_entries in ((math.inf,), (-math.inf,), (math.inf, -math.inf), (math.nan,)):
        x = ok.clone()
        x.view(-1)[: len(bad_entries)] = torch.tensor(bad_entries)
        with pytest.raises(ValueError, match="^x contains NaN or Inf"):
            L.reconstruction(ok, x)
    huge = torch.full((4, 3), 3e38)  # finite, but their float32 sum is infinite
    assert L.reconstruction(huge, huge).item() == 0.0
    assert math.isinf(huge.sum().item())


@pytest.mark.parametrize("value", [0.0, -1.0, math.nan, math.inf])
def test_an_invalid_tensor_temperature_raises(value):
    z = torch.randn(4, 3)
    for temperature in (torch.tensor(value), torch.tensor([value]), torch.tensor([0.5, value])):
        for loss in (L.info_nce, L.nt_xent):
            with pytest.raises(ValueError, match="temperature"):
                loss(z, z, temperature)


def masked_nt_xent(za, zb, temperature):
    """NT-Xent written the plain way: an out-of-place quotient and a masked copy of it."""
    z = F.normalize(torch.cat([za, zb]), dim=1)
    n = len(za)
    eye = torch.eye(2 * n, dtype=torch.bool)
    logits = (z @ z.T / temperature).masked_fill(eye, -math.inf)
    index = torch.arange(n)
    return F.cross_entropy(logits, torch.cat([index + n, index]))


def plain_info_nce(z1, z2, temperature):
    z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    logits = z1 @ z2.T / temperature
    labels = torch.arange(len(z1))
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


@pytest.mark.parametrize("learnt", [False, True], ids=["fixed", "learnt"])
@pytest.mark.parametrize(
    "loss, plain", [(L.nt_xent, masked_nt_xent), (L.info_nce, plain_info_nce)], ids=["nt", "nce"]
)
def test_contrastive_losses_equal_the_plain_formula_bit_for_bit(loss, plain, learnt):
    """The in-place quotient and diagonal keep the values and gradients of the plain formula."""
    torch.manual_seed(0)
    x1, x2, w = torch.randn(64, 5), torch.randn(64, 5), torch.randn(5, 4)
    results = []
    for f in (loss, plain):
        weight = w.clone().requires_grad_()
        temperature = torch.tensor(0.3, requires_grad=True) if learnt else 0.3
        value = f(x1 @ weight, x2 @ weight, temperature)
        value.backward()
        grads = [weight.grad] + ([temperature.grad] if learnt else [])
        results.append([value.detach(), *grads])
    for got, want in zip(*results, strict=True):
        assert torch.equal(got, want)


def test_other_invalid_arguments_raise():
    z = torch.randn(4, 3)
    with pytest.raises(ValueError, match="n_common"):
        L.decur(z, z, 4)
    with pytest.raises(ValueError, match="penalty"):
        L.cca(z, z, 0.0)
    with pytest.raises(ValueError, match="shape mismatch"):
        L.reconstruction(z, z[:, :2])
    with pytest.raises(ValueError, match="unknown objective"):
        L.make_objective("clip-ish")


def test_finite_checks_can_be_switched_off():
    z = torch.randn(4, 3)
    z[0, 0] = math.nan
    with L.finite_checks(False):
        assert math.isnan(L.info_nce(z, z).item())
    with pytest.raises(ValueError):
        L.info_nce(z, z)


# ----------------------------------------------------------------- objectives


def toy_model(seed=0):
    torch.manual_seed(seed)
    return MultimodalEncoder(
        {"x1": MLP(6, 4, (16,)), "x2": MLP(5, 4, (16,))},
        decoders={"x1": MLPDecoder(4, 6, (16,)), "x2": MLPDecoder(4, 5, (16,))},
        fusion=Fusion({"x1": 4, "x2": 4}, 4, (16,)),
    )


def toy_batch(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(n, 3, generator=g)
    u1, u2 = torch.randn(n, 1, generator=g), torch.randn(n, 1, generator=g)
    x1 = torch.cat([s, u1], 1) @ torch.randn(4, 6, generator=g)
    x2 = torch.cat([s, u2], 1) @ torch.randn(4, 5, generator=g)
    return {"x1": x1, "x2": x2, "y": s[:, 0]}


def build(name):
    return L.make_objective(name, n_common=2) if name == "decur" else L.make_objective(name)


def test_registry_names():
    assert set(L.OBJECTIVES) >= {
        "info_nce", "cca", "barlow_twins", "vicreg", "decur", "simclr", "reconstruction",
        "cross_self", "cross_recon", "comm",
    }  # fmt: skip


@pytest.mark.parametrize("name", sorted(L.OBJECTIVES))
def test_every_objective_decreases_on_a_toy_problem(name):
    model, objective, batch = toy_model(), build(name), toy_batch()
    params = list(model.parameters()) + list(objective.parameters())
    opt = torch.optim.Adam(params, lr=1e-2)

    def evaluate():
        torch.manual_seed(123)  # the same augmentations before and after
        with torch.no_grad():
            return objective(model, batch).item()

    before = evaluate()
    for _ in range(40):
        opt.zero_grad()
        loss = objective(model, batch)
        assert loss.dim() == 0 and torch.isfinite(loss)
        loss.backward()
        opt.step()
    after = evaluate()
    assert after < before - 0.05 * abs(before), (name, before, after)


def test_info_nce_objective_matches_the_function():
    model, batch = toy_model(), toy_batch()
    z1, z2 = model.encode("x1", batch["x1"]), model.encode("x2", batch["x2"])
    got = L.InfoNCE(0.3)(model, batch).item()
    assert got == pytest.approx(L.info_nce(z1, z2, 0.3).item(), rel=1e-6)


def test_learnable_objective_exposes_its_parameter():
    objective = L.InfoNCE(0.1, learnable=True)
    assert len(list(objective.parameters())) == 1
    assert len(list(L.InfoNCE(0.1).parameters())) == 0  # a temperature given alone stays fixed


def test_info_nce_learns_its_temperature_by_default():
    objective, model, batch = L.InfoNCE(), toy_model(), toy_batch()
    assert len(list(objective.parameters())) == 1
    assert objective.temperature == pytest.approx(0.1)
    opt = torch.optim.Adam(list(model.parameters()) + list(objective.parameters()), lr=5e-2)
    for _ in range(10):
        opt.zero_grad()
        objective(model, batch).backward()
        opt.step()
    learned = L.learned_temperatures(objective)
    assert list(learned) == ["learnable_temperature"]
    assert learned["learnable_temperature"] == pytest.approx(objective.temperature)
    assert objective.temperature != pytest.approx(0.1, abs=1e-3), "the temperature moved"
    nested = L.learned_temperatures(L.make_objective("cross_recon"))
    assert list(nested) == ["terms.0.learnable_temperature"]
    assert L.learned_temperatures(L.InfoNCE(0.2)) == {}


def test_weighted_sum_adds_its_terms():
    model, batch = toy_model(), toy_batch()
    a, b = L.InfoNCE(), L.Reconstruction()
    total = L.WeightedSum([(1.0, a), (0.5, b)])(model, batch).item()
    assert total == pytest.approx(a(model, batch).item() + 0.5 * b(model, batch).item(), rel=1e-6)


# ----------------------------------------------------------------- projection heads


def projected_model(seed=0):
    torch.manual_seed(seed)
    return MultimodalEncoder(
        {"x1": MLP(6, 4, (16,)), "x2": MLP(5, 4, (16,))},
        decoders={"x1": MLPDecoder(4, 6, (16,)), "x2": MLPDecoder(4, 5, (16,))},
        fusion=Fusion({"x1": 4, "x2": 4}, 4, (16,)),
        projectors={k: make_projector(4, 3, 8) for k in ("x1", "x2", FUSED)},
    )


SELF_SUPERVISED = [
    "info_nce",
    "cca",
    "barlow_twins",
    "vicreg",
    "decur",
    "simclr",
    "cross_self",
    "cross_recon",
]


@pytest.mark.parametrize("name", SELF_SUPERVISED + ["comm"])
def test_every_objective_acts_on_the_projector(name):
    model, objective, batch = projected_model(), build(name), toy_batch()
    objective(model, batch).backward()
    heads = ["fused"] if name == "comm" else ["x1", "x2"]
    for key in heads:
        grads = [p.grad for p in model.projectors[key].parameters()]
        assert all(g is not None and g.abs().sum() > 0 for g in grads), (name, key)


def test_reconstruction_decodes_the_backbone_not_the_projector():
    model, batch = projected_model(), toy_batch()
    L.Reconstruction()(model, batch).backward()
    assert all(p.grad is None for p in model.projectors.parameters())
    assert all(p.grad is not None for p in model.decoders.parameters())


@pytest.mark.parametrize("name", ["info_nce", "cca", "barlow_twins", "vicreg"])
def test_cross_modal_losses_are_computed_on_the_projected_embedding(name):
    model, batch = projected_model(), toy_batch()
    model.eval()  # BatchNorm in eval mode: embed is a deterministic function of the input
    pure = {
        "info_nce": L.info_nce,
        "cca": L.cca,
        "barlow_twins": L.barlow_twins,
        "vicreg": L.vicreg,
    }[name]
    z1, z2 = model.embed("x1", batch["x1"]), model.embed("x2", batch["x2"])
    h1, h2 = model.encode("x1", batch["x1"]), model.encode("x2", batch["x2"])
    assert z1.shape[1] == 3 and h1.shape[1] == 4
    objective = L.InfoNCE(0.1) if name == "info_nce" else build(name)
    got = objective(model, batch).item()
    assert got == pytest.approx(pure(z1, z2).item(), rel=1e-6)
    assert got != pytest.approx(pure(h1, h2).item(), rel=1e-3)


def test_comm_objective_contrasts_projected_fused_views():
    model, batch = projected_model(), toy_batch()
    objective = L.CoMM(0.2, augment=lambda x: x)  # identity augmentation: both views equal
    model.eval()
    h = {k: model.encode(k, batch[k]) for k in ("x1", "x2")}
    fused = model.project(FUSED, model.fuse(h))
    uni = [
        model.project(FUSED, model.fuse({j: h[k] if j == k else None for j in h}))
        for k in ("x1", "x2")
    ]
    arrays = [a.detach().numpy().astype(np.float64) for a in (fused, *uni)]
    expected = ref_comm(arrays[0], arrays[0], arrays[1:], arrays[1:], 0.2)
    assert objective(model, batch).item() == pytest.approx(expected, rel=1e-4)
    model.train()
    objective(model, batch).backward()
    assert all(p.grad is not None for p in model.fusion.missing.parameters()), "placeholders"


# ----------------------------------------------------------------- cross-prediction


def ref_cross_prediction(z, x, ridge):
    """Residual variance of the ridge least-squares readout of x from z, centred, per column."""
    zc, xc = z - z.mean(0), x - x.mean(0)
    n, d = zc.shape
    czz = zc.T @ zc / n
    b = np.linalg.solve(czz + ridge * np.trace(czz) / d * np.eye(d), zc.T @ xc / n)
    return np.mean((xc - zc @ b) ** 2)


@pytest.mark.parametrize("ridge", [0.0, 1e-2, 1.0])
def test_cross_prediction_matches_reference(ridge):
    rng = np.random.default_rng(3)
    z, x = rng.standard_normal((40, 3)), rng.standard_normal((40, 7))
    got = L.cross_prediction(t(z), t(x), ridge).item()
    assert got == pytest.approx(ref_cross_prediction(z, x, ridge), rel=1e-4)


def test_cross_prediction_vanishes_for_a_linear_target_and_flattens_images():
    z = torch.randn(50, 4)
    x = (z @ torch.randn(4, 6) + 2.0).reshape(50, 2, 3)
    assert L.cross_prediction(z, x, ridge=0.0).item() < 1e-8
    assert L.cross_prediction(z, torch.randn(50, 6), ridge=0.0).item() > 0.5


def test_cross_prediction_refuses_bad_inputs():
    z = torch.randn(8, 3)
    with pytest.raises(ValueError, match="one batch size"):
        L.cross_prediction(z, torch.randn(7, 3))
    with pytest.raises(ValueError, match="batch of 1"):
        L.cross_prediction(z[:1], z[:1])
    with pytest.raises(ValueError, match="ridge"):
        L.cross_prediction(z, z, ridge=-1.0)
    bad = z.clone()
    bad[0, 0] = math.nan
    with pytest.raises(ValueError, match="NaN or Inf"):
        L.cross_prediction(bad, z)
    with pytest.raises(ValueError, match="differ"):
        L.CrossPrediction("x1", "x1")


def test_cross_prediction_objective_reads_the_projected_source_and_the_raw_target():
    model, batch = projected_model(), toy_batch()
    model.eval()
    z1, z2 = model.embed("x1", batch["x1"]), model.embed("x2", batch["x2"])
    one = L.make_objective("cross_prediction")(model, batch).item()
    assert one == pytest.approx(L.cross_prediction(z1, batch["x2"]).item(), rel=1e-6)
    both = L.CrossPrediction(symmetric=True)(model, batch).item()
    other = L.cross_prediction(z2, batch["x1"]).item()
    assert both == pytest.approx((one + other) / 2, rel=1e-6)
