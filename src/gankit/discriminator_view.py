"""What a discriminator looks at: its first-layer filters and its strongest feature maps for one image.

The DCGAN paper (Radford, Metz & Chintala 2016, Sec. 6.2 and Fig. 5) compares a discriminator's random
filters with its trained ones, and shows the features that fire on an image: trained filters become edge
and blob detectors, random ones stay noise. :func:`discriminator_views` gives both for a run:

- *random init*: D as ``gankit train`` builds it before the first step (``torch.manual_seed(train.seed)``,
  then the nets from the run's config, spectral norm included);
- *trained*: D of the run's latest checkpoint.

For each, the filters of a conv layer (the first by default; only the image's channels of a conditional D
that joins label maps to its input) and the ``k`` output channels of that layer with the largest mean
positive response ``mean(max(0, a))`` to the image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from gankit.config import Config
from gankit.errors import GankitError
from gankit.training.checkpoint import latest_checkpoint, load_checkpoint
from gankit.training.run_dir import RunDir

__all__ = ["DiscriminatorView", "conv_layers", "responses", "most_responsive", "initial_discriminator",
           "trained_discriminator", "discriminator_views"]


@dataclass
class DiscriminatorView:
    name: str  # "random init" or "trained (step N)"
    filters: Tensor  # (F, C, k, k): the layer's effective weights over the image channels
    maps: Tensor  # (k, H, W): the most responsive output channels for the image
    channels: list[int]  # which output channels those are
    scores: list[float]  # their mean positive response


def conv_layers(discriminator: nn.Module) -> list[nn.Conv2d]:
    """D's 2-D convolutions in the order of its modules (its body's order for the DCGAN-style nets)."""
    return [m for m in discriminator.modules() if isinstance(m, nn.Conv2d)]


def _layer(discriminator: nn.Module, layer: int) -> nn.Conv2d:
    convs = conv_layers(discriminator)
    if not 1 <= layer <= len(convs):
        raise GankitError(f"layer {layer} is not one of this discriminator's conv layers 1..{len(convs)}")
    return convs[layer - 1]


@torch.no_grad()
def responses(discriminator: nn.Module, image: Tensor, label: Tensor | None, layer: int = 1) -> Tensor:
    """The output ``(F, H, W)`` of conv ``layer`` (1-based) when D scores ``image`` ``(C, H, W)``."""
    captured: list[Tensor] = []
    hook = _layer(discriminator, layer).register_forward_hook(lambda module, inputs, output: captured.append(output))
    try:
        discriminator(image[None], label)
    finally:
        hook.remove()
    return captured[0][0]


def most_responsive(activations: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """``(channels, scores)``: the ``k`` channels of ``(F, H, W)`` with the largest ``mean(max(0, a))``, best first."""
    scores = activations.clamp_min(0).flatten(1).mean(1)
    top = scores.topk(min(k, scores.numel()))
    return top.indices, top.values


def _discriminator(config: Config, meta: dict) -> nn.Module:
    from gankit.training.loop import build_models

    _, discriminator = build_models(config, tuple(meta["data_shape"]), int(meta.get("num_classes", 0)), torch.device("cpu"))
    return discriminator


def initial_discriminator(config: Config, meta: dict) -> nn.Module:
    """D with the weights ``gankit train`` starts from for this config and seed (module docstring)."""
    torch.manual_seed(config.train.seed)
    return _discriminator(config, meta).eval()


def trained_discriminator(run: RunDir, config: Config, meta: dict) -> tuple[nn.Module, int]:
    """D of the run's latest checkpoint, and that checkpoint's step."""
    checkpoint = latest_checkpoint(run.checkpoints)
    if checkpoint is None:
        raise GankitError(f"{str(run.path)!r} has no checkpoint in {str(run.checkpoints)!r}: the trained discriminator is not saved")
    state = load_checkpoint(checkpoint)
    discriminator = _discriminator(config, meta)
    try:
        discriminator.load_state_dict(state["D"])
    except (KeyError, RuntimeError) as error:
        raise GankitError(f"{str(checkpoint)!r}: its discriminator does not match the run's config ({str(error).splitlines()[0]})") from None
    return discriminator.eval(), int(state["step"])


def _view(name: str, discriminator: nn.Module, image: Tensor, label: Tensor | None, layer: int, k: int) -> DiscriminatorView:
    conv = _layer(discriminator, layer)
    filters = conv.weight.detach()
    if layer == 1:
        filters = filters[:, : image.shape[0]]  # the image's channels, not label maps joined to them
    activations = responses(discriminator, image, label, layer)
    channels, scores = most_responsive(activations, k)
    return DiscriminatorView(name, filters.clone(), activations[channels].clone(), channels.tolist(), scores.tolist())


def discriminator_views(run_dir: str | Path, image: Tensor, label: int | None = None, layer: int = 1,
                        k: int = 8) -> list[DiscriminatorView]:
    """``[random init, trained]`` views of the run's D for ``image`` ``(C, H, W)`` in [-1, 1] (module docstring)."""
    run = RunDir(Path(run_dir))
    config, meta = run.load_config(), run.load_meta()
    shape = tuple(meta["data_shape"])
    if len(shape) != 3:
        raise GankitError(f"{str(run.path)!r} is a vector (toy) run: its discriminator has no filters to show")
    if tuple(image.shape) != shape:
        raise GankitError(f"the image has shape {tuple(image.shape)}, but this run's discriminator takes {shape}")
    if k < 1:
        raise GankitError(f"number of feature maps must be >= 1, got {k}")
    classes = int(meta.get("num_classes", 0)) if config.model.conditional else 0
    if classes and label is None:
        raise GankitError(f"this discriminator is conditional on {classes} classes: give the image's label")
    if label is not None and not 0 <= label < max(classes, 1):
        raise GankitError(f"label {label} is not one of this run's classes 0..{classes - 1}" if classes else
                          "this discriminator is unconditional: leave out the label")
    labels = torch.tensor([label]) if classes else None
    initial = initial_discriminator(config, meta)
    trained, step = trained_discriminator(run, config, meta)
    return [_view("random init", initial, image, labels, layer, k), _view(f"trained (step {step})", trained, image, labels, layer, k)]
