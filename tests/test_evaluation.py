"""`gankit eval` on image runs (fid, kid, pr, dc, modes, classifier) and data set against data set."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.cli import main
from gankit.data import build_dataset, register
from gankit.data.images import ImageData
from gankit.errors import GankitError, unknown
from gankit.evaluation import evaluate_datasets, evaluate_run
from gankit.recipes import resolve_config
from gankit.training.loop import train

SMALL_MNIST = "mnist-300-for-eval-tests"


@register(SMALL_MNIST, "the first 300 MNIST test digits as both splits (tests only)", kind="image")
def _small_mnist(device="cpu", split="train", image_size=None, channels=None):
    if split not in ("train", "test"):
        raise unknown("split", split, ("train", "test"))
    full = build_dataset("mnist", device, split="test")
    return ImageData(name=SMALL_MNIST, shape=full.shape, num_classes=10, device=torch.device(device),
                     x=full.x[:300], y=full.y[:300])


TINY = {
    "train.steps": 4,
    "train.log_every": 2,
    "train.sample_every": 4,
    "train.checkpoint_every": 4,
    "train.eval_samples": 200,
    "train.device": "cpu",
    "data.batch_size": 8,
    "model.g_hidden": 4,
    "model.d_hidden": 4,
    "model.z_dim": 8,
}


@pytest.fixture(autouse=True)
def private_stats_cache(tmp_path, monkeypatch):
    """Real-feature caches go to this test's folder (the decoded-MNIST cache stays shared)."""
    monkeypatch.setattr("gankit.metrics.stats_cache.stats_cache_dir", lambda: tmp_path / "stats")


def _train(recipe, data, path, **extra):
    return train(resolve_config(recipe, data, "image", {**TINY, **extra}), path, progress=False).run_dir


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory):
    return _train("dcgan", "mnist", tmp_path_factory.mktemp("eval") / "dcgan", **{"train.ema": 0.0})


