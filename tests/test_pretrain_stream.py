"""Streamed pretraining: ``fit`` on a Dataset, and ``pretrain bigearthnet`` on the examples.

The BigEarthNet tests read the six real example pairs laid out as a download
(:func:`aligninfo.data.bigearthnet.examples_as_download`); they need the ``data`` extra.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from test_distributed import WORLD, _spawn

from aligninfo import distributed
from aligninfo.bigearthnet_stream import S2_SCALE, open_bigearthnet
from aligninfo.book.cli import main
from aligninfo.data import bigearthnet
from aligninfo.encoders import MLP, MultimodalEncoder
from aligninfo.losses import make_objective
from aligninfo.pretrain import (
    PretrainConfig,
    PretrainInputError,
    cpu_time,
    load_encoders,
    pretrain,
    pretrain_stream,
)
from aligninfo.train import TrainConfig, fit

EXAMPLES = importlib.util.find_spec("bigearthnet_common") is not None
needs_examples = pytest.mark.skipif(
    not EXAMPLES, reason="bigearthnet-common is not installed (the 'data' extra)"
)


# --------------------------------------------------------------------------- fit on a Dataset


class _Rows(torch.utils.data.Dataset):
    """The rows of two arrays as a Dataset of dicts (what a streamed source yields)."""

    def __init__(self, data: dict[str, torch.Tensor]) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data["x1"])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[i] for k, v in self.data.items()}


def _arrays(n: int = 40) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    s = torch.randn(n, 2, generator=g)
    return {
        "x1": torch.cat([s, torch.randn(n, 3, generator=g)], 1),
        "x2": torch.cat([s, torch.randn(n, 2, generator=g)], 1),
    }


def _fit(train: Any, checkpoint: Path | None = None, **settings: Any) -> dict[str, Any]:
    torch.manual_seed(0)
    model = MultimodalEncoder({"x1": MLP(5, 3, hidden=(8,)), "x2": MLP(4, 3, hidden=(8,))})
    config = TrainConfig(epochs=2, batch_size=8, lr=0.02, device="cpu", progress=False)
    history = fit(model, make_objective("info_nce"), train, config=config,
                  checkpoint=checkpoint, **settings)  # fmt: skip
    return {"model": model.state_dict(), "history": history.as_dict()}


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a["history"]["train_loss"] == b["history"]["train_loss"]
    assert a["history"]["steps"] == b["history"]["steps"]
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key


def test_fit_on_a_dataset_takes_the_batches_of_the_arrays_bit_for_bit() -> None:
    arrays = _arrays()
    _same(_fit(_Rows(arrays)), _fit(arrays))
    reordered = {k: v.flip(0) for k, v in arrays.items()}  # the same rows, other batches
    assert _fit(_Rows(reordered))["history"]["train_loss"] != _fit(arrays)["history"]["train_loss"]


def test_fit_on_a_dataset_resumes_mid_epoch_as_one_run(tmp_path: Path) -> None:
    """Stopped after 3 of its 5 steps an epoch, continued: the run of one call, to the bit."""
    rows, ckpt = _Rows(_arrays()), tmp_path / "run.ckpt"
    _fit(rows, ckpt, max_steps=3)
    _same(_fit(rows, ckpt), _fit(rows))


def _continue_on_two(rank: int, checkpoint: Path, out: Path) -> None:
    torch.save(_fit(_Rows(_arrays()), checkpoint), out / f"fit-{rank}.pt")


def test_a_streamed_run_resumes_on_another_number_of_processes(tmp_path: Path) -> None:
    """Epoch 1 on one process, epoch 2 on two gloo processes: the run of one process."""
    ckpt = tmp_path / "run.ckpt"
    _fit(_Rows(_arrays()), ckpt, epochs=1)
    _spawn(_continue_on_two, ckpt, tmp_path)
    whole = _fit(_arrays())
    for rank in range(WORLD):
        got = torch.load(tmp_path / f"fit-{rank}.pt")
        assert got["history"]["steps"] == whole["history"]["steps"] == [5, 10]
        np.testing.assert_allclose(
            got["history"]["train_loss"], whole["history"]["train_loss"], rtol=1e-5
        )
        for key, value in whole["model"].items():
            torch.testing.assert_close(got["model"][key], value, rtol=1e-4, atol=1e-5)


def test_fit_on_a_dataset_with_loader_workers_is_the_same_run() -> None:
    rows = _Rows(_arrays())
    _same(_fit(rows, loader_workers=2), _fit(rows))


def test_fit_on_a_dataset_checks_and_uses_validation_arrays() -> None:
    val = {k: v[:16] for k, v in _arrays(16).items()}
    streamed = _fit(_Rows(_arrays()), val=val)
    assert streamed["history"]["val_loss"] == _fit(_arrays(), val=val)["history"]["val_loss"]
    with pytest.raises(ValueError, match=r"val\['x1'\] has samples of shape \(4,\)"):
        _fit(_Rows(_arrays()), val={**val, "x1": val["x1"][:, :4]})


def test_fit_refuses_a_dataset_whose_items_are_not_dicts_of_tensors() -> None:
    pairs = torch.utils.data.TensorDataset(torch.zeros(8, 5), torch.zeros(8, 4))
    with pytest.raises(ValueError, match="items must be dicts of tensors"):
        _fit(pairs)


def test_the_block_sampler_gives_each_rank_its_block_of_the_arrays_batches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two ranks' DataLoader batches, concatenated in rank order, are the single run's."""
    n, batch = 23, 8
    single = list(distributed.BlockSampler(range(n), batch, seed=5))
    monkeypatch.setattr(distributed, "world_size", lambda: WORLD)
    shares = []
    for r in range(WORLD):
        monkeypatch.setattr(distributed, "rank", lambda r=r: r)
        sampler = distributed.BlockSampler(range(n), batch, seed=5)
        shares.append(list(sampler))
        assert len(sampler) == len(shares[-1]) == n // batch * batch // WORLD
    local = batch // WORLD
    for i in range(n // batch):
        joined = [x for share in shares for x in share[i * local : (i + 1) * local]]
        assert joined == single[i * batch : (i + 1) * batch]
    expected = torch.randperm(n, generator=torch.Generator().manual_seed(5))[:16].tolist()
    assert single == expected  # the arrays' permutation, the incomplete batch dropped


# --------------------------------------------------------------------------- BigEarthNet


@pytest.fixture(scope="module")
def download(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not EXAMPLES:
        pytest.skip("bigearthnet-common is not installed (the 'data' extra)")
    return bigearthnet.examples_as_download(tmp_path_factory.mktemp("ben") / "download")


def _config(**train: Any) -> PretrainConfig:
    settings = {"epochs": 1, "batch_size": 2, "lr": 0.01, "device": "cpu", "progress": False}
    return PretrainConfig(
        k=4, encoder="cnn2d", channels=(4, 8), train=TrainConfig(**{**settings, **train})
    )


def _in_memory(download: Path) -> tuple[np.ndarray, np.ndarray]:
    """The six pairs as arrays in the stream's units and order."""
    pairs = bigearthnet.BigEarthNetPairs.from_archive(download)
    items = [pairs[i] for i in range(len(pairs))]
    s2 = np.stack([item["s2"].numpy() for item in items]) / np.float32(S2_SCALE)
    return s2, np.stack([item["s1"].numpy() for item in items])


def _both(download: Path, out: Path, config: PretrainConfig) -> tuple[dict, dict]:
    """``pretrain`` on the arrays and ``pretrain_stream`` on the files, same settings."""
    stream, about = open_bigearthnet(download, norm_sample=6)
    x1, x2 = _in_memory(download)
    arrays = pretrain(x1, x2, config, out / "arrays")
    streamed = pretrain_stream(stream, about, config, out / "stream")
    return arrays, streamed


def _assert_same_training(arrays: dict, streamed: dict, out: Path) -> None:
    assert streamed["history"]["steps"] == arrays["history"]["steps"] == [3]
    np.testing.assert_allclose(
        streamed["history"]["train_loss"], arrays["history"]["train_loss"], rtol=1e-5
    )
    a, s = load_encoders(out / "arrays"), load_encoders(out / "stream")
    for key in ("x1", "x2"):
        for got, want in zip(s.scaling[key], a.scaling[key], strict=True):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    for key, value in a.model.state_dict().items():
        torch.testing.assert_close(s.model.state_dict()[key], value, rtol=1e-4, atol=1e-5)


@needs_examples
def test_the_stream_trains_as_the_same_pairs_in_memory(download: Path, tmp_path: Path) -> None:
    arrays, streamed = _both(download, tmp_path, _config())
    _assert_same_training(arrays, streamed, tmp_path)
    assert streamed["bands"]["x1"] == list(bigearthnet.S2_BANDS)
    assert streamed["split"] is None and streamed["samples"] == 6
    recorded = streamed["standardisation"]
    assert "from 6 pairs drawn with seed 0" in recorded["how"]
    scaling = load_encoders(tmp_path / "stream").scaling  # what load_encoders applies
    np.testing.assert_allclose(recorded["x2"]["mean"], scaling["x2"][0].flatten(), rtol=1e-6)


def _two_processes(rank: int, download: Path, out: Path) -> None:
    arrays, streamed = _both(download, out, _config())
    torch.save({"arrays": arrays, "stream": streamed}, out / f"records-{rank}.pt")


@needs_examples
def test_two_processes_stream_as_they_train_on_the_arrays(download: Path, tmp_path: Path) -> None:
    """On two gloo processes (a pair each per step), the stream's run is the arrays' run."""
    _spawn(_two_processes, download, tmp_path)
    for rank in range(WORLD):
        records = torch.load(tmp_path / f"records-{rank}.pt", weights_only=False)
        assert records["stream"]["processes"] == WORLD
        _assert_same_training(records["arrays"], records["stream"], tmp_path)


@needs_examples
def test_a_streamed_run_resumes_and_continues(download: Path, tmp_path: Path) -> None:
    args = ["pretrain", "bigearthnet", "--data-dir", str(download), "-k", "4", "--device",
            "cpu", "--channels", "4", "--batch-size", "2", "--sub-patch", "24",
            "--no-progress"]  # fmt: skip
    assert main([*args, "--epochs", "1", "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--epochs", "2", "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--epochs", "2", "--out", str(tmp_path / "b")]) == 0
    a, b = load_encoders(tmp_path / "a"), load_encoders(tmp_path / "b")
    assert a.spec["history"]["epoch"] == [1, 2]
    assert a.spec["history"]["train_loss"] == b.spec["history"]["train_loss"]
    for key, value in b.model.state_dict().items():
        assert torch.equal(a.model.state_dict()[key], value), key
    assert a.spec["encoders"]["x1"]["in_shape"] == [12, 24, 24]
    assert a.encode("x2", np.zeros((3, 2, 24, 24), np.float32)).shape == (3, 4)


@needs_examples
def test_windows_are_the_same_place_in_both_sensors_and_move_with_the_epoch(
    download: Path,
) -> None:
    stream, _ = open_bigearthnet(download, sub_patch=8, norm_sample=2)
    whole, _ = open_bigearthnet(download, norm_sample=2)
    raw = whole[0]
    places = set()
    for epoch in range(4):
        stream.set_epoch(epoch)
        window = stream[0]
        assert window["x1"].shape == (12, 8, 8) and window["x2"].shape == (2, 8, 8)
        found = [
            (i, j)
            for i in range(113)
            for j in range(113)
            if torch.allclose(raw["x2"][:, i : i + 8, j : j + 8], window["x2"])
        ]
        assert len(found) == 1
        i, j = found[0]
        torch.testing.assert_close(raw["x1"][:, i : i + 8, j : j + 8], window["x1"])
        places.add(found[0])
    assert len(places) > 1


@needs_examples
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--data-dir", "."], "bigearthnet: .*BigEarthNet-v1.0"),
        ([], "bigearthnet needs --data-dir"),
        (["--data-dir", "DOWNLOAD", "--encoder", "mlp"], "image patches need --encoder cnn2d"),
        (["--data-dir", "DOWNLOAD", "--norm-sample", "0"], "norm_sample must be a positive"),
        (["--data-dir", "DOWNLOAD", "--sub-patch", "121"], r"sub_patch must be .* \[1, 120\]"),
    ],
)
def test_bad_streaming_input_is_refused_in_one_line(
    download: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    extra = [str(download) if a == "DOWNLOAD" else a for a in extra]
    args = ["pretrain", "bigearthnet", *extra, "--out", str(tmp_path), "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert re.search(message, err), err
    assert not (tmp_path / "encoders.pt").exists()


def _copy_examples(folder: Path) -> None:
    """The six example pairs copied (not linked) as a download in ``folder``, to damage."""
    roots = bigearthnet.example_roots()
    for sensor, name in bigearthnet.ARCHIVE_FOLDERS.items():
        shutil.copytree(roots[sensor], folder / name)


@needs_examples
@pytest.mark.parametrize("workers", ["0", "1"])
def test_an_unreadable_band_file_is_named_also_from_a_loader_worker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], workers: str
) -> None:
    _copy_examples(tmp_path)
    damaged = sorted((tmp_path / bigearthnet.ARCHIVE_FOLDERS["s2"]).glob("*/*_B04.tif"))[2]
    damaged.write_bytes(damaged.read_bytes()[:300])
    args = ["pretrain", "bigearthnet", "--data-dir", str(tmp_path), "--loader-workers", workers,
            "--out", str(tmp_path / "enc"), "--no-progress"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {damaged}") and err.count("\n") == 1, err


def test_cpu_time_counts_the_children_that_ended() -> None:
    """DataLoader workers decode in child processes: their CPU enters the throughput."""
    before = cpu_time()
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
    subprocess.run([sys.executable, "-c", burn], check=True)
    assert cpu_time() - before >= 0.3


def test_pretrain_stream_refuses_a_stream_without_standardisation(tmp_path: Path) -> None:
    class _Bare:
        scaling = None

    with pytest.raises(PretrainInputError, match="no standardisation"):
        pretrain_stream(_Bare(), {}, _config(), tmp_path)  # type: ignore[arg-type]


@needs_examples
@pytest.mark.parametrize("value", [np.nan, -np.inf])  # -inf: a backscatter of 0 taken to dB
def test_a_band_with_nan_or_infinite_pixels_is_named_not_trained_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: float
) -> None:
    import rasterio

    _copy_examples(tmp_path)
    damaged = sorted((tmp_path / bigearthnet.ARCHIVE_FOLDERS["s1"]).glob("*/*_VH.tif"))[1]
    with rasterio.open(damaged) as src:
        band, profile = src.read(1), src.profile
    band[:4, :5] = value
    with rasterio.open(damaged, "w", **profile) as dst:
        dst.write(band, 1)
    args = ["pretrain", "bigearthnet", "--data-dir", str(tmp_path), "-k", "4", "--channels",
            "4", "--batch-size", "2", "--epochs", "1", "--device", "cpu", "--out",
            str(tmp_path / "enc"), "--no-progress"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {damaged.parent}: 20 pixels of band VH") and err.count("\n") == 1
    assert not (tmp_path / "enc" / "encoders.pt").exists()


@needs_examples
def test_backscatter_in_linear_units_is_warned_of(tmp_path: Path) -> None:
    import rasterio

    _copy_examples(tmp_path)
    for path in (tmp_path / bigearthnet.ARCHIVE_FOLDERS["s1"]).glob("*/*_V?.tif"):
        with rasterio.open(path) as src:
            band, profile = src.read(1), src.profile
        with rasterio.open(path, "w", **profile) as dst:
            dst.write((10 ** (band / 10)).astype(band.dtype), 1)  # dB -> linear
    with pytest.warns(UserWarning, match="not negative: BigEarthNet v1 stores backscatter in dB"):
        open_bigearthnet(tmp_path, norm_sample=6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        open_bigearthnet(bigearthnet.examples_as_download(tmp_path / "dB"), norm_sample=6)


@needs_examples
def test_a_bad_sub_patch_is_refused_before_any_pair_is_decoded(
    download: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def decoding(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the norm sample was decoded before sub_patch was checked")

    monkeypatch.setattr("aligninfo.bigearthnet_stream.sample_scaling", decoding)
    for bad in (0, 121, True):
        with pytest.raises(PretrainInputError, match=r"sub_patch must be an integer in \[1, 120\]"):
            open_bigearthnet(download, sub_patch=bad)
