"""Image folders: every colour mode and format to (C, S, S) in [-1, 1], clear errors for bad files."""

import io

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from gankit.data.folders import StreamingImageFolder, build_image_folder, is_image_folder_path
from gankit.data.images import ImageData, decode_image, images_to_tensor
from gankit.errors import GankitError


def solid(mode, size, value):
    return Image.new(mode, size, value)


def save(image, path, **options):
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **options)
    return path


def value_of(byte):
    """Pixel byte -> [-1, 1]."""
    return byte / 127.5 - 1


@pytest.fixture
def mixed_folder(tmp_path):
    """One image per colour mode / format, of assorted sizes, some nested, with distractors."""
    root = tmp_path / "mixed"
    palette = Image.new("P", (40, 30))
    palette.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)  # index 0 red, 1 blue
    palette.paste(1, (0, 0, 40, 30))
    transparent_palette = Image.new("P", (20, 20), 0)
    transparent_palette.putpalette([0, 0, 0] * 256)
    files = {
        "rgb_red.png": (solid("RGB", (80, 50), (255, 0, 0)), {}),
        "rgba_clear.png": (solid("RGBA", (64, 64), (0, 0, 0, 0)), {}),
        "gray.jpg": (solid("L", (100, 130), 128), {"quality": 100}),
        "palette_blue.png": (palette, {}),
        "palette_clear.png": (transparent_palette, {"transparency": 0}),
        "cmyk_white.jpg": (solid("CMYK", (70, 70), (0, 0, 0, 0)), {"quality": 100}),
        "deep/sixteen.png": (Image.fromarray(np.full((33, 47), 65535, np.uint16)), {}),
        "deep/er/green.webp": (solid("RGB", (90, 64), (0, 255, 0)), {"lossless": True}),
        "la.png": (solid("LA", (12, 200), (0, 0)), {}),
        "bilevel.PNG": (solid("1", (65, 65), 1), {}),
        "upper.JPEG": (solid("RGB", (300, 200), (0, 0, 255)), {"quality": 100}),
        "webp_rgba.webp": (solid("RGBA", (50, 50), (0, 0, 0, 255)), {"lossless": True}),
    }
    for name, (image, options) in files.items():
        save(image, root / name, **options)
    (root / "notes.txt").write_text("not an image")
    save(solid("RGB", (8, 8), 0), root / ".hidden" / "skip.png")
    save(solid("RGB", (8, 8), 0), root / "._resource.png")
    return root, sorted(files, key=lambda name: str(root / name))


def test_mixed_modes_and_formats_become_rgb_in_range(mixed_folder):
    root, names = mixed_folder
    data = build_image_folder(root, "cpu", image_size=64, channels=3)
    assert isinstance(data, ImageData) and data.shape == (3, 64, 64) and data.num_classes == 0
    assert data.x.shape == (len(names), 3, 64, 64) and data.x.dtype == torch.float32
    assert -1 <= data.x.min() and data.x.max() <= 1 and data.y is None

    def image(name):
        return data.x[names.index(name)]

    def near(picture, rgb, tol=0.02):
        target = torch.tensor([value_of(v) for v in rgb]).view(3, 1, 1)
        return (picture - target).abs().max().item() < tol

    assert near(image("rgb_red.png"), (255, 0, 0))
    assert near(image("rgba_clear.png"), (255, 255, 255))  # transparent -> composited on white
    assert near(image("palette_clear.png"), (255, 255, 255))
    assert near(image("palette_blue.png"), (0, 0, 255))
    assert near(image("gray.jpg"), (128, 128, 128))
    assert near(image("cmyk_white.jpg"), (255, 255, 255))
    assert near(image("deep/sixteen.png"), (255, 255, 255))  # 16-bit max -> 8-bit max, not clipped garbage
    assert near(image("deep/er/green.webp"), (0, 255, 0))
    assert near(image("la.png"), (255, 255, 255))  # gray 0 with alpha 0: transparent, so white
    assert near(image("bilevel.PNG"), (255, 255, 255))
    assert near(image("upper.JPEG"), (0, 0, 255), tol=0.05)
    assert near(image("webp_rgba.webp"), (0, 0, 0))


def test_grayscale_output_uses_luminance(mixed_folder):
    root, names = mixed_folder
    data = build_image_folder(root, "cpu", image_size=16, channels=1)
    assert data.x.shape == (len(names), 1, 16, 16)
    red = data.x[names.index("rgb_red.png")]
    assert torch.allclose(red, torch.full_like(red, value_of(76)), atol=0.01)  # ITU-R 601: 0.299 * 255


def test_sixteen_bit_is_scaled_not_clipped(tmp_path):
    path = save(Image.fromarray(np.full((10, 10), 128 * 257, np.uint16)), tmp_path / "mid.png")
    assert Image.open(path).mode == "I;16"
    assert (decode_image(path, 8, 1) == 128).all()


