"""Chapter 13 at smoke scale: on the six example pairs, and on a download's folder layout."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
from fixtures import smoke_record
from papermill.exceptions import PapermillExecutionError

from aligninfo.book import run
from aligninfo.book.cli import main
from aligninfo.data import bigearthnet
from aligninfo.stats import VERDICTS

if importlib.util.find_spec("bigearthnet_common") is None:
    pytest.skip("bigearthnet-common is not installed (the 'data' extra)", allow_module_level=True)


def _results(folder: Path, **parameters: object) -> dict:
    return smoke_record("13_images", folder, **parameters)["results"]


@pytest.mark.chapters
@pytest.mark.xdist_group("readers")
def test_examples_every_patch_held_out_and_verdicts_follow_their_intervals(
    smoke_results: Path,
) -> None:
    res = _results(smoke_results)
    assert res["n_pairs"] == 6 and res["label_map"] is None
    scores = res["within_patch_correlation"]
    for key, values in scores.items():
        method, quantity, side, probe = key.split("|")
        assert len(values) == 6 and all(-1 <= v <= 1 for v in values), key
    # raw pixels follow their own sensor's VH / VV ratio almost exactly (it is linear in them)
    assert min(scores["raw|cross_ratio|own|linear"]) > 0.9
    for name, v in res["verdicts"].items():
        assert v["verdict"] in VERDICTS and v["low"] <= v["high"], name
        if v["verdict"] != "no detectable cost":
            assert v["low"] > 0 or v["high"] < 0, name
    assert set(res["specific"]) == {"red_edge", "vegetation", "cross_ratio"}


@pytest.mark.chapters
def test_a_download_layout_adds_land_cover_probes(tmp_path: Path) -> None:
    download = bigearthnet.examples_as_download(tmp_path / "download")
    res = _results(tmp_path / "results", data_dir=str(download))
    maps = res["label_map"]
    assert set(maps) == {"raw", "random", "info_nce", "vicreg"}
    for by_view in maps.values():
        assert set(by_view) == {"z1", "z2"}
        assert all(np.isnan(v) or 0 <= v <= 1 for v in by_view.values())


@pytest.mark.chapters
def test_pretrained_encoders_replace_the_chapters_pretraining(tmp_path: Path) -> None:
    """Encoders pretrained by the command on the examples, read by the chapter at smoke scale."""
    download = bigearthnet.examples_as_download(tmp_path / "download")
    encoders = tmp_path / "encoders"
    args = ["pretrain", "bigearthnet", "--data-dir", str(download), "--sub-patch", "16",
            "-k", "8", "--channels", "8", "16", "--batch-size", "4", "--epochs", "1",
            "--device", "cpu", "--no-progress", "--out", str(encoders)]  # fmt: skip
    assert main(args) == 0
    res = _results(tmp_path / "results", pretrained=str(encoders))
    assert res["pretrained"] == {
        "folder": str(encoders), "source": f"bigearthnet {download}", "split": None,
        "pairs": 6, "objective": "info_nce", "processes": 1, "epochs": 1, "seen": 6,
    }  # fmt: skip
    methods = {key.split("|")[0] for key in res["within_patch_correlation"]}
    assert methods == {"raw", "random", "pretrained"}
    assert {key.split("|")[0] for key in res["verdicts"]} == {"pretrained"}
    with pytest.raises(PapermillExecutionError) as caught:  # encoders of 16-pixel sub-patches
        run.run_chapter("13_images", None, {"scale": "smoke", "results_dir": str(tmp_path),
                                            "pretrained": str(encoders), "sub_patch": 24},
                        progress=False)  # fmt: skip
    first = caught.value.evalue.splitlines()[0]
    assert first.startswith("parameter 'pretrained'") and "(12, 16, 16), not (12, 24, 24)" in first
    # encoders of the training list: the chapter draws its pairs from the others (2 of the 6)
    assert main([*args[:-1], str(tmp_path / "train"), "--split", "train"]) == 0
    with pytest.raises(PapermillExecutionError) as caught:
        run.run_chapter("13_images", None, {"scale": "smoke", "results_dir": str(tmp_path),
                                            "pretrained": str(tmp_path / "train"),
                                            "data_dir": str(download)}, progress=False)  # fmt: skip
    assert "'n_folds' (3) exceeds the 2 pairs read" in caught.value.evalue


@pytest.mark.chapters
@pytest.mark.parametrize(
    "parameters, message",
    [
        ({"objectives": ["vicreg", "vicreg"]}, "parameter 'objectives' must be .* distinct"),
        ({"sub_patch": 64, "stride": 64}, "parameters 'sub_patch' .* and 'stride'"),
        ({"n_folds": 7}, r"parameter 'n_folds' \(7\) exceeds the 6 pairs"),
        ({"data_dir": "."}, "parameter 'data_dir' .* must hold a BigEarthNet v1 download"),
        ({"pretrained": "."}, "parameter 'pretrained' .*encoders.json not found"),
    ],
)
def test_a_wrong_parameter_stops_with_its_name(
    tmp_path: Path, parameters: dict, message: str
) -> None:
    """Each case starts a kernel that stops in the first cells, with a line naming the parameter."""
    wanted = {"scale": "smoke", "results_dir": str(tmp_path), **parameters}
    with pytest.raises(PapermillExecutionError) as caught:
        run.run_chapter("13_images", None, wanted, progress=False)
    assert caught.value.ename == "ValueError"
    assert re.search(message, caught.value.evalue.splitlines()[0]), caught.value.evalue
