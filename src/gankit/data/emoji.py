"""Colour emoji faces and people, rendered offline from the Noto Color Emoji font: 64x64 RGB.

The nearest offline cousin of the textbook's cartoon-avatar set (seed 001, Sec. 13.3: 51,223 anime
faces at 64x64): the smileys and the people emoji of Google's Noto Color Emoji, each person in its six
skin tones (none, then Fitzpatrick 1-2 to 6) and, for man / woman / person, in every hair style
(red, curly, white, bald) and profession. The font comes from Debian's ``fonts-noto-color-emoji``
(SIL Open Font License 1.1) in :data:`DEFAULT_FONT`; ``make test`` / ``make demo`` install it.

Each emoji sequence is drawn with Pillow (``embedded_color=True``, the font's 109 px bitmap strike,
libraqm layout for the skin-tone and ZWJ sequences) on a transparent canvas, cropped to its opaque
pixels, centred on a white square with a 4 % margin and resized to 64 px (Lanczos). A sequence the
font does not draw as one glyph (missing, or not joined by the layout engine) is left out, so the set
depends on the font version and on Pillow having libraqm; the cache key names both. The rendered
arrays are cached as ``.npz`` under ``$GANKIT_CACHE/emoji`` (default ``~/.cache/gankit/emoji``).

Splits: every fourth emoji (in the fixed order of :func:`emoji_sequences`) is ``test``, the rest ``train``;
``all`` is both.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np
import torch

from gankit.data import register
from gankit.data.images import (
    ImageData, check_image_options, images_to_tensor, reject_grayscale, reject_unknown_options,
)
from gankit.data.mnist import cache_dir
from gankit.errors import GankitError, unknown

__all__ = ["DEFAULT_FONT", "EMOJI_INSTALL", "NATIVE_SIZE", "emoji_sequences", "render_emoji", "emoji_images",
           "emoji_split", "build_emoji"]

DEFAULT_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
EMOJI_INSTALL = "apt-get install fonts-noto-color-emoji"
NATIVE_SIZE = 64
_STRIKE = 109  # the only bitmap size of Noto Color Emoji's CBDT table
_MARGIN = 0.04
_RENDER_VERSION = 1  # bump when the rendering changes: old caches are then ignored
TEST_EVERY = 4
SPLITS = ("train", "test", "all")

ZWJ, VS16 = "\u200d", "\ufe0f"
SKIN_TONES = ("", *map(chr, range(0x1F3FB, 0x1F400)))
# Smileys and other faces without skin tones (Unicode's "Smileys & Emotion" faces, cat faces included).
_FACE_RANGES = ((0x1F600, 0x1F644), (0x1F910, 0x1F917), (0x1F920, 0x1F925), (0x1F927, 0x1F92F),
                (0x1F970, 0x1F976), (0x1F978, 0x1F97A), (0x1F9D0, 0x1F9D0), (0x1FAE0, 0x1FAE8))
# People drawn as a head or bust that take a skin tone.
_PEOPLE = (0x1F466, 0x1F467, 0x1F468, 0x1F469, 0x1F470, 0x1F471, 0x1F472, 0x1F473, 0x1F474, 0x1F475, 0x1F476,
           0x1F477, 0x1F478, 0x1F47C, 0x1F482, 0x1F385, 0x1F46E, 0x1F934, 0x1F935, 0x1F936, 0x1F9D1, 0x1F9D2,
           0x1F9D3, 0x1F9D4, 0x1F9D5, 0x1F9D9, 0x1F9DA, 0x1F9DB, 0x1F9DC, 0x1F9DD, 0x1F977, 0x1FAC5)
# Gestures and roles that also come as a man (U+2642) and a woman (U+2640).
_GENDERED = (0x1F481, 0x1F645, 0x1F646, 0x1F647, 0x1F64B, 0x1F64D, 0x1F64E, 0x1F926, 0x1F937, 0x1F486, 0x1F487,
             0x1F9CF, 0x1F46E, 0x1F477, 0x1F482, 0x1F471, 0x1F473, 0x1F9D4, 0x1F9D9, 0x1F9DA, 0x1F9DB, 0x1F9DC,
             0x1F9DD)
_ADULTS = ("\U0001F9D1", "\U0001F468", "\U0001F469")  # person, man, woman
_HAIR = tuple(map(chr, range(0x1F9B0, 0x1F9B4)))  # red, curly, white, bald
_PROFESSIONS = ("\u2695" + VS16, "\U0001F393", "\U0001F3EB", "\u2696" + VS16, "\U0001F33E", "\U0001F373",
                "\U0001F527", "\U0001F3ED", "\U0001F4BC", "\U0001F52C", "\U0001F4BB", "\U0001F3A4", "\U0001F3A8",
                "\u2708" + VS16, "\U0001F680", "\U0001F692")


def emoji_sequences() -> list[str]:
    """The candidate emoji sequences, in a fixed order (faces, people, gendered, hair styles, professions)."""
    faces = [chr(c) for start, stop in _FACE_RANGES for c in range(start, stop + 1)]
    people = [chr(c) + tone for c in _PEOPLE for tone in SKIN_TONES]
    gendered = [chr(c) + tone + ZWJ + sign + VS16 for c in _GENDERED for sign in ("\u2642", "\u2640")
                for tone in SKIN_TONES]
    hair = [adult + tone + ZWJ + style for adult in _ADULTS for style in _HAIR for tone in SKIN_TONES]
    jobs = [adult + tone + ZWJ + job for adult in _ADULTS for job in _PROFESSIONS for tone in SKIN_TONES]
    return faces + people + gendered + hair + jobs


def _check_font(font_path: Path) -> None:
    if not font_path.is_file():
        raise GankitError(f"the emoji data set needs the font {str(font_path)!r}, which is missing: {EMOJI_INSTALL}")


def _layout_engine():
    from PIL import ImageFont, features

    return ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC


def render_emoji(sequences: list[str], font_path: str | Path = DEFAULT_FONT,
                 size: int = NATIVE_SIZE) -> tuple[np.ndarray, list[str]]:
    """``(uint8 images (N, size, size, 3), the N sequences drawn)``: the sequences the font draws as one glyph."""
    from PIL import Image, ImageDraw, ImageFont

    font_path = Path(font_path)
    _check_font(font_path)
    font = ImageFont.truetype(str(font_path), _STRIKE, layout_engine=_layout_engine())
    missing = _draw(font, "\U0010FFFD")  # a private-use code point: the font's "no glyph" drawing
    images, drawn = [], []
    for sequence in sequences:
        canvas = _draw(font, sequence)
        if canvas is None or (missing is not None and canvas.tobytes() == missing.tobytes()):
            continue
        left, top, right, bottom = canvas.getchannel("A").getbbox() or (0, 0, 0, 0)
        if right <= left or bottom <= top:
            continue
        glyph = canvas.crop((left, top, right, bottom))
        side = round(max(glyph.size) * (1 + 2 * _MARGIN))
        square = Image.new("RGBA", (side, side), (255, 255, 255, 255))
        square.alpha_composite(glyph, ((side - glyph.width) // 2, (side - glyph.height) // 2))
        images.append(np.asarray(square.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)))
        drawn.append(sequence)
    if not images:
        return np.zeros((0, size, size, 3), np.uint8), drawn
    return np.stack(images), drawn


def _draw(font, sequence: str):
    """The sequence drawn on a transparent canvas, or None when it takes more than one glyph's width."""
    from PIL import Image, ImageDraw

    left, top, right, bottom = font.getbbox(sequence)
    one_glyph = font.getbbox("\U0001F600")[2]
    if right - left > 1.2 * one_glyph:  # not joined into one glyph: a base emoji and a loose modifier
        return None
    canvas = Image.new("RGBA", (right - left, bottom - top), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((-left, -top), sequence, font=font, embedded_color=True)
    return canvas


def _font_digest(font_path: Path) -> str:
    return hashlib.sha256(font_path.read_bytes()).hexdigest()[:12]


@functools.lru_cache(maxsize=2)
def emoji_images(font_path: str | Path = DEFAULT_FONT) -> tuple[np.ndarray, tuple[str, ...]]:
    """All rendered emoji at 64 px and their sequences, from the cache or rendered (then cached)."""
    font_path = Path(font_path)
    _check_font(font_path)
    layout = "raqm" if _layout_engine().name == "RAQM" else "basic"
    path = cache_dir() / "emoji" / f"emoji-{_font_digest(font_path)}-{layout}-v{_RENDER_VERSION}.npz"
    if path.is_file():
        with np.load(path) as cached:
            return cached["images"], tuple(str(s) for s in cached["sequences"])
    images, drawn = render_emoji(emoji_sequences(), font_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez_compressed(partial, images=images, sequences=np.array(drawn))
    partial.replace(path)  # atomic: a killed run leaves no half-written cache
    return images, tuple(drawn)


def emoji_split(images: np.ndarray, split: str) -> np.ndarray:
    """``train`` (3 of every 4), ``test`` (every 4th, from the first) or ``all``."""
    if split not in SPLITS:
        raise unknown("emoji split", split, SPLITS)
    if split == "all":
        return images
    is_test = np.arange(len(images)) % TEST_EVERY == 0
    return images[is_test if split == "test" else ~is_test]


@register("emoji", "Noto colour emoji faces and people in 6 skin tones, 3x64x64 RGB (~3/4 train, 1/4 test)",
          kind="image")
def build_emoji(
    device: torch.device | str = "cpu",
    split: str = "train",
    image_size: int | None = None,
    channels: int | None = None,
    root: str | None = None,
    **options,
) -> ImageData:
    """The emoji set on ``device`` as ``(C, S, S)`` in [-1, 1]; ``root`` is another emoji font file."""
    reject_unknown_options("emoji", options, ("split", "image_size", "channels", "root"))
    check_image_options("emoji", image_size, channels)
    reject_grayscale("emoji", channels)
    images, _ = emoji_images(Path(root).expanduser() if root else DEFAULT_FONT)
    x = images_to_tensor(emoji_split(images, split), device, image_size, channels)
    return ImageData(name="emoji", shape=tuple(x.shape[1:]), num_classes=0, device=torch.device(device), x=x)
