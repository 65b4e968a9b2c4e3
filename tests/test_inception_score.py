"""Inception Score: the formula on hand-computed cases, the logit weights file, and `gankit eval --metrics is`."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.cli import main
from gankit.errors import GankitError
from gankit.metrics import inception_score as ism
from gankit.metrics.features import FeatureNet


def test_hand_computed_value():
    # p(y|x1) = (1, 0), p(y|x2) = (1/2, 1/2): p(y) = (3/4, 1/4);
    # KL1 = log(4/3), KL2 = 1/2 log(2/3) + 1/2 log 2; IS = exp((KL1 + KL2) / 2) = exp(0.2157615...) = 1.2408064
    probabilities = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    mean, std = ism.inception_score_from_probabilities(probabilities, splits=1)
    assert mean == pytest.approx(1.2408064, abs=1e-6) and std == 0.0
    by_formula = math.exp((math.log(4 / 3) + 0.5 * math.log(2 / 3) + 0.5 * math.log(2)) / 2)
    assert mean == pytest.approx(by_formula, rel=1e-12)


def test_extremes_and_splits():
    one_hot = torch.eye(5).repeat(4, 1)  # 20 confident samples, classes spread evenly
    assert ism.inception_score_from_probabilities(one_hot, splits=4) == pytest.approx((5.0, 0.0))
    same = torch.full((20, 5), 0.2)  # no sample says anything: IS 1
    assert ism.inception_score_from_probabilities(same, splits=2) == pytest.approx((1.0, 0.0))
    # two splits scoring 2 and 1: mean 1.5, population std 0.5 (as the authors' np.std)
    mixed = torch.cat([torch.eye(2).repeat(5, 1), torch.full((10, 2), 0.5)])
    assert ism.inception_score_from_probabilities(mixed, splits=2) == pytest.approx((1.5, 0.5))
    logits = torch.randn(30, 7, generator=torch.Generator().manual_seed(0))
    assert ism.inception_score_from_logits(logits, 3) == pytest.approx(
        ism.inception_score_from_probabilities(torch.softmax(logits.double(), 1), 3))
    with pytest.raises(GankitError, match="at least 10 samples"):
        ism.inception_score_from_probabilities(torch.eye(3))


def test_logit_weights_file(tmp_path):
    weight = torch.randn(ism.LOGITS, ism.POOL3)
    torch.save({"fc.weight": weight, "fc.bias": torch.zeros(ism.LOGITS)}, tmp_path / "fidelity.pth")
    assert torch.equal(ism.load_logit_weights(tmp_path / "fidelity.pth"), weight)
    torch.save({"softmax/logits/weights": weight.T.contiguous()}, tmp_path / "tf.pt")  # TF's (in, out) layout
    assert torch.equal(ism.load_logit_weights(tmp_path / "tf.pt"), weight)
    torch.save({"fc.weight": torch.zeros(1000, 2048)}, tmp_path / "torchvision.pth")
    with pytest.raises(GankitError, match=r"\(1000, 2048\), expected \(1008, 2048\)"):
        ism.load_logit_weights(tmp_path / "torchvision.pth")
    torch.save({"conv.weight": weight}, tmp_path / "trunk.pth")
    with pytest.raises(GankitError, match="no logit layer"):
        ism.load_logit_weights(tmp_path / "trunk.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a weights file")
    with pytest.raises(GankitError, match="cannot read Inception weights"):
        ism.load_logit_weights(tmp_path / "junk.pth")


@pytest.fixture
def tiny_colour_run(tmp_path_factory, tiny_settings):
    from gankit.recipes import resolve_config
    from gankit.training.loop import train

    root = tmp_path_factory.mktemp("is")
    folder = root / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    overrides = {**tiny_settings, "train.steps": 1, "data.batch_size": 4, "data.image_size": 32,
                 "model.g_hidden": 2, "model.d_hidden": 2}
    train(resolve_config("dcgan", str(folder), "image", overrides), root / "run", progress=False)
    return root / "run"


def _fabricated_inception() -> FeatureNet:
    """A tiny stand-in for the FID Inception: 2048 fixed random projections of 4x4 average-pooled pixels."""
    projection = torch.randn(3 * 4 * 4, ism.POOL3, generator=torch.Generator().manual_seed(1))

    def forward(images):
        return torch.nn.functional.adaptive_avg_pool2d(images, 4).flatten(1) @ projection

    return FeatureNet(name="inception", dim=ism.POOL3, hash="fabricated", preprocessing="test",
                      device=torch.device("cpu"), forward=forward)


def test_eval_metrics_is_on_a_fabricated_network(tiny_colour_run, tmp_path, monkeypatch):
    import gankit
    from gankit.evaluation import images

    net = _fabricated_inception()
    monkeypatch.setattr(images, "get_feature_net", lambda name, device: net)
    head = torch.randn(ism.LOGITS, ism.POOL3, generator=torch.Generator().manual_seed(2)) * 0.05
    torch.save({"fc.weight": head}, tmp_path / "head.pth")
    monkeypatch.setenv(ism.WEIGHTS_ENV, str(tmp_path / "head.pth"))

    assert main(["eval", str(tiny_colour_run), "--metrics", "is", "--n", "20", "--no-progress"]) == 0
    result = json.loads((tiny_colour_run / "eval.json").read_text())
    fakes = gankit.load(tiny_colour_run, "cpu").generate(20, seed=0)
    expected = ism.inception_score_from_logits(net(fakes).double() @ head.double().T)
    assert (result["metrics"]["is"], result["metrics"]["is_std"]) == pytest.approx(expected, rel=1e-6)
    assert "10 splits of 20 images" in result["protocol"]["is"]


def test_eval_metrics_is_refuses_in_one_line_without_weights(tiny_colour_run, tmp_path, monkeypatch, capsys):
    from dataclasses import replace

    monkeypatch.delenv(ism.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    monkeypatch.setattr(ism, "INCEPTION_FULL", replace(ism.INCEPTION_FULL, url="http://127.0.0.1:9/w.pth"))
    assert main(["eval", str(tiny_colour_run), "--metrics", "is", "--n", "20", "--no-progress"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "weights-inception-2015-12-05-6726825d.pth not found" in error and "GANKIT_INCEPTION_WEIGHTS" in error
    monkeypatch.setenv(ism.WEIGHTS_ENV, str(tmp_path / "missing.pth"))
    assert main(["eval", str(tiny_colour_run), "--metrics", "is", "--no-progress"]) == 2
    assert "missing.pth not found" in capsys.readouterr().err
