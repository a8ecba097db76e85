"""Encoders and decoders: output shapes, gradients reaching every parameter, input checks."""

import pytest
import torch

from aligninfo.encoders import (
    FUSED,
    MLP,
    CNN2dDecoder,
    CNN2dEncoder,
    Conv1dEncoder,
    Fusion,
    LinearEncoder,
    MLPDecoder,
    MultimodalEncoder,
    make_encoder,
    make_projector,
)

CASES = [
    (lambda: LinearEncoder(12, 5), (7, 12)),
    (lambda: LinearEncoder(12, 5, bias=False), (7, 3, 4)),  # flattened
    (lambda: MLP(12, 5), (7, 12)),
    (lambda: MLP(12, 5, hidden=(8, 8), norm="batch", dropout=0.1), (7, 12)),
    (lambda: MLP(12, 5, hidden=(), norm="layer"), (7, 12)),
    (lambda: Conv1dEncoder(1, 5), (7, 48)),  # a spectrum without a channel axis
    (lambda: Conv1dEncoder(3, 5, channels=(4, 8), kernel_size=3), (7, 3, 10)),
    (lambda: Conv1dEncoder(2, 5, pooled_length=2), (7, 2, 3)),  # shorter than the pooling
    (lambda: CNN2dEncoder(12, 5, channels=(4, 8)), (7, 12, 15, 15)),  # Sentinel-2 bands
    (lambda: CNN2dEncoder(2, 5, channels=(4,)), (7, 2, 8, 8)),  # Sentinel-1
]


def assert_all_parameters_get_gradients(module, out):
    out.pow(2).sum().backward()
    for name, p in module.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize(("make", "shape"), CASES)
def test_encoder_shapes_and_gradients(make, shape):
    torch.manual_seed(0)
    encoder = make()
    x = torch.randn(shape, requires_grad=True)
    z = encoder(x)
    assert z.shape == (shape[0], 5)
    assert_all_parameters_get_gradients(encoder, z)
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_encoders_are_batch_independent_in_eval_mode():
    torch.manual_seed(0)
    for make, shape in CASES:
        encoder = make().eval()
        x = torch.randn(shape)
        with torch.no_grad():
            whole, first = encoder(x), encoder(x[:3])
        torch.testing.assert_close(whole[:3], first, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("decoder", "z_dim", "shape"),
    [
        (MLPDecoder(5, 12), 5, (12,)),
        (MLPDecoder(5, (3, 10), hidden=(8,)), 5, (3, 10)),
        (CNN2dDecoder(5, 12, (15, 15), channels=(8, 4)), 5, (12, 15, 15)),
        (CNN2dDecoder(5, 2, (8, 6), channels=(8, 4, 4)), 5, (2, 8, 6)),
    ],
)
def test_decoder_shapes_and_gradients(decoder, z_dim, shape):
    x_hat = decoder(torch.randn(4, z_dim))
    assert x_hat.shape == (4, *shape)
    assert_all_parameters_get_gradients(decoder, x_hat)


def test_fusion_with_missing_modalities():
    torch.manual_seed(0)
    fusion = Fusion({"x1": 3, "x2": 4}, 5, hidden=(8,))
    h1, h2 = torch.randn(6, 3), torch.randn(6, 4)
    both, only1 = fusion({"x1": h1, "x2": h2}), fusion({"x1": h1, "x2": None})
    assert both.shape == only1.shape == (6, 5)
    assert not torch.allclose(both, only1)
    (both.sum() + only1.sum() + fusion({"x2": h2}).sum()).backward()
    assert fusion.missing["x1"].grad is not None and fusion.missing["x2"].grad is not None
    with pytest.raises(ValueError, match="at least one modality"):
        fusion({"x1": None, "x2": None})


def test_multimodal_encoder():
    torch.manual_seed(0)
    model = MultimodalEncoder(
        {"x1": MLP(6, 4, (8,)), "x2": Conv1dEncoder(1, 4, (4,))},
        decoders={"x1": MLPDecoder(4, 6)},
    )
    batch = {"x1": torch.randn(5, 6), "x2": torch.randn(5, 20), "y": torch.randn(5)}
    out = model(batch)
    assert set(out) == {"x1", "x2"} and out["x2"].shape == (5, 4)
    torch.testing.assert_close(out["x1"], model.encode("x1", batch["x1"]))
    assert model.decode("x1", out["x1"]).shape == (5, 6)
    with pytest.raises(ValueError, match="no decoder"):
        model.decode("x2", out["x2"])
    with pytest.raises(ValueError, match="no fusion head"):
        model.fuse(out)
    with pytest.raises(ValueError, match="no encoder"):
        model.encode("x3", batch["x1"])


def test_make_encoder():
    assert make_encoder("mlp", (3, 4), 5)(torch.randn(2, 3, 4)).shape == (2, 5)
    assert make_encoder("linear", 7, 5)(torch.randn(2, 7)).shape == (2, 5)
    assert make_encoder("conv1d", 30, 5)(torch.randn(2, 30)).shape == (2, 5)
    assert make_encoder("cnn2d", (4, 9, 9), 5)(torch.randn(2, 4, 9, 9)).shape == (2, 5)
    with pytest.raises(ValueError, match="unknown encoder"):
        make_encoder("transformer", 7, 5)


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match="out_dim"):
        MLP(4, 0)
    with pytest.raises(ValueError, match="norm"):
        MLP(4, 2, norm="group")
    with pytest.raises(ValueError, match="kernel_size"):
        Conv1dEncoder(1, 2, kernel_size=4)
    with pytest.raises(ValueError, match="expects"):
        CNN2dEncoder(3, 2)(torch.randn(2, 4, 8, 8))
    with pytest.raises(ValueError, match="expects"):
        Conv1dEncoder(2, 2)(torch.randn(2, 10))


def test_projector_is_linear_batchnorm_relu_linear():
    head = make_projector(4, 3, 8)
    assert [type(m) for m in head] == [
        torch.nn.Linear,
        torch.nn.BatchNorm1d,
        torch.nn.ReLU,
        torch.nn.Linear,
    ]
    assert head(torch.randn(5, 4)).shape == (5, 3)
    assert make_projector(4, 6)[0].out_features == 6  # hidden defaults to max(in, out)
    with pytest.raises(ValueError, match="hidden"):
        make_projector(4, 3, 0)


def test_encode_is_the_backbone_and_embed_the_projection():
    torch.manual_seed(0)
    model = MultimodalEncoder(
        {"x1": MLP(6, 4, (8,)), "x2": MLP(5, 4, (8,))},
        fusion=Fusion({"x1": 4, "x2": 4}, 4, (8,)),
        projectors={"x1": make_projector(4, 3), FUSED: make_projector(4, 2)},
    )
    model.eval()
    x = torch.randn(7, 6)
    h = model.encode("x1", x)
    assert torch.equal(h, model.encoders["x1"](x)), "encode reads the backbone only"
    assert torch.equal(model.embed("x1", x), model.projectors["x1"](h))
    x2 = torch.randn(7, 5)
    assert torch.equal(model.embed("x2", x2), model.encode("x2", x2)), "no head: identity"
    assert model({"x1": x})["x1"].shape == (7, 4)
    assert model.project(FUSED, model.fuse({"x1": h, "x2": None})).shape == (7, 2)
    with pytest.raises(ValueError, match="projector key"):
        model.set_projector("x3", make_projector(4, 3))
    with pytest.raises(ValueError, match="projector key"):
        MultimodalEncoder({"x1": MLP(6, 4)}, projectors={FUSED: make_projector(4, 3)})
