"""Colour data sets: emoji (rendered from the Noto font), CIFAR-10 and CelebA from fabricated official archives."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import pickle
import tarfile
import threading
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gankit
from gankit.data import build_dataset, cifar, dataset_names, download
from gankit.data.celeba import CROP, crop_face
from gankit.data.emoji import DEFAULT_FONT, emoji_sequences, emoji_split, render_emoji
from gankit.errors import GankitError

needs_font = pytest.mark.skipif(not DEFAULT_FONT.is_file(), reason="needs Debian's fonts-noto-color-emoji (make test installs it)")


def test_colour_sets_are_registered():
    assert {"emoji", "cifar10", "celeba"} <= set(dataset_names())


# --------------------------------------------------------------------------------------------- emoji


@needs_font
def test_emoji_render_colour_faces_on_white():
    sequences = ["\U0001F600", "\U0001F469\U0001F3FF", "\U0001F468\u200d\U0001F9B0"]  # grin, woman (tone 6), red hair
    images, drawn = render_emoji(sequences, size=32)
    assert drawn == sequences and images.shape == (3, 32, 32, 3) and images.dtype == np.uint8
    assert (images[:, 0, 0] == 255).all()  # corners are the white background
    assert np.abs(images[0, 16, 8].astype(int) - [255, 255, 255]).max() > 60  # the face is drawn
    # colour, not grey: the grin's yellow has far more red than blue; the dark skin tone is darker than the grin
    yellow = images[0].reshape(-1, 3).astype(int)
    assert (yellow[:, 0] - yellow[:, 2]).max() > 100
    assert images[1].mean() < images[0].mean()


@needs_font
def test_emoji_skips_what_the_font_does_not_draw_as_one_glyph():
    _, drawn = render_emoji(["\U0001F600\U0001F600", "\U0001F600"], size=8)
    assert drawn == ["\U0001F600"]


def test_emoji_sequences_and_splits():
    sequences = emoji_sequences()
    assert len(sequences) == len(set(sequences)) > 500
    images = np.arange(10)
    test, train = emoji_split(images, "test"), emoji_split(images, "train")
    assert list(test) == [0, 4, 8] and sorted([*test, *train]) == list(range(10))
    with pytest.raises(GankitError, match="emoji split"):
        emoji_split(images, "val")


@needs_font
def test_emoji_data_set_from_a_small_cache(tmp_path, monkeypatch):
    from gankit.data import emoji

    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    monkeypatch.setattr(emoji, "emoji_sequences", lambda: ["\U0001F600", "\U0001F601", "\U0001F466", "\U0001F467",
                                                          "\U0001F468"])
    emoji.emoji_images.cache_clear()
    try:
        data = build_dataset("emoji", split="train", image_size=32)
        assert data.shape == (3, 32, 32) and len(data) == 3  # 5 emoji, every 4th is test
        assert data.x.min() >= -1 and data.x.max() <= 1
        assert list((tmp_path / "emoji").glob("emoji-*.npz"))  # rendered once, then cached
        emoji.emoji_images.cache_clear()
        monkeypatch.setattr(emoji, "render_emoji", None)  # a second build must read the cache
        assert len(build_dataset("emoji", split="test")) == 2
    finally:
        emoji.emoji_images.cache_clear()


def test_emoji_without_the_font_is_one_line(tmp_path):
    with pytest.raises(GankitError, match="fonts-noto-color-emoji"):
        build_dataset("emoji", root=str(tmp_path / "missing.ttf"))


# --------------------------------------------------------------------------------------------- CIFAR-10


def _cifar_batch(n: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    return pickle.dumps({"batch_label": "fabricated", "labels": [int(v) for v in rng.integers(0, 10, n)],
                         "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)})


def _fabricate_cifar(path: Path, n: int = 4) -> Path:
    """A tarball laid out as the official cifar-10-python.tar.gz, ``n`` images per batch."""
    with tarfile.open(path, "w:gz") as tar:
        for i, name in enumerate([*cifar.BATCHES["train"], "test_batch"]):
            payload = _cifar_batch(n, i)
            info = tarfile.TarInfo(f"{cifar.FOLDER}/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return path


@pytest.fixture
def fresh_cifar():
    cifar.cifar10_split.cache_clear()
    yield
    cifar.cifar10_split.cache_clear()


def test_cifar10_reads_the_official_layout(tmp_path, fresh_cifar):
    _fabricate_cifar(tmp_path / "cifar-10-python.tar.gz")
    data = build_dataset("cifar10", split="train", root=str(tmp_path))
    assert data.shape == (3, 32, 32) and len(data) == 20 and data.num_classes == 10
    # pixel (row 0, col 1) of image 0 is byte 1 (red), 1025 (green), 2049 (blue) of its row
    raw = pickle.loads(_cifar_batch(4, 0))["data"][0]
    expected = torch.tensor([raw[1], raw[1025], raw[2049]], dtype=torch.float32) / 127.5 - 1
    assert torch.allclose(data.x[0, :, 0, 1], expected)
    assert len(build_dataset("cifar10", split="test", root=str(tmp_path / "cifar-10-python.tar.gz"))) == 4


def test_cifar10_trains_from_a_fabricated_archive(tmp_path, fresh_cifar, tiny_overrides):
    from gankit.recipes import resolve_config
    from gankit.training.loop import train

    _fabricate_cifar(tmp_path / "cifar-10-python.tar.gz")
    overrides = {**tiny_overrides, "train.steps": 2, "train.n_critic": 1, "data.batch_size": 4,
                 "data.root": str(tmp_path), "model.g_hidden": 2, "model.d_hidden": 2}
    config = resolve_config("book-dcgan", "cifar10", "image", overrides)  # the book's nets at 64 px
    train(config, tmp_path / "run", progress=False)
    samples = gankit.load(tmp_path / "run").generate(2, seed=0)
    assert samples.shape == (2, 3, 64, 64)


def test_cifar10_missing_without_network_names_file_and_url(tmp_path, fresh_cifar, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cifar, "CIFAR10", replace(cifar.CIFAR10, url="http://127.0.0.1:9/cifar-10-python.tar.gz"))
    with pytest.raises(GankitError) as error:
        build_dataset("cifar10")
    message = str(error.value)
    assert "\n" not in message and "cifar-10-python.tar.gz not found" in message and "http://127.0.0.1:9/" in message
    assert not list((tmp_path / "cache").rglob("*.part"))
    with pytest.raises(GankitError, match=r"elsewhere/cifar-10-python.tar.gz not found; download https://www.cs"):
        cifar.cifar10_split.cache_clear()
        monkeypatch.setattr(cifar, "CIFAR10", replace(cifar.CIFAR10, url="https://www.cs.toronto.edu/x"))
        build_dataset("cifar10", root=str(tmp_path / "elsewhere"))


def test_corrupt_cifar_pickle_is_refused(tmp_path, fresh_cifar):
    folder = tmp_path / cifar.FOLDER
    folder.mkdir()
    for name in [*cifar.BATCHES["train"], "test_batch"]:
        (folder / name).write_bytes(pickle.dumps({"data": np.zeros((2, 10), np.uint8), "labels": [0, 1]}))
    with pytest.raises(GankitError, match=r"corrupt CIFAR-10 batch .*uint8 \(N, 3072\)"):
        build_dataset("cifar10", split="test", root=str(tmp_path))


@pytest.fixture
def http_server(tmp_path):
    """A static file server for ``tmp_path / "www"`` on 127.0.0.1 (loopback only)."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_cifar10_downloads_into_the_cache_with_its_checksum(tmp_path, fresh_cifar, monkeypatch, http_server):
    www, base = http_server
    archive = _fabricate_cifar(www / "cifar-10-python.tar.gz")
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cifar, "CIFAR10", replace(cifar.CIFAR10, url=f"{base}/cifar-10-python.tar.gz", md5=md5))
    assert len(build_dataset("cifar10", split="test")) == 4
    assert (tmp_path / "cache" / "cifar10" / "cifar-10-python.tar.gz").read_bytes() == archive.read_bytes()

    cifar.cifar10_split.cache_clear()
    (tmp_path / "cache" / "cifar10" / "cifar-10-python.tar.gz").unlink()
    monkeypatch.setattr(cifar, "CIFAR10", replace(cifar.CIFAR10, url=f"{base}/cifar-10-python.tar.gz", md5="0" * 32))
    with pytest.raises(GankitError, match=f"gave a file with md5 {md5}, expected 0+"):
        build_dataset("cifar10", split="test")
    assert not list((tmp_path / "cache" / "cifar10").iterdir())  # nothing half-checked is left behind


