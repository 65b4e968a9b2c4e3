"""Feature nets: the embeddings FID, KID and precision/recall are computed in.

A registry in the style of torch-fidelity: ``get_feature_net("inception", device)`` returns a
:class:`FeatureNet` that maps images in [-1, 1], shape ``(N, C, H, W)``, to ``(N, dim)`` features,
and carries what makes two feature sets comparable: its ``name``, weight ``hash`` and a
``preprocessing`` string (both go into the key of cached real-data statistics).

``"inception"`` is the standard FID network (Heusel et al., 2017) with TensorFlow's preprocessing, and
``"inception-bf16"`` the same net in bfloat16 for quick estimates (its features differ slightly, so it
never shares cached statistics): both in :mod:`gankit.metrics.inception`.

``"mnist"`` and ``"fashion-mnist"`` are domain classifiers' penultimate layers, loaded on first use
from :mod:`gankit.nets.classifier`.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gankit.errors import GankitError
from gankit.registry import Registry

__all__ = [
    "FeatureNet",
    "register_feature_net",
    "get_feature_net",
    "feature_net_names",
    "extract_features",
    "inception_weights_path",
    "state_dict_hash",
    "tf_bilinear_resize",
    "to_uint8_levels",
    "INCEPTION_INSTALL",
]

HASH_CHARS = 12  # a short hash is enough to tell weight files apart in a cache key


@dataclass(eq=False)
class FeatureNet:
    """An embedding of images in [-1, 1] for the distribution metrics.

    Attributes:
        name: registry name (``inception``, ``mnist``...).
        dim: feature dimension.
        hash: short SHA-256 of the weights: cached statistics of different weights never mix.
        preprocessing: the protocol from pixels to features, in words (also part of cache keys).
        device: where the net runs; images are moved there.
        forward: ``(N, C, H, W)`` images on ``device`` -> ``(N, dim)`` features.
        batch_size: a batch size that runs well on ``device`` (used by :func:`extract_features`).
    """

    name: str
    dim: int
    hash: str
    preprocessing: str
    device: torch.device
    forward: Callable[[Tensor], Tensor]
    batch_size: int = 64

    def __call__(self, images: Tensor) -> Tensor:
        """Features ``(N, dim)`` (float32, on :attr:`device`) of images ``(N, C, H, W)`` in [-1, 1]."""
        if not isinstance(images, Tensor) or images.dim() != 4 or not images.is_floating_point():
            got = f"{images.dtype} tensor of shape {tuple(images.shape)}" if isinstance(images, Tensor) else type(images).__name__
            raise GankitError(f"feature net {self.name!r} needs float images (N, C, H, W) in [-1, 1], got a {got}")
        with torch.inference_mode():
            return self.forward(images.to(self.device)).float()


FeatureNetBuilder = Callable[[torch.device], FeatureNet]
# gankit.metrics.inception registers "inception" and "inception-bf16" when imported, on first lookup:
# it imports this module, so it cannot be imported here (and importing this module stays cheap).
_FEATURE_NETS: Registry[FeatureNetBuilder] = Registry("feature net", modules=["gankit.metrics.inception"])


def register_feature_net(name: str):
    """Decorator: ``@register_feature_net("inception")`` over ``build(device) -> FeatureNet``."""
    return _FEATURE_NETS.register(name)


def feature_net_names() -> list[str]:
    return _FEATURE_NETS.names()


def get_feature_net(name: str, device: torch.device | str = "cpu") -> FeatureNet:
    """The feature net called ``name``, built on ``device`` (raises GankitError for an unknown name)."""
    return _FEATURE_NETS.get(name)(torch.device(device))


def state_dict_hash(module: nn.Module) -> str:
    """Short SHA-256 over a module's state dict (names, dtypes, shapes and bytes, in order)."""
    digest = hashlib.sha256()
    for key, value in module.state_dict().items():
        value = value.detach().cpu().contiguous()
        digest.update(f"{key}:{value.dtype}:{tuple(value.shape)};".encode())
        # bytes via uint8 view: numpy has no bfloat16
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:HASH_CHARS]


# --------------------------------------------------------------------------------------------- extraction