def test_shorter_side_resize_then_centre_crop(tmp_path):
    stripes = np.zeros((64, 128), np.uint8)
    stripes[:, 32:96] = 255  # white centre half, black left and right quarters
    save(Image.fromarray(stripes), tmp_path / "wide.png")
    tall = np.zeros((256, 128), np.uint8)
    tall[64:192] = 255  # twice the size: shrinks to 64x128, centre crop keeps rows 32..96 of it
    save(Image.fromarray(tall), tmp_path / "tall.png")
    data = build_image_folder(tmp_path, "cpu", image_size=64, channels=1)
    assert data.x.shape == (2, 1, 64, 64)
    assert (data.x[1] == 1.0).all()  # wide.png: exact crop of the white band
    assert (data.x[0][:, 2:-2] > 0.99).all()  # tall.png after bicubic: white away from the crop edges


def test_corrupt_and_empty_files_are_named(tmp_path):
    save(solid("RGB", (20, 20), 0), tmp_path / "good.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png body")
    (tmp_path / "empty.jpg").write_bytes(b"")
    jpeg = io.BytesIO()
    solid("RGB", (100, 100), 7).save(jpeg, "JPEG")
    (tmp_path / "truncated.jpg").write_bytes(jpeg.getvalue()[:300])
    with pytest.raises(GankitError) as error:
        build_image_folder(tmp_path, "cpu")
    message = str(error.value)
    assert message.startswith("3 unreadable image file(s)")
    assert "broken.png" in message and "empty.jpg (empty file)" in message and "truncated.jpg" in message
    assert "good.png" not in message and "\n" not in message


def test_many_bad_files_are_summarised(tmp_path):
    for i in range(5):
        (tmp_path / f"bad{i}.png").write_bytes(b"junk")
    with pytest.raises(GankitError, match=r"^5 unreadable .*bad0\.png.*bad2\.png.*; and 2 more$"):
        build_image_folder(tmp_path, "cpu")


def test_empty_missing_and_imageless_folders(tmp_path):
    with pytest.raises(GankitError, match=r"image folder '.*nothing' not found"):
        build_image_folder(tmp_path / "nothing", "cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(GankitError, match=r"image folder '.*empty' has no images"):
        build_image_folder(tmp_path / "empty", "cpu")
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "a.txt").write_text("x")
    with pytest.raises(GankitError, match=r"'.*texts' has no images"):
        build_image_folder(tmp_path / "texts", "cpu")
    with pytest.raises(GankitError, match=r"is not a folder"):
        build_image_folder(tmp_path / "texts" / "a.txt", "cpu")


@pytest.fixture
def class_folders(tmp_path):
    root = tmp_path / "animals"
    for i in range(3):
        save(solid("RGB", (30, 30), (255, 0, 0)), root / "dog" / f"{i}.png")
    save(solid("RGB", (30, 30), (0, 0, 255)), root / "dog" / "puppies" / "p.jpg", quality=100)  # nested: still a dog
    for i in range(2):
        save(solid("RGB", (40, 30), (0, 255, 0)), root / "cat" / f"{i}.webp", lossless=True)
    return root


def test_labelled_folders(class_folders):
    data = build_image_folder(class_folders, "cpu", image_size=16, labelled=True)
    assert data.class_names == ("cat", "dog") and data.num_classes == 2
    assert data.y.dtype == torch.int64 and sorted(data.y.tolist()) == [0, 0, 1, 1, 1, 1]
    green = torch.tensor([-1.0, 1.0, -1.0]).view(1, 3, 1, 1)
    assert ((data.x[data.y == 0] - green).abs() < 0.02).all()  # every cat picture is the green one
    auto = build_image_folder(class_folders, "cpu", image_size=16)  # layout says: labelled
    assert torch.equal(auto.y, data.y)
    plain = build_image_folder(class_folders, "cpu", image_size=16, labelled=False)
    assert plain.y is None and plain.num_classes == 0


def test_one_class_or_loose_images_cannot_be_labelled(class_folders, tmp_path):
    only = tmp_path / "only"
    save(solid("RGB", (9, 9), 0), only / "cat" / "a.png")
    with pytest.raises(GankitError, match=r"needs at least two class subfolders, found \['cat'\]"):
        build_image_folder(only, "cpu", labelled=True)
    assert build_image_folder(only, "cpu").y is None  # automatic mode: just unlabelled
    save(solid("RGB", (9, 9), 0), class_folders / "stray.png")
    with pytest.raises(GankitError, match=r"outside class subfolders, e.g. '.*stray\.png'"):
        build_image_folder(class_folders, "cpu", labelled=True)