def test_sha256_checked_download(tmp_path, http_server):
    www, base = http_server
    (www / "f.bin").write_bytes(b"gankit")
    good = download.Archive("demo", "f.bin", url=f"{base}/f.bin", sha256=hashlib.sha256(b"gankit").hexdigest())
    assert download.download(good, tmp_path / "f.bin").read_bytes() == b"gankit"
    with pytest.raises(GankitError, match="sha256"):
        download.download(replace(good, sha256="1" * 64), tmp_path / "g.bin")


# --------------------------------------------------------------------------------------------- CelebA


def _face(number: int) -> Image.Image:
    """A 178x218 picture, red in a 120x120 centre square (a little more than the crop), blue around it."""
    img = Image.new("RGB", (178, 218), (0, 0, 255))
    img.paste((200 + number % 50, 0, 0), (29, 49, 41 + CROP, 61 + CROP))
    return img


def _jpeg(number: int) -> bytes:
    buffer = io.BytesIO()
    _face(number).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


NUMBERS = (1, 2, 162_770, 162_771, 182_638, 202_599)


def test_crop_face_keeps_the_centre_square():
    face = crop_face(_face(0), 16).astype(int)
    assert face.shape == (16, 16, 3)
    assert (face[..., 0] > 180).all() and (face[..., 2] < 30).all()  # only the red centre is left


def test_celeba_from_zip_and_folder_with_official_splits(tmp_path):
    with zipfile.ZipFile(tmp_path / "img_align_celeba.zip", "w") as archive:
        for number in NUMBERS:
            archive.writestr(f"img_align_celeba/{number:06d}.jpg", _jpeg(number))
    folder = tmp_path / "unzipped" / "img_align_celeba"
    folder.mkdir(parents=True)
    for number in NUMBERS:
        (folder / f"{number:06d}.jpg").write_bytes(_jpeg(number))
    generator = torch.Generator().manual_seed(0)
    for root in (tmp_path, tmp_path / "unzipped"):
        sizes = {split: len(build_dataset("celeba", split=split, root=str(root))) for split in ("train", "valid", "test")}
        assert sizes == {"train": 3, "valid": 1, "test": 2}
        data = build_dataset("celeba", split="train", image_size=32, root=str(root))
        x, labels = data.sample(5, generator)
        assert x.shape == (5, 3, 32, 32) and labels is None
        assert (x[:, 0] > 0.4).all() and (x[:, 2] < -0.7).all()  # red faces, the blue border cropped away


def test_celeba_missing_says_where_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    with pytest.raises(GankitError, match=r"celeba/img_align_celeba.zip not found; get img_align_celeba.zip .*mmlab"):
        build_dataset("celeba")