def test_image_run_gets_distribution_and_classifier_scores_with_their_protocol(mnist_run):
    result = evaluate_run(mnist_run, n=300, progress=False)
    metrics, protocol = result["metrics"], result["protocol"]
    assert {"fid", "kid", "kid_std", "precision", "recall", "density", "coverage", "mean_max_probability",
            "classes_covered"} <= set(metrics)
    assert all(math.isfinite(v) for v in metrics.values())
    # 4 steps of a 4-channel DCGAN draw blobs, far from digits: a large FID, almost no recall.
    assert metrics["fid"] > 200 and metrics["recall"] < 0.2
    assert json.loads((mnist_run / "eval.json").read_text()) == result
    assert protocol["n_fake"] == 300 and protocol["n_real"] == 300
    assert (protocol["real_data"], protocol["real_split"], protocol["train_split"]) == ("mnist", "test", "train")
    assert protocol["feature_net"] == "mnist" and len(protocol["feature_net_hash"]) == 12
    assert "28x28" in protocol["preprocessing"]
    assert (protocol["pr_k"], protocol["dc_k"]) == (3, 5)
    assert protocol["seed"] == 0 and protocol["generator"] == "final weights" and protocol["generator_step"] == 4
    assert protocol["gankit_version"] and protocol["device"] == "cpu"
    # Each evaluation is appended to the history the report charts; the same seed gives the same numbers.
    again = evaluate_run(mnist_run, metrics=["fid"], n=300, progress=False)
    assert again["metrics"]["fid"] == pytest.approx(metrics["fid"], rel=1e-9)
    history = [json.loads(line) for line in (mnist_run / "eval-history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history[-2:]] == [4, 4] and history[-1]["metrics"] == again["metrics"]


def test_real_split_and_metric_choices(mnist_run):
    result = evaluate_run(mnist_run, metrics=["pr", "pr", "kid"], n=100, real_split="train", progress=False)
    assert set(result["metrics"]) == {"precision", "recall", "kid", "kid_std"}
    assert result["protocol"]["real_split"] == "train" and "dc_k" not in result["protocol"]
    with pytest.raises(GankitError, match="unknown MNIST split 'valid'"):
        evaluate_run(mnist_run, metrics=["fid"], n=100, real_split="valid", progress=False)


def test_metric_mistakes_are_one_line_errors(mnist_run, tmp_path):
    with pytest.raises(GankitError, match=r"unknown metric 'fdi' for images \(valid: fid, kid, pr, dc, modes, classifier, is\)"):
        evaluate_run(mnist_run, metrics=["fdi"], progress=False)
    with pytest.raises(GankitError, match="'w1' is for vector"):
        evaluate_run(mnist_run, metrics=["w1"], progress=False)
    with pytest.raises(GankitError, match="Stacked MNIST"):
        evaluate_run(mnist_run, metrics=["modes"], progress=False)
    with pytest.raises(GankitError, match="unknown feature net 'mnsit'"):
        evaluate_run(mnist_run, features="mnsit", progress=False)
    vector = train(resolve_config("gan", "ring8", "vector", {"train.steps": 2, "train.device": "cpu"}),
                   tmp_path / "ring", progress=False).run_dir
    with pytest.raises(GankitError, match="'fid' is for image runs"):
        evaluate_run(vector, metrics=["fid"])
    with pytest.raises(GankitError, match="features is for image runs"):
        evaluate_run(vector, features="mnist")
    assert set(evaluate_run(vector, n=50)["metrics"]) >= {"modes", "w1"}  # the vector path as before
    assert not (vector / "eval-history.jsonl").exists()


def test_conditional_run_scores_label_accuracy_with_ema_weights(tmp_path):
    run = _train("cgan", "mnist", tmp_path / "cgan", **{"train.ema": 0.9})
    result = evaluate_run(run, metrics=["classifier"], n=100, progress=False)
    assert 0 <= result["metrics"]["label_accuracy"] <= 1
    assert result["protocol"]["generator"] == "EMA weights"
    assert "feature_net" not in result["protocol"]  # no feature metric, no feature net


def test_stacked_mnist_run_counts_modes(tmp_path):
    run = _train("dcgan", "stacked-mnist", tmp_path / "stacked")
    result = evaluate_run(run, n=200, progress=False)  # default for Stacked MNIST: modes only
    metrics = result["metrics"]
    assert set(metrics) == {"modes", "num_modes", "reverse_kl"} and metrics["num_modes"] == 1000
    assert 1 <= metrics["modes"] <= 200 and metrics["reverse_kl"] >= math.log(1000 / 200) - 1e-9
    assert result["protocol"]["n_modes_samples"] == 200


def test_real_stacked_mnist_hits_modes_like_uniform_draws():
    # 1000 uniform draws of 1000 modes hit 1000 (1 - (1 - 1/1000)^1000) = 632 on average (sd ~9); the
    # KL of the histogram to uniform is E[c log c] for c ~ Poisson(1), about 0.57.
    result = evaluate_datasets("stacked-mnist:test", "stacked-mnist:train", metrics=["modes"], n=1000, progress=False)
    assert 590 <= result["metrics"]["modes"] <= 670
    assert 0.45 < result["metrics"]["reverse_kl"] < 0.7


def test_a_set_against_itself_scores_zero_distance():
    result = evaluate_datasets(f"{SMALL_MNIST}:test", f"{SMALL_MNIST}:test", n=300, features="mnist", progress=False)
    metrics = result["metrics"]
    assert abs(metrics["fid"]) < 1e-3
    assert metrics["precision"] == metrics["recall"] == metrics["coverage"] == 1.0
    assert abs(metrics["kid"]) < 3 * metrics["kid_std"] + 1e-9
    assert "mean_max_probability" not in metrics  # no shipped classifier for this data set: not a default metric


def test_train_and_test_digits_are_far_closer_than_digits_and_clothes():
    asked = ["fid", "kid", "pr", "classifier"]
    same = evaluate_datasets("mnist:test", "mnist:train", metrics=asked, n=500, progress=False)
    other = evaluate_datasets("mnist:test", "fashion-mnist:test", metrics=asked, n=500, features="mnist", progress=False)
    assert same["protocol"]["feature_net"] == other["protocol"]["feature_net"] == "mnist"
    assert same["protocol"]["real"] == "mnist:test" and other["protocol"]["fake"] == "fashion-mnist:test"
    assert 10 * same["metrics"]["fid"] < other["metrics"]["fid"]
    assert same["metrics"]["kid"] < 0.1 * other["metrics"]["kid"]
    assert same["metrics"]["recall"] > 0.8 > 0.2 > other["metrics"]["recall"]
    # The MNIST classifier reads real digits with their labels, and clothes less confidently (and has no labels for them).
    assert same["metrics"]["label_accuracy"] > 0.95 and "label_accuracy" not in other["metrics"]
    assert same["metrics"]["mean_max_probability"] > other["metrics"]["mean_max_probability"]


def test_data_set_mistakes_are_one_line_errors():
    with pytest.raises(GankitError, match="unknown dataset 'mnsit'"):
        evaluate_datasets("mnsit:test", "mnist:train")
    with pytest.raises(GankitError, match="unknown MNIST split 'val'"):
        evaluate_datasets("mnist:val", "mnist:train")
    with pytest.raises(GankitError, match="NAME:SPLIT"):
        evaluate_datasets("mnist:", "mnist:train")
    with pytest.raises(GankitError, match="holds vectors"):
        evaluate_datasets("ring8", "mnist:train")
    with pytest.raises(GankitError, match="incompatible shape: mnist:test is 1x28x28, stacked-mnist:test is 3x28x28"):
        evaluate_datasets("mnist:test", "stacked-mnist:test", metrics=["fid"])
    with pytest.raises(GankitError, match="n=400 real images asked for"):
        evaluate_datasets(SMALL_MNIST, SMALL_MNIST, metrics=["fid"], n=400, progress=False)


def test_cli_compares_data_sets_and_writes_the_json(tmp_path, capsys):
    out = tmp_path / "cmp.json"
    code = main(["eval", "--real", f"{SMALL_MNIST}:test", "--fake", "mnist:train", "--metrics", "fid,dc",
                 "--n", "200", "--features", "mnist", "--json", str(out), "--no-progress"])
    assert code == 0
    result = json.loads(out.read_text())
    assert set(result["metrics"]) == {"fid", "density", "coverage"}
    assert result["protocol"]["n_real"] == result["protocol"]["n_fake"] == 200 and result["protocol"]["dc_k"] == 5
    printed = capsys.readouterr().out
    assert "fid" in printed and f"wrote {out}" in printed
    assert main(["eval", "--real", "mnist:test"]) == 2
    assert "--real and --fake go together" in capsys.readouterr().err
    assert main(["eval", str(tmp_path), "--real", "mnist:test", "--fake", "mnist:train"]) == 2
    assert main(["eval"]) == 2
    assert "needs a run directory" in capsys.readouterr().err


def test_cli_evaluates_an_image_run(mnist_run, capsys):
    assert main(["eval", str(mnist_run), "--metrics", "fid,classifier", "--n", "100", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "fid" in printed and "mean_max_probability" in printed and "features: mnist" in printed
    assert main(["eval", str(mnist_run), "--metrics", "fid,bogus"]) == 2
    assert "unknown metric 'bogus'" in capsys.readouterr().err


def test_translation_runs_are_scored_by_the_translation_metrics(tmp_path):
    from gankit.translation.train import train_translation
    from gankit.translation.config import resolve_translation_config

    rng = np.random.default_rng(0)
    (tmp_path / "ab").mkdir()
    for i in range(10):
        left = rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)
        Image.fromarray(np.concatenate([left, 255 - left], axis=1)).save(tmp_path / "ab" / f"{i:03d}.png")
    config = resolve_translation_config("pix2pix", f"pairs={tmp_path / 'ab'}", {
        "data.image_size": 16, "data.batch_size": 2, "model.g_hidden": 4, "model.d_hidden": 4, "model.d_layers": 2,
        "train.steps": 2, "train.log_every": 2, "train.sample_every": 2, "train.checkpoint_every": 2,
        "train.eval_samples": 4, "train.device": "cpu"})  # fmt: skip
    run = train_translation(config, tmp_path / "run", progress=False).run_dir
    result = evaluate_run(run, device="cpu", progress=False)
    assert {"l1", "l1_identity", "l1_blur"} <= set(result["metrics"])
    assert result["protocol"]["kind"] == "translation" and result["protocol"]["generator_step"] == 2
    assert json.loads((run / "eval.json").read_text())["metrics"] == result["metrics"]
    with pytest.raises(GankitError, match="translation runs"):
        evaluate_run(run, metrics=["fid"], device="cpu")


def test_inception_features_on_a_few_images():
    from gankit.metrics.features import INCEPTION_SHA256

    result = evaluate_datasets("mnist:test", "fashion-mnist:test", metrics=["fid"], n=2, features="inception",
                               progress=False)
    assert result["protocol"]["feature_net_hash"] == INCEPTION_SHA256[:12] and result["protocol"]["feature_dim"] == 2048
    assert result["metrics"]["fid"] > 0
