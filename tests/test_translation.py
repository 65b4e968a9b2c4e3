"""pix2pix / CycleGAN: nets, image pool, loss terms, data, training, translation from a copied run directory."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.translation.data import build_translation_data, is_translation_data
from gankit.translation.pixels import grayscale, jitter_batch, sobel_edges
from gankit.errors import GankitError
from gankit.nets.patchgan import PatchGANDiscriminator, output_size, receptive_field
from gankit.nets.resnet_gen import ResnetGenerator, default_res_blocks
from gankit.nets.unet import UNetGenerator, dropout_levels, unet_depth
from gankit.recipes import get_recipe
from gankit.translation.image_pool import ImagePool
from gankit.training.harness import lr_factor
from gankit.translation.train import train_translation
from gankit.translation.config import is_translation_recipe, resolve_translation_config
from gankit.translation.losses import adversarial_loss, cyclegan_generator_loss, pix2pix_generator_loss
from gankit.translation.translate import evaluate_translation, gaussian_blur, load_translator, translate

# --- networks ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [8, 16, 32, 64])
def test_unet_maps_every_power_of_two_size_to_the_same_size(size):
    torch.manual_seed(0)
    g = UNetGenerator(1, 3, size, base_channels=4)
    y = g(torch.randn(2, 1, size, size))
    assert y.shape == (2, 3, size, size)
    assert y.abs().max() <= 1  # tanh output
    assert len(g.down) == unet_depth(size) == int(math.log2(size))


def test_unet_rejects_sizes_without_a_1x1_bottleneck():
    with pytest.raises(GankitError, match="power-of-two"):
        UNetGenerator(1, 1, 28)


def test_unet_dropout_levels_follow_the_reference_and_cover_small_images():
    assert dropout_levels(8) == [4, 5, 6]  # 256 px: the three 512-channel levels above the innermost
    assert dropout_levels(7) == [4, 5]  # 128 px
    assert dropout_levels(5) == [1, 2, 3]  # 32 px: no 8x level, so every inner non-innermost level


def test_unet_is_noisy_only_through_dropout():
    torch.manual_seed(0)
    g = UNetGenerator(1, 1, 16, base_channels=4)
    x = torch.randn(4, 1, 16, 16)
    assert not torch.equal(g(x), g(x))  # training mode: dropout draws differ
    g.eval()
    assert torch.equal(g(x), g(x))


def test_unet_skips_carry_the_input_past_the_bottleneck():
    """Every output pixel depends on its own input pixel through the level-0 skip, not only through 1x1."""
    torch.manual_seed(0)
    g = UNetGenerator(1, 1, 16, base_channels=4, dropout=0).eval()
    x = torch.randn(1, 1, 16, 16, requires_grad=True)
    g(x)[0, 0, 3, 3].backward()
    grad = x.grad[0, 0].abs()
    assert grad[3, 3] > 0 and grad[2:5, 2:5].sum() > 0.05 * grad.sum()  # a local dependence, as a skip gives


@pytest.mark.parametrize("size", [12, 28, 32])
def test_resnet_generator_shapes(size):
    torch.manual_seed(0)
    g = ResnetGenerator(3, 1, base_channels=4, n_blocks=2)
    assert g(torch.randn(2, 3, size, size)).shape == (2, 1, size, size)
    with pytest.raises(GankitError, match="divisible by 4"):
        g(torch.randn(1, 3, 30, 30))
    assert default_res_blocks(256) == 9 and default_res_blocks(128) == 6


@pytest.mark.parametrize("size, layers", [(28, 3), (32, 3), (64, 3), (16, 2), (256, 3)])
def test_patchgan_score_map_size(size, layers):
    d = PatchGANDiscriminator(2, base_channels=2, n_layers=layers, norm="instance")
    assert d(torch.randn(1, 2, size, size)).shape == (1, 1, output_size(size, layers), output_size(size, layers))
    assert output_size(256, 3) == 30  # the paper's 30x30 map of 70x70 patches


def test_patchgan_receptive_field_is_70_at_3_layers():
    """Measured: the input pixels one output score depends on span 70x70."""
    torch.manual_seed(0)
    d = PatchGANDiscriminator(1, base_channels=2, n_layers=3, norm="none")
    x = torch.zeros(1, 1, 160, 160, requires_grad=True)
    d(x)[0, 0, 8, 8].backward()
    rows = x.grad[0, 0].abs().sum(1).nonzero()
    cols = x.grad[0, 0].abs().sum(0).nonzero()
    assert (rows.max() - rows.min() + 1).item() == (cols.max() - cols.min() + 1).item() == receptive_field(3) == 70
    assert receptive_field(1) == 16 and receptive_field(2) == 34


def test_paper_sized_nets_have_the_reference_parameter_counts():
    """unet_256 54.414M, resnet_9blocks 11.378M, basic PatchGAN 2.765M (3-channel images, 64 filters)."""
    count = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    assert count(UNetGenerator(3, 3, 256)) == 54_413_955
    assert count(ResnetGenerator(3, 3, 64, 9)) == 11_378_179
    assert count(PatchGANDiscriminator(3, 64, 3, "instance")) == 2_764_737
    assert count(PatchGANDiscriminator(6, 64, 3, "batch")) == 2_768_705


# --- image pool ----------------------------------------------------------------------------------------


def _batch(values):
    return torch.tensor(values, dtype=torch.float).view(-1, 1, 1, 1)


def test_pool_of_size_zero_returns_its_input():
    pool = ImagePool(0)
    x = torch.randn(3, 1, 2, 2)
    assert torch.equal(pool.query(x, torch.Generator().manual_seed(0)), x)


def test_pool_fills_then_swaps_half_the_time_preserving_every_image():
    gen = torch.Generator().manual_seed(0)
    pool = ImagePool(4)
    out = pool.query(_batch([1, 2, 3, 4]), gen)
    assert out.flatten().tolist() == [1, 2, 3, 4] and pool.count == 4  # filling: pass through and store
    swapped = 0
    next_value = 5
    for _ in range(200):
        before = sorted(pool.images[: pool.count].flatten().tolist())
        new = [float(next_value), float(next_value + 1)]
        next_value += 2
        out = pool.query(_batch(new), gen).flatten().tolist()
        after = sorted(pool.images[: pool.count].flatten().tolist())
        # Nothing is created or lost: what D sees plus what is stored = what was stored plus the new images.
        assert sorted(out + after) == sorted(before + new)
        swapped += sum(v not in new for v in out)
    assert pool.count == 4
    assert 0.4 < swapped / 398 < 0.6  # after filling, each image is swapped with probability 1/2


def test_pool_state_round_trip_continues_identically():
    gen = torch.Generator().manual_seed(1)
    pool = ImagePool(3)
    for i in range(3):
        pool.query(torch.full((2, 1, 2, 2), float(i)), gen)
    copy = ImagePool(3)
    copy.load_state_dict(pool.state_dict())
    gen_copy = torch.Generator().manual_seed(0)
    gen_copy.set_state(gen.get_state())
    x = torch.randn(5, 1, 2, 2)
    assert torch.equal(pool.query(x, gen), copy.query(x, gen_copy))


# --- loss terms ----------------------------------------------------------------------------------------


def test_pix2pix_adversarial_terms_are_halved_bce_for_d_and_nonsaturating_for_g():
    loss = adversarial_loss("nsgan")
    real, fake = torch.tensor([0.0, 2.0]), torch.tensor([0.0, -1.0])
    log_sigmoid = lambda v: math.log(1 / (1 + math.exp(-v)))  # noqa: E731
    expected_d = 0.5 * (-(log_sigmoid(0) + log_sigmoid(2)) / 2 - (math.log(1 - 0.5) + math.log(1 - 1 / (1 + math.e))) / 2)
    assert loss.discriminator(real, fake).item() == pytest.approx(expected_d)
    assert loss.generator(fake).item() == pytest.approx(-(log_sigmoid(0) + log_sigmoid(-1)) / 2)


def test_cyclegan_adversarial_terms_are_least_squares_with_d_halved():
    loss = adversarial_loss("lsgan")
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 2.0])
    assert loss.discriminator(real, fake).item() == pytest.approx(0.5 * (0 + 4) / 2 + 0.5 * (0 + 4) / 2)
    assert loss.generator(fake).item() == pytest.approx(((0 - 1) ** 2 + (2 - 1) ** 2) / 2)  # E[(D-1)^2], no 1/2
    with pytest.raises(GankitError, match="nsgan"):
        adversarial_loss("wgan")


def test_pix2pix_generator_loss_is_adversarial_plus_100_l1():
    fake_b = torch.tensor([[[[0.5, -0.5]]]])
    real_b = torch.tensor([[[[1.0, 0.5]]]])
    scores = torch.tensor([1.0])
    terms = pix2pix_generator_loss(scores, fake_b, real_b, adversarial_loss("nsgan"), 100.0)
    assert terms["l1"].item() == pytest.approx((0.5 + 1.0) / 2)
    assert terms["adv"].item() == pytest.approx(math.log(1 + math.exp(-1.0)))
    assert terms["total"].item() == pytest.approx(terms["adv"].item() + 100 * 0.75)


def test_cyclegan_generator_loss_terms():
    a, b = torch.zeros(1, 1, 1, 2), torch.ones(1, 1, 1, 2)
    cycled_a, cycled_b = torch.tensor([[[[0.2, -0.2]]]]), torch.tensor([[[[1.0, 0.0]]]])
    same_b, same_a = torch.tensor([[[[1.0, 0.6]]]]), torch.tensor([[[[0.0, 0.0]]]])
    scores_b, scores_a = torch.tensor([0.0]), torch.tensor([2.0])
    loss = adversarial_loss("lsgan")
    terms = cyclegan_generator_loss(scores_b, scores_a, a, cycled_a, b, cycled_b, loss, 10.0, 0.5, same_b=same_b, same_a=same_a)
    assert terms["adv"].item() == pytest.approx((0 - 1) ** 2 + (2 - 1) ** 2)
    assert terms["cycle"].item() == pytest.approx(0.2 + 0.5)  # E|F(G(a)) - a| + E|G(F(b)) - b|
    assert terms["identity"].item() == pytest.approx(0.2 + 0.0)  # E|G(b) - b| + E|F(a) - a|
    assert terms["total"].item() == pytest.approx(2.0 + 10 * 0.7 + 0.5 * 10 * 0.2)
    no_identity = cyclegan_generator_loss(scores_b, scores_a, a, cycled_a, b, cycled_b, loss, 10.0, 0.0)
    assert "identity" not in no_identity and no_identity["total"].item() == pytest.approx(2.0 + 7.0)


def test_learning_rate_is_constant_then_linear_to_zero():
    assert [lr_factor(s, 100, "linear", 0.5) for s in (0, 50, 75, 100)] == [1.0, 1.0, 0.5, 0.0]
    assert lr_factor(30, 100, "linear", 0.0) == pytest.approx(0.7)
    assert lr_factor(99, 100, "none", 0.5) == 1.0


# --- data ----------------------------------------------------------------------------------------------


def test_sobel_edges_outline_a_square():
    x = -torch.ones(1, 1, 12, 12)
    x[..., 4:8, 4:8] = 1.0
    edges = sobel_edges(x)
    assert set(edges.unique().tolist()) == {-1.0, 1.0}
    assert edges[0, 0, 0, 0] == -1 and edges[0, 0, 3, 5] == 1 and edges[0, 0, 4, 5] == 1  # on both sides of the border
    assert edges[0, 0, 1, 1] == -1  # flat regions have no edges


def test_grayscale_is_bt601_luma():
    rgb = torch.tensor([1.0, 0.0, -1.0]).view(1, 3, 1, 1)
    assert grayscale(rgb).item() == pytest.approx(0.299 - 0.114)


def test_jitter_crops_and_flips_both_images_of_a_pair_alike():
    x = torch.arange(2 * 3 * 10 * 10, dtype=torch.float).view(2, 3, 10, 10)
    a, b = jitter_batch([x, x.clone()], 8, torch.Generator().manual_seed(0))
    assert a.shape == (2, 3, 8, 8) and torch.equal(a, b)
    rows = a[:, 0, :, 0] - a[:, 0, :1, 0]
    assert torch.equal(rows.abs(), torch.arange(8.0).mul(10).expand(2, -1))  # a contiguous crop of whole rows


def _write_ab_folder(root, n, size=12, offset=0):
    rng = np.random.default_rng(offset)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        left = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        Image.fromarray(np.concatenate([left, 255 - left], axis=1)).save(root / f"{i:03d}.png")


def test_side_by_side_pairs_split_into_aligned_halves(tmp_path):
    _write_ab_folder(tmp_path / "ab", 10)
    data = build_translation_data(f"pairs={tmp_path / 'ab'}", "cpu", split="test", image_size=12)
    a, b = data.examples(5)
    assert len(data) == 1  # no split folders: every 10th file held out
    assert torch.allclose(a, -b, atol=1 / 127.5 + 1e-6)  # B was drawn as the negative of A
    train = build_translation_data(f"pairs={tmp_path / 'ab'}", "cpu", split="train", image_size=8)
    assert len(train) == 9
    a, b = train.sample(4, torch.Generator().manual_seed(0))
    assert a.shape == b.shape == (4, 3, 8, 8) and torch.allclose(a, -b, atol=0.05)  # jittered alike


def test_two_folders_pair_by_name_and_report_strays(tmp_path):
    for side in ("A", "B"):
        (tmp_path / side).mkdir()
        for name in ("x", "y"):
            Image.new("L", (8, 8), 200 if side == "A" else 50).save(tmp_path / side / f"{name}.png")
    data = build_translation_data(f"pairs={tmp_path}", "cpu", split="train", image_size=8, channels=1)
    a, b = data.examples(1)
    assert a.shape == (1, 1, 8, 8) and a.mean() > 0 > b.mean()
    Image.new("L", (8, 8)).save(tmp_path / "B" / "z.png")
    with pytest.raises(GankitError, match="'z' is only in"):
        build_translation_data(f"pairs={tmp_path / 'A'},{tmp_path / 'B'}", "cpu", image_size=8)


def test_translation_data_names():
    assert is_translation_data("edges2fashion") and is_translation_data("A=mnist,B=x/") and is_translation_data("pairs=d")
    assert not is_translation_data("mnist")
    with pytest.raises(GankitError, match="did you mean 'edges2fashion'"):
        build_translation_data("edge2fashion")
    with pytest.raises(GankitError, match="give both domains"):
        build_translation_data("A=mnist")


def test_gray2color_pairs_are_gray_and_colour_views_of_one_crop():
    pytest.importorskip("skimage")
    data = build_translation_data("gray2color", "cpu", split="test", image_size=16)
    a, b = data.examples(4)
    assert a.shape == (4, 1, 16, 16) and b.shape == (4, 3, 16, 16)
    assert torch.allclose(a, grayscale(b), atol=1 / 127.5 + 1e-6)  # the stored gray is the rounded luma


# --- recipes and configs -------------------------------------------------------------------------------


def test_recipes_carry_the_papers_settings():
    p2p, cyc = get_recipe("pix2pix").settings, get_recipe("cyclegan").settings
    assert p2p["loss.l1_weight"] == 100 and p2p["loss.name"] == "nsgan" and p2p["train.pool_size"] == 0
    assert cyc["loss.cycle_weight"] == 10 and cyc["loss.identity_weight"] == 0.5 and cyc["train.pool_size"] == 50
    for s in (p2p, cyc):
        assert (s["optim.lr_g"], s["optim.beta1"], s["model.d_layers"], s["optim.decay_start"]) == (2e-4, 0.5, 3, 0.5)
    assert is_translation_recipe("cyclegan") and not is_translation_recipe("dcgan")


def test_config_mistakes_are_one_line_errors():
    with pytest.raises(GankitError, match="'train.n_critic' is not supported"):
        resolve_translation_config("pix2pix", "edges2fashion", {"train.n_critic": 5})
    with pytest.raises(GankitError, match="data.direction"):
        resolve_translation_config("pix2pix", "edges2fashion", {"data.direction": "AB"})


# --- training and translating from a copied run directory ----------------------------------------------

TINY = {
    "data.image_size": 16, "data.batch_size": 2, "model.g_hidden": 4, "model.d_hidden": 4, "model.d_layers": 2,
    "model.res_blocks": 1, "train.steps": 4, "train.log_every": 2, "train.sample_every": 4, "train.checkpoint_every": 2,
    "train.eval_samples": 4, "train.device": "cpu", "train.pool_size": 3,
}  # fmt: skip


def test_pix2pix_trains_and_translates_from_a_copied_run_directory(tmp_path):
    _write_ab_folder(tmp_path / "ab", 10)
    config = resolve_translation_config("pix2pix", f"pairs={tmp_path / 'ab'}", TINY)
    result = train_translation(config, tmp_path / "run", progress=False)
    assert result.last_record["step"] == 4 and math.isfinite(result.last_record["heldout_l1"])
    assert (tmp_path / "run" / "samples" / "step-00000004.png").is_file()
    moved = tmp_path / "elsewhere" / "run"
    shutil.copytree(tmp_path / "run", moved)
    shutil.rmtree(tmp_path / "run")
    Image.new("RGB", (30, 20), (255, 0, 0)).save(tmp_path / "in.png")
    (written,) = translate(moved, tmp_path / "in.png", tmp_path / "out", device="cpu")
    assert written == tmp_path / "out" / "AtoB" / "in.png" and Image.open(written).size == (16, 16)
    # Same pixels as the trained generator in eval mode.
    x = torch.tensor([1.0, -1.0, -1.0]).view(1, 3, 1, 1).expand(1, 3, 16, 16)
    expected = ((result.generators["G_AB"].eval()(x).clamp(-1, 1) + 1) * 127.5).round()
    got = torch.from_numpy(np.array(Image.open(written))).permute(2, 0, 1).float()
    assert torch.equal(got, expected[0])
    with pytest.raises(GankitError, match="translates AtoB only"):
        translate(moved, tmp_path / "in.png", tmp_path / "out", direction="BtoA", device="cpu")
    scores = evaluate_translation(moved, device="cpu")
    assert {"l1", "l1_identity", "l1_blur", "l1_median_image"} <= set(scores)


def test_cyclegan_translates_both_ways_and_resumes_exactly(tmp_path):
    _write_ab_folder(tmp_path / "a", 10, offset=1)
    _write_ab_folder(tmp_path / "b", 10, offset=2)
    data = f"A={tmp_path / 'a'},B={tmp_path / 'b'}"
    config = resolve_translation_config("cyclegan", data, TINY)
    full = train_translation(config, tmp_path / "full", progress=False)
    meta = json.loads((tmp_path / "full" / "run.json").read_text())
    assert meta["generators"] == ["G_AB", "G_BA"] and meta["paired"] is False
    assert {"cycle", "identity", "heldout_cycle_l1_A", "heldout_cycle_l1_B"} <= set(full.last_record)

    # Resume from the step-2 checkpoint of a copy: the same weights as the uninterrupted run.
    shutil.copytree(tmp_path / "full", tmp_path / "resumed")
    (tmp_path / "resumed" / "checkpoints" / "step-00000004.pt").unlink()
    resumed = train_translation(config, tmp_path / "resumed", resume=True, progress=False)
    for key, value in full.generators.state_dict().items():
        assert torch.equal(value, resumed.generators.state_dict()[key]), key

    for direction, shape in (("AtoB", (3, 16, 16)), ("BtoA", (3, 16, 16))):
        translator = load_translator(tmp_path / "full", direction, "cpu")
        assert translator.out_shape == shape
    outputs = translate(tmp_path / "full", tmp_path / "b", tmp_path / "out", direction="BtoA", device="cpu")
    assert len(outputs) == 10 and all(p.suffix == ".png" for p in outputs)


def test_identity_loss_needs_matching_channels(tmp_path):
    pytest.importorskip("skimage")
    config = resolve_translation_config("cyclegan", "gray2color", {**TINY, "data.image_size": 16})
    with pytest.raises(GankitError, match="identity_weight=0"):
        train_translation(config, tmp_path / "run", progress=False)


def test_gaussian_blur_keeps_constants_and_mass():
    x = torch.full((1, 2, 9, 9), 0.3)
    assert torch.allclose(gaussian_blur(x, 1.0), x)
    spike = torch.zeros(1, 1, 21, 21)
    spike[0, 0, 10, 10] = 1.0
    assert gaussian_blur(spike, 1.0).sum().item() == pytest.approx(1.0, abs=1e-5)


def test_translation_trains_and_resumes_exactly_in_nhwc_when_asked(tmp_path):
    _write_ab_folder(tmp_path / "ab", 10)
    data = f"pairs={tmp_path / 'ab'}"
    assert resolve_translation_config("pix2pix", data, TINY).train.channels_last == "off"  # no gain on CPU
    config = resolve_translation_config("pix2pix", data, {**TINY, "train.channels_last": "on"})
    full = train_translation(config, tmp_path / "full", progress=False)
    assert json.loads((tmp_path / "full" / "run.json").read_text())["layout"] == "NHWC"
    conv = next(m for m in full.generators.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) and not conv.weight.is_contiguous()
    shutil.copytree(tmp_path / "full", tmp_path / "resumed")
    (tmp_path / "resumed" / "checkpoints" / "step-00000004.pt").unlink()
    resumed = train_translation(config, tmp_path / "resumed", resume=True, progress=False)
    for key, value in full.generators.state_dict().items():
        assert torch.equal(value, resumed.generators.state_dict()[key]), key