def extract_features(
    net: FeatureNet,
    images_or_sampler,
    n: int | None = None,
    batch_size: int | None = None,
    progress: bool = True,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Features ``(n, net.dim)`` (float32, on ``net.device``) of ``n`` images, ``batch_size`` at a time.

    ``images_or_sampler`` is one of:

    * a tensor ``(N, C, H, W)`` in [-1, 1]: its first ``n`` images (all when ``n`` is None);
    * a :class:`~gankit.data.base.Dataset` (anything with ``sample(k, generator)``): ``n`` draws,
      using ``generator`` (default: seeded 0 on the data set's device);
    * a callable ``sample(k) -> images``, e.g. ``lambda k: G(sample_latent(...))``.

    Batches are moved to the net's device (the GPU when the net was built there) and run under
    ``torch.inference_mode``.
    """
    source = images_or_sampler
    if isinstance(source, Tensor):
        if source.dim() != 4:
            raise GankitError(f"extract_features needs images (N, C, H, W), got a tensor of shape {tuple(source.shape)}")
        n = source.shape[0] if n is None else n
        if n > source.shape[0]:
            raise GankitError(f"extract_features: n={n} but only {source.shape[0]} images were given")
        draw = None
    elif hasattr(source, "sample"):
        if generator is None:
            generator = torch.Generator(device=getattr(source, "device", "cpu")).manual_seed(0)
        draw = lambda k: source.sample(k, generator)[0]  # noqa: E731
    elif callable(source):
        draw = source
    else:
        raise GankitError(f"extract_features needs images, a data set or a sampler, got {type(source).__name__}")
    if n is None:
        raise GankitError("extract_features: give n, the number of images to draw from a sampler")
    if n < 1:
        raise GankitError(f"extract_features: n must be positive, got {n}")
    batch_size = batch_size or net.batch_size
    if batch_size < 1:
        raise GankitError(f"extract_features: batch_size must be positive, got {batch_size}")

    features = torch.empty(n, net.dim, device=net.device)
    bar = _progress_bar(n, f"{net.name} features", progress)
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            batch = source[start:stop] if draw is None else draw(stop - start)
            if batch.shape[0] != stop - start:
                raise GankitError(f"extract_features: the sampler returned {batch.shape[0]} images, asked for {stop - start}")
            features[start:stop] = net(batch)
            bar.update(stop - start)
    bar.close()
    return features


def _progress_bar(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img", disable=not enabled, leave=False)


# --------------------------------------------------------------------------------------------- domain classifiers

def _build_classifier_net(device: torch.device, name: str) -> FeatureNet:
    """The penultimate layer of gankit's ``name`` classifier (``gankit.nets.classifier``), imported lazily."""
    try:
        classifier = importlib.import_module("gankit.nets.classifier")
    except ModuleNotFoundError as error:
        if error.name not in ("gankit.nets.classifier", "gankit.nets"):
            raise
        raise GankitError(f"the {name!r} feature net needs the classifier weights, which are missing "
                          "(gankit.nets.classifier is not available)") from None
    model = classifier.load_classifier(name, device)
    model.eval().requires_grad_(False)

    def forward(images: Tensor) -> Tensor:
        return model.features(classifier.classifier_input(images)).flatten(1)

    size = classifier.INPUT_SIZE
    with torch.inference_mode():
        dim = forward(torch.zeros(1, 1, size, size, device=device)).shape[1]
    preprocessing = (f"{name} classifier penultimate layer: x in [-1,1], RGB averaged to gray, "
                     f"bilinear antialiased resize to {size}x{size} when needed, clamped to [-1,1]")
    return FeatureNet(name=name, dim=dim, hash=state_dict_hash(model), preprocessing=preprocessing,
                      device=device, forward=forward, batch_size=500)


@register_feature_net("mnist")
def build_mnist_features(device: torch.device) -> FeatureNet:
    return _build_classifier_net(device, "mnist")


@register_feature_net("fashion-mnist")
def build_fashion_features(device: torch.device) -> FeatureNet:
    return _build_classifier_net(device, "fashion-mnist")


_INCEPTION_NAMES = {"INCEPTION_INSTALL", "INCEPTION_SHA256", "inception_weights_path", "tf_bilinear_resize", "to_uint8_levels"}


def __getattr__(name: str):
    # Inception's helpers live in gankit.metrics.inception (which imports this module); re-exported lazily.
    if name in _INCEPTION_NAMES:
        return getattr(importlib.import_module("gankit.metrics.inception"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
