"""Use and score a trained pix2pix / CycleGAN run, from its run directory alone.

``translate(DIR, "photo.png" | "inputs/", out, direction)`` rebuilds the generator from ``DIR/config.json``
and ``DIR/run.json``, loads ``DIR/generator.safetensors`` and writes one PNG per input. Inputs are decoded
like training folders (shorter side resized to the run's image size, centre crop, the run's channels).
The generator runs in eval mode: batch norm uses its running statistics and dropout is off, so a
translation is deterministic and does not depend on which other images share its batch (the pix2pix
paper instead keeps dropout and batch statistics at test time; with batch size 1 both are noisier).

:func:`evaluate_translation` scores a run on held-out data:

- paired data (pix2pix): the mean absolute error ``E|G(a) − b|`` on [-1, 1] pixels, next to baselines that
  need no learning — the input itself (``identity``; a 1-channel input is repeated to 3 channels), the
  input blurred by the Gaussian (σ in :data:`BLUR_SIGMAS`) that scores best on the very data being scored
  (a generous baseline), and the per-pixel median of the training targets (the best constant image under L1);
- two generators (CycleGAN): the cycle reconstruction errors ``E|F(G(a)) − a|`` and ``E|G(F(b)) − b|``;
- when the target domain is MNIST or Fashion-MNIST: the fraction of translations the shipped classifier
  of that domain accepts with confidence — top softmax probability >= ``confidence`` (0.5 by default;
  0.9 is reported too) — and the same fraction for the untranslated inputs, the baseline to beat (a digit
  "1" already looks like a trouser to a clothing classifier), plus the histogram of predicted classes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from gankit.errors import GankitError
from gankit.grids import to_uint8
from gankit.training.run_dir import RunDir

__all__ = ["Translator", "load_translator", "translate", "evaluate_translation", "gaussian_blur", "BLUR_SIGMAS"]

BLUR_SIGMAS = (0.5, 1.0, 2.0, 4.0)
BATCH = 256
# Which shipped classifier judges a domain, by the data set it came from.
_DOMAINS = {"mnist2fashion": ("mnist", "fashion-mnist")}


@dataclass
class Translator:
    """One trained generator in eval mode: ``translator(x)`` maps ``(N, *in_shape)`` to ``(N, *out_shape)``."""

    generator: nn.Module
    direction: str
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]

    @torch.no_grad()
    def __call__(self, x: Tensor) -> Tensor:
        return torch.cat([self.generator(chunk) for chunk in x.split(BATCH)])


def _resolve_device(device: str | torch.device) -> torch.device:
    from gankit.config import check_device
    from gankit.training.harness import resolve_device

    check_device(device if isinstance(device, str) else None)
    return resolve_device(device) if isinstance(device, str) else device


def load_translator(run_dir: str | Path, direction: str | None = None, device: str | torch.device = "cpu") -> Translator:
    """The generator of ``run_dir`` for ``direction`` (``AtoB`` / ``BtoA``; None = the direction it was trained for)."""
    from gankit.translation.config import is_translation_recipe
    from gankit.translation.nets import build_generator, generator_names

    run = RunDir(Path(run_dir))
    config = run.load_config()
    if not is_translation_recipe(config.recipe):
        raise GankitError(f"{str(run.path)!r} is a {config.recipe!r} run, not an image-translation run (pix2pix, cyclegan)")
    meta = run.load_meta(required=("shape_a", "shape_b"))
    direction = direction or config.data.direction
    if direction not in ("AtoB", "BtoA"):
        raise GankitError(f"direction must be AtoB or BtoA, got {direction!r}")
    name = generator_names(direction)[0]
    if name not in meta.get("generators", []):
        raise GankitError(f"this {config.recipe} run translates {config.data.direction} only (trained with data.direction={config.data.direction})")
    shape_a, shape_b = tuple(meta["shape_a"]), tuple(meta["shape_b"])
    in_shape, out_shape = (shape_a, shape_b) if direction == "AtoB" else (shape_b, shape_a)
    generator = build_generator(config.model, config.recipe, in_shape, out_shape[0])
    prefix = f"{name}."
    state = {k[len(prefix):]: v for k, v in run.load_generator_state().items() if k.startswith(prefix)}
    try:
        generator.load_state_dict(state)
    except RuntimeError as error:
        raise GankitError(f"{str(run.path)!r}: generator.safetensors does not fit its config.json ({str(error).splitlines()[0]})") from None
    device = _resolve_device(device)
    return Translator(generator.to(device).eval().requires_grad_(False), direction, in_shape, out_shape)


def _output_path(source: Path, root: Path | None, out: Path, direction: str) -> Path:
    """OUT itself for one input and OUT.png; else under OUT/DIRECTION, so that AtoB and BtoA never overwrite each other."""
    if root is None and out.suffix.lower() == ".png":
        return out
    name = Path(source.name) if root is None else source.relative_to(root)
    return (out / direction / name).with_suffix(".png")


def translate(
    run_dir: str | Path,
    inputs: str | Path,
    out: str | Path,
    direction: str | None = None,
    device: str | torch.device = "auto",
    batch_size: int = 64,
) -> list[Path]:
    """Translate the image file ``inputs`` (or every image below the folder ``inputs``) into PNGs under ``out``.

    A single file goes to ``out`` itself when ``out`` ends in ``.png``, else to ``out/DIRECTION/<name>.png``
    (``AtoB`` or ``BtoA``, so the two directions never overwrite each other); a folder's images keep their
    relative paths under ``out/DIRECTION``. Returns the written paths, in input order.
    """
    from gankit.data.folders import find_images
    from gankit.data.images import decode_image

    translator = load_translator(run_dir, direction, device)
    inputs, out = Path(inputs).expanduser(), Path(out).expanduser()
    if inputs.is_dir():
        root, files = inputs, find_images(inputs)
    elif inputs.is_file():
        root, files = None, [inputs]
    else:
        raise GankitError(f"input {str(inputs)!r} not found")
    targets = [_output_path(f, root, out, translator.direction) for f in files]
    clobbered = [f for f, t in zip(files, targets) if f.resolve() == t.resolve()]
    if clobbered:
        raise GankitError(f"output {str(clobbered[0])!r} would overwrite its own input: choose another --out")
    channels, size = translator.in_shape[0], translator.in_shape[-1]
    device = next(translator.generator.parameters()).device
    written = []
    for start in range(0, len(files), batch_size):
        chunk = files[start : start + batch_size]
        arrays = []
        for f in chunk:
            try:
                arrays.append(decode_image(f, size, channels))
            except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as error:
                raise GankitError(f"unreadable image file {str(f)!r} ({str(error).splitlines()[0][:100]})") from None
        x = torch.from_numpy(np.stack(arrays)).to(device).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        pixels = to_uint8(translator(x))
        for target, image in zip(targets[start : start + batch_size], pixels):
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(target)
            written.append(target)
    return written


# ----------------------------------------------------------------------------------------------
# Scores
# ----------------------------------------------------------------------------------------------


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of ``(N, C, H, W)``: kernel ``exp(−k²/2σ²)`` normalised, radius ``⌈3σ⌉``, reflect padding."""
    radius = max(1, math.ceil(3 * sigma))
    k = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-(k**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    c = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def _match_channels(x: Tensor, channels: int) -> Tensor:
    if x.shape[1] == channels:
        return x
    if x.shape[1] == 1:
        return x.expand(-1, channels, -1, -1)
    return x.mean(dim=1, keepdim=True)


def paired_baselines(source: Tensor, target: Tensor, train_targets: Tensor) -> dict[str, float]:
    """L1 to ``target`` of the input itself, of its best Gaussian blur, and of the training targets' per-pixel median."""
    like = _match_channels(source, target.shape[1])
    blurs = {sigma: (gaussian_blur(like, sigma) - target).abs().mean().item() for sigma in BLUR_SIGMAS}
    best_sigma = min(blurs, key=blurs.get)
    median = train_targets.median(dim=0).values
    return {
        "l1_identity": (like - target).abs().mean().item(),
        "l1_blur": blurs[best_sigma],
        "blur_sigma": best_sigma,
        "l1_median_image": (median[None] - target).abs().mean().item(),
    }


def domain_classifiers(data_name: str) -> tuple[str | None, str | None]:
    """Names of the shipped classifiers for domains A and B of ``data_name`` (None where there is none)."""
    from gankit.nets.classifier import CLASSIFIERS

    if data_name in _DOMAINS:
        return _DOMAINS[data_name]
    if not data_name.startswith(("A=", "B=")):
        return None, None
    sides = {key.strip(): value.strip() for key, _, value in (part.partition("=") for part in data_name.split(","))}
    a, b = sides.get("A"), sides.get("B")
    return (a if a in CLASSIFIERS else None), (b if b in CLASSIFIERS else None)


@torch.no_grad()
def classifier_acceptance(classifier_name: str, images: Tensor, confidence: float = 0.5) -> dict[str, float | list[int]]:
    """Fraction of ``images`` whose top class probability under the ``classifier_name`` classifier is >= ``confidence``
    (and >= 0.9), with the histogram of top classes. Images are resized to 28 px and made grayscale first."""
    from gankit.metrics.classifier_scores import class_probabilities
    from gankit.nets.classifier import load_classifier

    probs = class_probabilities(load_classifier(classifier_name, images.device), images)
    top, label = probs.max(dim=1)
    return {
        "accepted": (top >= confidence).float().mean().item(),
        "accepted_0.9": (top >= 0.9).float().mean().item(),
        "mean_confidence": top.mean().item(),
        "class_histogram": torch.bincount(label, minlength=probs.shape[1]).tolist(),
    }


def evaluate_translation(
    run_dir: str | Path,
    split: str = "test",
    limit: int | None = None,
    device: str | torch.device = "auto",
    confidence: float = 0.5,
) -> dict:
    """Held-out scores of a translation run (see the module docstring); needs the run's data set to be available."""
    from gankit.translation.data import build_translation_data
    from gankit.translation.nets import generator_names

    run = RunDir(Path(run_dir))
    config = run.load_config()
    device = _resolve_device(device)
    d = config.data
    build = lambda s: build_translation_data(d.name, device, split=s, image_size=d.image_size or None, channels=d.channels or None)  # noqa: E731
    data = build(split)
    a, b = data.examples(limit or 10**9)
    forward = load_translator(run.path, None, device)
    direction = forward.direction
    source, target = (a, b) if direction == "AtoB" else (b, a)
    fake = forward(source)
    result: dict = {"split": split, "examples": int(source.shape[0]), "direction": direction}
    if data.paired:
        train_a, train_b = build("train").examples(10_000)
        train_targets = train_b if direction == "AtoB" else train_a
        result["l1"] = (fake - target).abs().mean().item()
        result.update(paired_baselines(source, target, train_targets))
    if generator_names(direction)[1] in run.load_meta().get("generators", []):  # CycleGAN: score both cycles
        backward = load_translator(run.path, "BtoA" if direction == "AtoB" else "AtoB", device)
        src, tgt = direction[0], direction[-1]
        result[f"cycle_l1_{src}"] = (backward(fake) - source).abs().mean().item()
        result[f"cycle_l1_{tgt}"] = (forward(backward(target)) - target).abs().mean().item()
    names = dict(zip("AB", domain_classifiers(d.name)))
    target_classifier = names[direction[-1]]
    if target_classifier is not None:
        result["confidence_threshold"] = confidence
        try:
            result["translated"] = classifier_acceptance(target_classifier, fake, confidence)
        except GankitError as error:  # no shipped weights: the other scores still stand
            result["classifier_error"] = str(error)
            return result
        result["untranslated_inputs"] = classifier_acceptance(target_classifier, source, confidence)
        result["real_targets"] = classifier_acceptance(target_classifier, target, confidence)
    return result
