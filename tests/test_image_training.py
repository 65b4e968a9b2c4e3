"""Image recipes train through the one loop; samples come back from a copied run directory alone."""

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

import gankit
from gankit.cli import main
from gankit.data import TensorData, register
from gankit.errors import GankitError
from gankit.generation import interpolation_path, lerp, slerp, truncated_normal
from gankit.recipes import resolve_config
from gankit.training.loop import train

TINY_IMAGES = "tiny-images-for-tests"


@register(TINY_IMAGES, "64 random 1x28x28 images with 10 labels (tests only)", kind="image")
def _tiny_images(device="cpu", split="train", image_size=None, channels=None):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 1, 28, 28, generator=g) * 2 - 1
    return TensorData(name=TINY_IMAGES, shape=(1, 28, 28), num_classes=10, device=torch.device(device), x=x, y=torch.arange(64) % 10)


OVERRIDES = {
    "train.steps": 3,
    "train.log_every": 1,
    "train.sample_every": 3,
    "train.checkpoint_every": 3,
    "train.eval_samples": 64,
    "train.device": "cpu",
    "data.batch_size": 8,
    "model.g_hidden": 4,
    "model.d_hidden": 4,
    "model.z_dim": 8,
}


def run(recipe, path, **extra):
    config = resolve_config(recipe, TINY_IMAGES, "image", {**OVERRIDES, **extra})
    return train(config, path, progress=False)


@pytest.mark.parametrize("recipe", ["dcgan", "cgan", "infogan", "sagan", "biggan", "wgan-gp", "hinge"])
def test_each_image_recipe_trains_three_steps(recipe, tmp_path):
    result = run(recipe, tmp_path / recipe)
    records = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3]
    assert all(np.isfinite([r["loss_d"], r["loss_g"]]).all() for r in records)
    assert ("auxiliary" in records[0]) == (recipe == "infogan")
    assert (result.run_dir / "samples" / "step-00000003.png").is_file()
    meta = json.loads((result.run_dir / "run.json").read_text())
    assert meta["arch"] == {"cgan": "dcgan", "wgan-gp": "dcgan", "hinge": "dcgan"}.get(recipe, recipe)


def test_orthogonal_regulariser_is_added_to_the_generator_loss(tmp_path):
    from gankit.penalties import orthogonal_regularization
    from gankit.training.loop import build_models

    def first_loss_g(beta, name):
        result = run("hinge", tmp_path / name, **{"loss.ortho_weight": beta, "train.steps": 1})
        return json.loads((result.run_dir / "metrics.jsonl").read_text().splitlines()[0])["loss_g"]

    config = resolve_config("hinge", TINY_IMAGES, "image", OVERRIDES)
    torch.manual_seed(config.train.seed)  # G as the loop builds it: G's loss is formed before its first update
    G, _ = build_models(config, (1, 28, 28), 10, torch.device("cpu"))
    expected = orthogonal_regularization(G, 0.5).item()
    assert first_loss_g(0.5, "ortho") - first_loss_g(0.0, "plain") == pytest.approx(expected, rel=1e-4)


def test_conditional_snapshot_has_one_row_per_label(tmp_path):
    result = run("cgan", tmp_path / "c")
    grid = np.asarray(Image.open(result.run_dir / "samples" / "step-00000003.png"))
    assert grid.shape[:2] == (10 * 30 + 2, 8 * 30 + 2)  # 10 labels x 8 shared z's, 28 px + 2 px padding


def test_gradient_penalty_refuses_a_batch_normalised_critic():
    with pytest.raises(GankitError, match="d_batchnorm"):
        resolve_config("wgan-gp", TINY_IMAGES, "image", {"model.d_batchnorm": True})
    assert not resolve_config("wgan-gp", "mnist", "image").model.d_batchnorm
    assert resolve_config("dcgan", "mnist", "image").model.d_batchnorm


def test_image_recipes_refuse_vector_data(tmp_path):
    with pytest.raises(GankitError, match="image"):
        train(resolve_config("dcgan", "ring8", "vector", {"train.steps": 1, "train.device": "cpu"}), tmp_path / "v", progress=False)


def _copied(result, tmp_path):
    copy = tmp_path / "copied"
    shutil.copytree(result.run_dir, copy)
    shutil.rmtree(copy / "checkpoints")
    return copy


