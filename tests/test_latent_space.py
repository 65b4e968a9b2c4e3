"""The truncation curve, DCGAN's vector arithmetic and the discriminator's filters, on a tiny conditional biggan run."""

import json

import numpy as np
import pytest
import torch

import gankit
from gankit.cli import main
from gankit.data import TensorData, register
from gankit.discriminator_view import conv_layers, discriminator_views, initial_discriminator, most_responsive
from gankit.errors import GankitError
from gankit.evaluation import evaluate_run
from gankit.evaluation.truncation import truncation_curve
from gankit.latent_arithmetic import class_concept, combine, decode_concepts, samples_concept
from gankit.recipes import resolve_config
from gankit.training.loop import train
from gankit.training.run_dir import RunDir

DATA = "tiny-labelled-images-for-latent-tests"
TINY = {"train.steps": 3, "train.log_every": 1, "train.sample_every": 3, "train.checkpoint_every": 3,
        "train.eval_samples": 64, "train.device": "cpu", "data.batch_size": 8, "model.g_hidden": 4,
        "model.d_hidden": 4, "model.z_dim": 9}


@register(DATA, "64 random 1x28x28 images with 10 labels, both splits (tests only)", kind="image")
def _tiny(device="cpu", split="train", image_size=None, channels=None):
    g = torch.Generator().manual_seed(0 if split == "train" else 1)
    x = torch.rand(64, 1, 28, 28, generator=g) * 2 - 1
    return TensorData(name=DATA, shape=(1, 28, 28), num_classes=10, device=torch.device(device), x=x, y=torch.arange(64) % 10)


@pytest.fixture(autouse=True)
def private_stats_cache(tmp_path, monkeypatch):
    monkeypatch.setattr("gankit.metrics.stats_cache.stats_cache_dir", lambda: tmp_path / "stats")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    config = resolve_config("biggan", DATA, "image", TINY)
    return train(config, tmp_path_factory.mktemp("latent") / "biggan", progress=False).run_dir


# --- truncation curve ---------------------------------------------------------------------------------------


def test_truncation_curve_ends_with_the_untruncated_scores_of_gankit_eval(run):
    curve = truncation_curve(run, [1.0, 0.5], n=64, features="mnist")
    assert [p["psi"] for p in curve["points"]] == [0.5, 1.0, None]
    assert all({"fid", "precision", "recall"} <= set(p) for p in curve["points"])
    plain = evaluate_run(run, metrics=["fid", "pr"], n=64, features="mnist", progress=False)["metrics"]
    assert curve["points"][-1]["fid"] == pytest.approx(plain["fid"], rel=1e-6)
    assert curve["points"][-1]["recall"] == pytest.approx(plain["recall"])
    assert curve["protocol"]["n_fake"] == 64 and curve["protocol"]["feature_net"] == "mnist"


def test_truncation_curve_cli_writes_json_and_figure(run, tmp_path, capsys):
    figure = tmp_path / "curve.png"
    assert main(["eval", str(run), "--truncation-curve", "0.5,1", "--n", "64", "--features", "mnist",
                 "--figure", str(figure), "--no-progress"]) == 0
    assert figure.stat().st_size > 0 and "psi" in capsys.readouterr().out
    saved = json.loads((run / "truncation.json").read_text())
    assert [p["psi"] for p in saved["points"]] == [0.5, 1.0, None]
    for bad, message in ((["--truncation-curve", "0,1"], "must be > 0"), (["--truncation-curve", "a"], "comma-separated"),
                         (["--figure", str(figure)], "--truncation-curve"),
                         (["--truncation-curve", "1", "--metrics", "classifier"], "no truncation curve")):
        assert main(["eval", str(run), *bad]) == 2
        assert message in capsys.readouterr().err


# --- vector arithmetic ---------------------------------------------------------------------------------------


def test_a_class_concept_decodes_as_the_generator_given_that_class():
    torch.manual_seed(0)
    trained_g = gankit.nets.build_networks(resolve_config("biggan", DATA, "image", TINY).model, (1, 28, 28), 10)[0].eval()
    images = decode_concepts(trained_g, [class_concept(trained_g, 3)], columns=4, seed=5)
    z = torch.randn(4, 9, generator=torch.Generator().manual_seed(5))  # the columns' shared latents
    torch.testing.assert_close(images, trained_g(z, torch.full((4,), 3)))