def test_streaming_matches_preloaded_batches(class_folders):
    preloaded = build_image_folder(class_folders, "cpu", image_size=16)
    streaming = build_image_folder(class_folders, "cpu", image_size=16, stream=True)
    assert isinstance(streaming, StreamingImageFolder) and len(streaming) == 6
    assert streaming.shape == preloaded.shape and streaming.num_classes == 2
    for seed in range(3):
        x_pre, y_pre = preloaded.sample(10, torch.Generator().manual_seed(seed))
        x_str, y_str = streaming.sample(10, torch.Generator().manual_seed(seed))
        assert torch.equal(x_pre, x_str) and torch.equal(y_pre, y_str)


def test_streaming_checks_every_header_up_front_and_names_a_bad_body_when_it_meets_it(tmp_path):
    save(solid("L", (9, 9), 0), tmp_path / "fine.png")
    (tmp_path / "broken.webp").write_bytes(b"RIFF....WEBPjunk")
    (tmp_path / "zero.png").write_bytes(b"")
    with pytest.raises(GankitError, match=r"2 unreadable image file.*broken\.webp.*zero\.png \(empty file\)"):
        build_image_folder(tmp_path, "cpu", stream=True)  # before training writes anything
    (tmp_path / "broken.webp").unlink()
    (tmp_path / "zero.png").unlink()
    noise = Image.frombytes("L", (64, 64), bytes(range(256)) * 16)
    save(noise, tmp_path / "whole.png")
    whole = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "whole.png").unlink()
    (tmp_path / "cut.png").write_bytes(whole[: len(whole) // 2])  # a sound header, a body cut short
    streaming = build_image_folder(tmp_path, "cpu", stream=True)  # headers cannot tell; decoding does
    with pytest.raises(GankitError, match=r"unreadable image file '.*cut\.png'"):
        streaming.sample(32, torch.Generator().manual_seed(0))


def test_bad_arguments(tmp_path):
    save(solid("RGB", (9, 9), 0), tmp_path / "a.png")
    with pytest.raises(GankitError, match="channels .* must be 1 .*or 3"):
        build_image_folder(tmp_path, "cpu", channels=4)
    with pytest.raises(GankitError, match="image_size .* positive integer"):
        build_image_folder(tmp_path, "cpu", image_size=-8)


def test_path_like_names_are_folders(tmp_path):
    assert not any(is_image_folder_path(name) for name in ["mnist", "stacked-mnist", "ring8", "fashion-mnist"])
    assert all(is_image_folder_path(name) for name in ["./photos", "data/celeba", "~/pics", str(tmp_path)])


MODES_BY_FORMAT = {
    "PNG": ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"],
    "JPEG": ["L", "RGB", "CMYK"],
    "WEBP": ["RGB", "RGBA"],
}


def random_image(mode, width, height, seed):
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (height, width), dtype=np.uint16))
    bands = len(Image.new(mode, (1, 1)).getbands())
    pixels = rng.integers(0, 256, (height, width, bands), dtype=np.uint8)
    image = Image.frombytes(mode if mode not in ("1", "P") else "L", (width, height), pixels[..., 0].tobytes() if bands == 1 else pixels.tobytes())
    if mode == "1":
        image = image.convert("1")
    elif mode == "P":
        image = image.convert("P")
    return image


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    format_mode=st.sampled_from([(f, m) for f, modes in MODES_BY_FORMAT.items() for m in modes]),
    width=st.integers(1, 90),
    height=st.integers(1, 90),
    size=st.sampled_from([1, 7, 32]),
    channels=st.sampled_from([1, 3]),
    seed=st.integers(0, 2**16),
)
def test_any_image_decodes_to_the_requested_shape_and_range(format_mode, width, height, size, channels, seed):
    file_format, mode = format_mode
    buffer = io.BytesIO()
    random_image(mode, width, height, seed).save(buffer, file_format)
    buffer.seek(0)
    pixels = decode_image(buffer, size, channels)
    assert pixels.shape == (size, size, channels) and pixels.dtype == np.uint8
    x = images_to_tensor(pixels[None], "cpu")
    assert x.shape == (1, channels, size, size) and -1 <= x.min() and x.max() <= 1


def test_big_sets_stream_automatically(class_folders, monkeypatch):
    import gankit.data.folders as folders

    assert isinstance(build_image_folder(class_folders, "cpu", image_size=16), ImageData)
    monkeypatch.setattr(folders, "MAX_PRELOAD_IMAGES", 5)  # 6 images: too many
    assert isinstance(build_image_folder(class_folders, "cpu", image_size=16), StreamingImageFolder)
    monkeypatch.setattr(folders, "MAX_PRELOAD_IMAGES", 100)
    monkeypatch.setattr(folders, "MAX_PRELOAD_BYTES", 6 * 3 * 16 * 16 * 4 - 1)  # one byte short of the float tensor
    assert isinstance(build_image_folder(class_folders, "cpu", image_size=16), StreamingImageFolder)