def test_generate_with_labels_from_a_copied_run_dir(tmp_path):
    copy = _copied(run("cgan", tmp_path / "c"), tmp_path)
    trained = gankit.load(copy, device="cpu")
    assert trained.num_classes == 10
    a = trained.generate(20, seed=3, labels=[7])
    assert a.shape == (20, 1, 28, 28) and torch.equal(a, trained.generate(20, seed=3, labels=[7]))
    assert not torch.equal(a, trained.generate(20, seed=3, labels=[2]))
    with pytest.raises(GankitError, match="labels must be in"):
        trained.generate(4, labels=[10])

    assert main(["generate", str(copy), "--n", "12", "--labels", "0,1,2", "--out", str(tmp_path / "s.npz")]) == 0
    saved = np.load(tmp_path / "s.npz")
    assert saved["images"].shape == (12, 28, 28, 1) and saved["images"].dtype == np.uint8
    assert saved["labels"].tolist() == [0, 1, 2] * 4
    assert main(["generate", str(copy), "--n", "12", "--labels", "0,1,2", "--out", str(tmp_path / "g.png")]) == 0
    assert np.asarray(Image.open(tmp_path / "g.png")).shape[:2] == (4 * 30 + 2, 3 * 30 + 2)  # a column per label


def test_unconditional_generator_on_labelled_data_refuses_labels(tmp_path):
    trained = gankit.load(run("dcgan", tmp_path / "d").run_dir, device="cpu")
    assert trained.num_classes == 0
    with pytest.raises(GankitError, match="unconditional"):
        trained.generate(4, labels=[1])
    assert main(["generate", str(tmp_path / "d"), "--labels", "1", "--out", str(tmp_path / "x.png")]) == 2


def test_infogan_codes_at_generation_time(tmp_path):
    copy = _copied(run("infogan", tmp_path / "i"), tmp_path)
    trained = gankit.load(copy, device="cpu")
    samples = trained.sample(10, seed=0, categorical=[4], continuous=[0.5, -0.5])
    assert samples.categorical.tolist() == [4] * 10
    assert torch.allclose(samples.continuous, torch.tensor([0.5, -0.5]).expand(10, 2), atol=1e-5)
    assert main(["generate", str(copy), "--n", "6", "--codes", "0,9", "--continuous=1,0", "--out", str(tmp_path / "c.npz")]) == 0
    saved = np.load(tmp_path / "c.npz")
    assert saved["categorical"].tolist() == [0, 9] * 3 and saved["images"].shape == (6, 28, 28, 1)
    assert main(["generate", str(copy), "--continuous", "3,0", "--out", str(tmp_path / "bad.png")]) == 2


def test_truncation_bounds_noise_but_not_codes(tmp_path):
    trained = gankit.load(run("infogan", tmp_path / "i").run_dir, device="cpu")
    samples = trained.sample(500, seed=1, truncation=0.5)
    noise_dim = trained.generator.noise_dim
    assert samples.z[:, :noise_dim].abs().max() <= 0.5
    assert samples.categorical.unique().numel() == 10  # codes keep their full prior
    z = truncated_normal((20_000,), 1.0, torch.Generator().manual_seed(0), torch.device("cpu"))
    # N(0,1) truncated to [-1, 1] has variance 1 - 2·φ(1)/(Φ(1) - Φ(-1)) = 0.2911
    assert abs(z.var().item() - 0.2911) < 0.01 and z.abs().max() <= 1


def test_interpolation_paths():
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(3, 16, generator=g), torch.randn(3, 16, generator=g)
    for mode in ("lerp", "slerp"):
        path = interpolation_path(z0, z1, 5, mode)
        assert path.shape == (3, 5, 16)
        assert torch.allclose(path[:, 0], z0, atol=1e-5) and torch.allclose(path[:, -1], z1, atol=1e-5)
    t = torch.tensor([0.25])
    assert torch.allclose(lerp(z0, z1, t)[:, 0], 0.75 * z0 + 0.25 * z1)
    # slerp between two vectors of the same norm stays on their sphere; lerp cuts inside it
    a, b = z0[:1], z0[:1].roll(1, dims=1)
    middle = torch.tensor([0.5])
    assert torch.allclose(slerp(a, b, middle).norm(), a.norm(), atol=1e-4)
    assert lerp(a, b, middle).norm() < a.norm()
    assert torch.allclose(slerp(a, a, middle)[:, 0], a)  # parallel: no division by sin 0


def test_interpolation_strips_from_the_cli(tmp_path):
    copy = _copied(run("cgan", tmp_path / "c"), tmp_path)
    out = tmp_path / "strip.png"
    assert main(["generate", str(copy), "--interpolate", "6", "--n", "3", "--labels", "5", "--out", str(out)]) == 0
    assert np.asarray(Image.open(out)).shape[:2] == (3 * 30 + 2, 6 * 30 + 2)
    strips = gankit.load(copy, device="cpu").interpolate(2, 4, seed=0, mode="lerp", labels=[1, 8])
    assert strips.labels.tolist() == [1, 1, 1, 1, 8, 8, 8, 8]


def test_tensorboard_scalars_and_images(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = run("dcgan", tmp_path / "tb", **{"train.tensorboard": True})
    events = EventAccumulator(str(result.run_dir / "tensorboard")).Reload()
    assert [e.step for e in events.Scalars("loss_d")] == [1, 2, 3]
    assert [e.step for e in events.Images("samples")] == [3]