def test_one_sample_concept_without_noise_decodes_to_that_sample(run):
    trained = gankit.load(run, device="cpu")
    samples = trained.sample(5, seed=1)
    concept = samples_concept(trained.generator, samples.z[2:3], samples.labels[2:3])
    images = decode_concepts(trained.generator, [concept], columns=2, noise=0.0)
    torch.testing.assert_close(images, samples.images[2:3].expand(2, -1, -1, -1), rtol=1e-4, atol=1e-5)


def test_arithmetic_is_taken_part_by_part_and_refuses_mixed_concepts(run):
    trained = gankit.load(run, device="cpu")
    samples = trained.sample(6, seed=2)
    a = samples_concept(trained.generator, samples.z[:3], samples.labels[:3])
    c = samples_concept(trained.generator, samples.z[3:], samples.labels[3:])
    torch.testing.assert_close(a.z, samples.z[:3].mean(0))
    torch.testing.assert_close(a.embedding, trained.generator.embed(samples.labels[:3]).mean(0))
    result = combine(a, a, c)
    torch.testing.assert_close(result.z, c.z)
    torch.testing.assert_close(result.embedding, c.embedding)
    with pytest.raises(GankitError, match="cannot mix"):
        combine(a, class_concept(trained.generator, 1), c)
    with pytest.raises(GankitError, match="not one of this generator's classes"):
        class_concept(trained.generator, 10)


def test_arithmetic_cli_from_a_generate_npz(run, tmp_path, capsys):
    npz = tmp_path / "s.npz"
    assert main(["generate", str(run), "--n", "12", "--out", str(npz)]) == 0
    with np.load(npz) as saved:
        assert saved["z"].shape == (12, 9) and saved["labels"].shape == (12,)
    out = tmp_path / "grid.png"
    assert main(["arithmetic", str(run), "--samples", str(npz), "--a", "0,1,2", "--b", "3,4,5", "--c", "6,7,8",
                 "--columns", "3", "--out", str(out)]) == 0
    assert out.stat().st_size > 0
    assert main(["arithmetic", str(run), "--a", "class:1", "--b", "class:2", "--c", "class:3", "--out", str(out)]) == 0
    capsys.readouterr()
    for bad, message in ((["--a", "0,99"], "not in 0..11"), (["--a", "class:x"], "class:K"), (["--a", "class:1"], "cannot mix")):
        args = ["arithmetic", str(run), "--samples", str(npz), "--a", "0", "--b", "1", "--c", "2", "--out", str(out)]
        args[args.index("--a") + 1] = bad[1]
        assert main(args) == 2
        assert message in capsys.readouterr().err


# --- the discriminator's filters -------------------------------------------------------------------------------


def test_random_init_view_is_the_discriminator_training_starts_from(tmp_path):
    config = resolve_config("biggan", DATA, "image", {**TINY, "train.steps": 1, "optim.lr_d": 1e-30})
    trained_d = train(config, tmp_path / "one-step", progress=False).discriminator  # a step of 1e-30 moves nothing
    start = initial_discriminator(config, RunDir(tmp_path / "one-step").load_meta())
    for before, after in zip(conv_layers(start), conv_layers(trained_d)):
        torch.testing.assert_close(before.parametrizations.weight.original, after.parametrizations.weight.original)


def test_views_show_filters_and_the_strongest_maps(run):
    image = torch.rand(1, 28, 28) * 2 - 1
    initial, trained = discriminator_views(run, image, label=3, k=4)
    assert initial.name == "random init" and trained.name == "trained (step 3)"
    assert initial.filters.shape == trained.filters.shape and initial.filters.shape[1] == 1
    assert not torch.equal(initial.filters, trained.filters)
    assert trained.maps.shape[0] == 4 and trained.scores == sorted(trained.scores, reverse=True)
    channels, scores = most_responsive(torch.tensor([[[-1.0, 3.0]], [[2.0, 2.0]], [[0.5, -9.0]]]), 2)
    assert channels.tolist() == [1, 0] and scores.tolist() == [2.0, 1.5]  # mean of max(0, a)
    with pytest.raises(GankitError, match="conv layers 1.."):
        discriminator_views(run, image, label=3, layer=99)
    with pytest.raises(GankitError, match="conditional"):
        discriminator_views(run, image)


def test_filters_cli_writes_the_figure(run, tmp_path, capsys):
    out = tmp_path / "filters.png"
    assert main(["filters", str(run), "--index", "3", "--maps", "4", "--out", str(out)]) == 0
    assert out.stat().st_size > 0
    assert main(["filters", str(run), "--index", "999", "--out", str(out)]) == 2
    assert "--index 999" in capsys.readouterr().err
